/**
 * The test Redis helper itself: a process that starts a server and then dies of an uncaught
 * error (never reaching its `stop()`) must not leave `redis-server` running.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** Whether something answers PING on the port (a raw socket: no client library retries). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1_000, () => socket.destroy());
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('close', () => resolve(false));
    socket.once('error', () => resolve(false));
  });
}

describe('startRedis', () => {
  it(
    'kills the servers of a process that exits without stopping them',
    { timeout: 30_000 },
    async () => {
      const script = [
        "import { startRedis } from './test/helpers/redis.ts';",
        'const r = await startRedis();',
        'console.log(r.port);',
        "throw new Error('crash before stop()');",
      ].join('\n');
      const err = await run(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: process.cwd(),
        },
      ).catch((e: { code?: number; stdout?: string }) => e);
      expect((err as { code?: number }).code).toBe(1);
      const port = Number(String((err as { stdout?: string }).stdout).trim());
      expect(port).toBeGreaterThan(0);
      const left = await answers(port);
      // Should it be left running after all, stop it, so a failing run leaves nothing either.
      if (left) connect(port, '127.0.0.1').end('SHUTDOWN NOSAVE\r\n');
      expect(left).toBe(false);
    },
  );
});
