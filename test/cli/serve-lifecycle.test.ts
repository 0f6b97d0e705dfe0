/**
 * `scopegate serve --demo` as a real process: SIGTERM while a request is in flight (its body
 * still arriving) lets that request complete, refuses new connections, and exits 0; an
 * unhandled rejection exits non-zero with one JSON line that does not quote the error message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sg-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function waitForOutput(child: ChildProcess, pattern: RegExp, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in: ${text}`)), ms);
    child.stdout?.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('scopegate serve lifecycle', () => {
  it('drains an in-flight request on SIGTERM, refuses new connections, and exits 0', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--demo'],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          PORT: String(port),
          SCOPEGATE_DEV_KEY_FILE: join(dir, 'dev-key.json'),
          SCOPEGATE_SHUTDOWN_GRACE_MS: '5000',
          SCOPEGATE_LOG_LEVEL: 'silent',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exited = exitOf(child);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    await waitForOutput(child, /scopegate listening: http:\/\/127\.0\.0\.1:\d+\/graphql/);

    // A request whose body is still arriving: in flight from the server's point of view.
    const body = JSON.stringify({ query: '{ __typename }' });
    const socket = await open(port);
    let response = '';
    socket.on('data', (c: Buffer) => (response += c.toString('utf8')));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 5)}`,
    );
    await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    await expect(open(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    socket.write(body.slice(5));
    await ended;
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain('{"data":{"__typename":"Query"}}');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/shutting down; waiting up to 5000 ms/);
  });

  it('exits non-zero on an unhandled rejection, logging where but not the message', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        "import('./src/cli/crash.ts').then((m) => { m.installCrashHandlers(); void Promise.reject(new TypeError('Bearer eyJsecret')); })",
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    expect(await exitOf(child)).toBe(70);
    const line = JSON.parse(stderr.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({ event: 'process.unhandled_rejection', error: 'TypeError' });
    expect(stderr).not.toContain('eyJsecret');
  });
});
