import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDemoUpstreamCommand } from '../../src/demo/cli.js';
import { SCENARIOS_PATH } from './fixtures.js';

const CLI_MODULE = fileURLToPath(new URL('../../src/demo/cli.ts', import.meta.url));

/** Runs the command in a child process (it owns its signal handlers) and waits for its URL. */
async function startCli(args: string[]) {
  const script = `import { runDemoUpstreamCommand } from ${JSON.stringify(CLI_MODULE)};
await runDemoUpstreamCommand(process.argv.slice(1));`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  return { child, url, output: () => stdout };
}

describe('scopegate demo-upstream', () => {
  it('prints the URL, serves the seed with the given token, and stops cleanly on SIGTERM', async () => {
    const { child, url, output } = await startCli([
      'demo-upstream',
      '--seed',
      SCENARIOS_PATH,
      '--token',
      'cli-secret',
    ]);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v4$/);
    const res = await fetch(`${url}/projects/${encodeURIComponent('globex/portal')}`, {
      headers: { 'PRIVATE-TOKEN': 'cli-secret' },
    });
    expect(res.status).toBe(200);
    expect(output()).not.toContain('cli-secret');
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('serves the shipped demo seed by default', async () => {
    const { child, url } = await startCli([]);
    const res = await fetch(`${url}/projects/${encodeURIComponent('acme/apps/web')}/releases`, {
      headers: { 'PRIVATE-TOKEN': 'demo-upstream-token' },
    });
    expect(res.headers.get('x-total')).toBe('30');
    child.kill('SIGINT');
    expect(((await once(child, 'exit')) as [number | null])[0]).toBe(0);
  });

  it('sends every answer --latency ms after making it', async () => {
    const { child, url } = await startCli(['--latency', '300']);
    const started = performance.now();
    const res = await fetch(`${url}/projects/${encodeURIComponent('acme/apps/web')}`, {
      headers: { 'PRIVATE-TOKEN': 'demo-upstream-token' },
    });
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    child.kill('SIGTERM');
    expect(((await once(child, 'exit')) as [number | null])[0]).toBe(0);
  });

  it('refuses bad options and a bad seed before starting, naming the problem', async () => {
    await expect(runDemoUpstreamCommand(['--port', 'http'])).rejects.toThrow(
      '"--port" must be an integer from 0 to 65535',
    );
    for (const bad of ['-1', '1.5', 'soon', '60001'])
      await expect(runDemoUpstreamCommand([`--latency=${bad}`])).rejects.toThrow(
        '"--latency" must be an integer from 0 to 60000',
      );
    await expect(runDemoUpstreamCommand(['--bogus'])).rejects.toThrow(/--bogus/);
    await expect(runDemoUpstreamCommand(['--seed', '/nonexistent.json'])).rejects.toThrow(
      /Cannot read demo seed/,
    );
  });
});
