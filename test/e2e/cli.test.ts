/**
 * The `scopegate` command as a user runs it: spawned with tsx, configured by environment only.
 * Spawning is slow (a few seconds each under tsx), so every process starts at once in
 * `beforeAll`, side by side, and the tests await what they need.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, startCli, type Cli } from '../helpers/cli.js';
import { freePort } from '../helpers/redis.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

const JWT = /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/;

async function graphql(
  url: string,
  query: string,
  token?: string,
): Promise<{ status: number; body: { data?: unknown; errors?: unknown[] } }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: unknown[] } };
}

const WEB_RELEASES =
  '{ project(fullPath: "acme/apps/web") { releases(first: 1) { nodes { tagName } } } }';
const WEB_FIRST_RELEASE = { data: { project: { releases: { nodes: [{ tagName: 'v1.29.0' }] } } } };

type Run = Awaited<ReturnType<typeof runCli>>;

const UPSTREAM_SECRET = 'glpat-upstream-secret-value';
const WEBHOOK_SECRET = 'webhook-secret-value';

let dir: string;
let keyFile: string;
let demo: Cli;
let scenarioDemo: Cli;
let upstreamCli: Cli;
let port: number;
let upstreamPort: number;
let graphqlUrl: string;
let scenarioUrl: string;
let minted: Promise<Run>;
let mintRefused: Promise<Run>;
let printConfig: Promise<Run>;
let missingSetting: Promise<Run>;
let help: Promise<Run>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scopegate-cli-'));
  keyFile = join(dir, 'dev-key.json');
  [port, upstreamPort] = await Promise.all([freePort(), freePort()]);
  demo = startCli(
    ['serve', '--demo'],
    cleanEnv({ PORT: String(port), SCOPEGATE_DEV_KEY_FILE: keyFile }),
  );
  // This one runs as an operator starts it: no NODE_ENV at all (the others inherit vitest's).
  const noNodeEnv = cleanEnv({ PORT: '0', SCOPEGATE_DEV_KEY_FILE: join(dir, 'scenario-key.json') });
  delete noNodeEnv['NODE_ENV'];
  scenarioDemo = startCli(['serve', '--demo', '--seed', SCENARIOS_PATH], noNodeEnv);
  upstreamCli = startCli(
    ['demo-upstream', '--seed', SCENARIOS_PATH, '--port', String(upstreamPort)],
    cleanEnv(),
  );
  // Refused before any key is read, so it need not wait for the demo.
  mintRefused = runCli(
    ['token', 'mint', '--project', 'acme/apps/web', '--user', 'bob'],
    cleanEnv({ SCOPEGATE_DEV_KEY_FILE: keyFile, REDIS_URL: 'redis://127.0.0.1:1' }),
  );
  printConfig = runCli(
    ['serve', '--print-config'],
    cleanEnv({
      SCOPEGATE_UPSTREAM_URL: 'http://forge.internal/api/v4',
      SCOPEGATE_UPSTREAM_TOKEN: UPSTREAM_SECRET,
      SCOPEGATE_JWKS_URL: 'https://forge.internal/oauth/discovery/keys',
      SCOPEGATE_ISSUER: 'https://forge.internal',
      SCOPEGATE_AUDIENCE: 'scopegate',
      SCOPEGATE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      REDIS_URL: 'redis://user:redis-password@redis.internal:6379',
    }),
  );
  missingSetting = runCli(['serve'], cleanEnv());
  help = runCli(['--help'], cleanEnv());
  const url = /scopegate listening: (http:\/\/\S+)/;
  [graphqlUrl, scenarioUrl] = (
    await Promise.all([
      demo.waitFor(url),
      scenarioDemo.waitFor(url),
      // The banner is written in one piece; its end is the curl example.
      demo.waitFor(/curl -s/),
    ])
  ).map((m) => m[1] ?? '');
  // The demo has written its dev key file by now.
  minted = runCli(
    ['token', 'mint', '--project', 'acme/apps/web', '--user', 'bob', '--protected'],
    cleanEnv({ SCOPEGATE_DEV_KEY_FILE: keyFile }),
  );
});

afterAll(async () => {
  for (const c of [demo, scenarioDemo, upstreamCli])
    if (c.child.exitCode === null) c.child.kill('SIGTERM');
  await Promise.all([demo.exited, scenarioDemo.exited, upstreamCli.exited, minted, help]);
  rmSync(dir, { recursive: true, force: true });
});

describe('scopegate serve --demo', () => {
  it('prints the GraphQL URL on the configured port and example tokens, one of which works', async () => {
    expect(graphqlUrl).toBe(`http://127.0.0.1:${port}/graphql`);
    const lines = demo.stdout().split('\n');
    const tokens = lines.filter((l) => JWT.test(l.trim()));
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    // The first example is the remediator bot's job, allowlisted on acme/apps/web by identity.
    expect(lines.some((l) => l.startsWith('# job in acme/bots/remediator'))).toBe(true);
    const res = await graphql(graphqlUrl, WEB_RELEASES, tokens[0]?.trim());
    expect(res).toEqual({ status: 200, body: WEB_FIRST_RELEASE });
    expect(demo.stdout()).not.toContain('demo-upstream-token');
  });

  it('serves in production mode unless NODE_ENV says otherwise, and says which', async () => {
    expect((await scenarioDemo.waitFor(/scopegate listening: \S+ \(NODE_ENV=(\w*)\)/))[1]).toBe(
      'production',
    );
    expect((await demo.waitFor(/scopegate listening: \S+ \(NODE_ENV=(\w*)\)/))[1]).toBe('test');
  });

  it('refuses a token the demo did not sign with 401', async () => {
    const res = await graphql(graphqlUrl, WEB_RELEASES, 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln');
    expect(res.status).toBe(401);
  });

  it('loads the scenario world with --seed (acme/oss-lib is public, reachable anonymously)', async () => {
    const res = await graphql(
      scenarioUrl,
      '{ project(fullPath: "acme/oss-lib") { fullPath visibility } }',
    );
    expect(res).toEqual({
      status: 200,
      body: { data: { project: { fullPath: 'acme/oss-lib', visibility: 'public' } } },
    });
  });

  it('mints with "token mint" a job token the running demo accepts, using its dev key file', async () => {
    expect(existsSync(keyFile)).toBe(true);
    const res = await minted;
    expect(res.code, res.stderr).toBe(0);
    const token = res.stdout.trim();
    expect(token).toMatch(JWT);
    expect(await graphql(graphqlUrl, WEB_RELEASES, token)).toEqual({
      status: 200,
      body: WEB_FIRST_RELEASE,
    });
  });

  it('refuses "token mint" when REDIS_URL is set, naming it, and prints no token', async () => {
    const res = await mintRefused;
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('REDIS_URL');
  });

  it('stops on SIGTERM with exit code 0', async () => {
    await minted;
    demo.child.kill('SIGTERM');
    expect(await demo.exited).toBe(0);
    await expect(fetch(graphqlUrl)).rejects.toThrow();
  });
});

describe('scopegate serve without --demo', () => {
  it('prints the configuration with --print-config, secrets redacted', async () => {
    const res = await printConfig;
    expect(res.code, res.stderr).toBe(0);
    const out = res.stdout + res.stderr;
    for (const s of [UPSTREAM_SECRET, WEBHOOK_SECRET, 'redis-password'])
      expect(out).not.toContain(s);
    const config = JSON.parse(res.stdout) as { upstream: { url: string; token: string } };
    expect(config.upstream).toMatchObject({
      url: 'http://forge.internal/api/v4',
      token: '[redacted]',
    });
  });

  it('exits non-zero with one line naming the missing setting', async () => {
    const res = await missingSetting;
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"SCOPEGATE_UPSTREAM_URL" is required');
  });
});

describe('scopegate --help', () => {
  it('lists every command with every flag it takes', async () => {
    const res = await help;
    expect(res.code, res.stderr).toBe(0);
    const line = (command: string): string =>
      res.stdout.split('\n').find((l) => l.trim().startsWith(`scopegate ${command} `)) ?? '';
    for (const flag of ['--project', '--user', '--protected', '--permissions', '--seed FILE'])
      expect(line('token mint'), flag).toContain(flag);
    expect(line('token mint')).toContain('--expires-in SECONDS');
    for (const flag of ['--source', '--target', '--user', '--protected', '--demo', '--json'])
      expect(line('check'), flag).toContain(flag);
    for (const flag of ['--seed FILE', '--policy FILE', '--config FILE'])
      expect(line('check'), flag).toContain(flag);
  });
});

describe('scopegate demo-upstream', () => {
  it('serves the seed on the given port to callers with the PRIVATE-TOKEN only', async () => {
    const [, url] = await upstreamCli.waitFor(/listening on (http:\/\/\S+)/);
    expect(url).toBe(`http://127.0.0.1:${upstreamPort}/api/v4`);
    const project = `${url}/projects/${encodeURIComponent('acme/oss-lib')}`;
    const ok = await fetch(project, { headers: { 'PRIVATE-TOKEN': 'demo-upstream-token' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ path_with_namespace: 'acme/oss-lib' });
    expect((await fetch(project)).status).toBe(401);
    upstreamCli.child.kill('SIGTERM');
    expect(await upstreamCli.exited).toBe(0);
  });
});
