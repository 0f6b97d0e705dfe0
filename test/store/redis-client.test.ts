import { afterEach, describe, expect, it } from 'vitest';
import {
  createRedisConnection,
  persistenceWarning,
  pingRedis,
  waitUntilReady,
  type RedisConnection,
} from '../../src/store/redis-client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

describe('Redis connections', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function connect(
    args: string[] = [],
  ): Promise<{ server: TestRedis; conn: RedisConnection }> {
    const server = await startRedis({ args });
    cleanup.push(() => server.stop());
    const conn = createRedisConnection({ url: server.url, maxReconnectDelayMs: 100 });
    cleanup.push(() => conn.disconnect());
    await waitUntilReady(conn);
    return { server, conn };
  }

  it('warns when neither AOF nor RDB snapshots are on', async () => {
    const { conn } = await connect();
    expect(await persistenceWarning(conn)).toMatch(/persistence is off.*appendonly yes/);
  });

  it('does not warn when AOF is on', async () => {
    const { conn } = await connect(['--appendonly', 'yes']);
    expect(await persistenceWarning(conn)).toBeUndefined();
  });

  it('stays quiet when CONFIG is disabled, since nothing can be said', async () => {
    const { conn } = await connect(['--rename-command', 'CONFIG', '']);
    expect(await persistenceWarning(conn)).toBeUndefined();
  });

  it('fails a command at once while Redis is down instead of queueing it, and reconnects by itself', async () => {
    const { server, conn } = await connect();
    await server.kill();
    const start = Date.now();
    await expect(conn.get('k')).rejects.toThrow();
    expect(Date.now() - start).toBeLessThan(200);
    expect(await pingRedis(conn)).toBe(false);
    await server.restart();
    const back = Date.now();
    while (!(await pingRedis(conn))) {
      expect(Date.now() - back).toBeLessThan(2_000);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('leaves subscribing again after a reconnect to the subscriber, so a refused SUBSCRIBE is never an unhandled rejection', async () => {
    const { server, conn: admin } = await connect();
    await admin.call('ACL', 'SETUSER', 'sub', 'on', '>pw', '~*', '&ch', '+@all');
    // ioredis's own re-subscription has no rejection handler: one refused or cut short (here
    // refused: the channel is no longer the user's) ended the process with `unhandledRejection`.
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    cleanup.push(() => void process.off('unhandledRejection', onUnhandled));
    const sub = createRedisConnection({
      url: server.url.replace('redis://', 'redis://sub:pw@'),
      subscriber: true,
      maxReconnectDelayMs: 50,
    });
    cleanup.push(() => sub.disconnect());
    await sub.subscribe('ch');
    let reconnected = 0;
    sub.on('ready', () => void (reconnected += 1));
    // Taking the channel away closes the subscriber's connection; it reconnects by itself.
    await admin.call('ACL', 'SETUSER', 'sub', 'resetchannels');
    const start = Date.now();
    while (reconnected === 0) {
      expect(Date.now() - start).toBeLessThan(2_000);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(unhandled).toEqual([]);
    // The subscriber's own SUBSCRIBE gets the refusal, as a rejection it handles.
    await expect(sub.subscribe('ch')).rejects.toThrow(/NOPERM/);
  });

  it('refuses a configuration with neither a URL nor cluster nodes', () => {
    expect(() => createRedisConnection({})).toThrow(/exactly one/);
  });
});
