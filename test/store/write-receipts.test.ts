/**
 * Profile writes whose answer never came (`redis-profile-store.ts`, `runScript`): a command
 * timeout while Redis was blocked, a connection cut between the script reaching Redis and its
 * reply. Before write receipts, the caller was told POLICY_UNAVAILABLE "nothing was changed"
 * about a change that had been made (and was never audited), and ioredis' resend of a cut
 * command ran an `add` twice, refusing the caller's own entry as already there. Real Redis
 * throughout; the cut is a real TCP proxy that closes the gateway's side of the connection.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/codes.js';
import type { AllowlistEntry } from '../../src/policy/types.js';
import { createRedisConnection, evalScript, waitUntilReady } from '../../src/store/redis-client.js';
import { invalidationChannel, projectKeys } from '../../src/store/redis-keys.js';
import { SETTLE_WRITE, UPSERT_ENTRY } from '../../src/store/redis-profile-scripts.js';
import {
  createRedisProfileStore,
  UNCERTAIN_WRITE_MESSAGE,
} from '../../src/store/redis-profile-store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const PROJECT = 42;

const entry = (sourceId: number): AllowlistEntry => ({
  sourceId,
  sourceKind: 'PROJECT',
  sourcePath: `acme/p${sourceId}`,
  defaultPermissions: false,
  permissions: { RELEASES: 'READ' },
  protectedRefsOnly: false,
  boundToUserRole: true,
});

/**
 * A TCP proxy in front of Redis. `cutAfterNext(marker)`: the next client chunk that contains
 * `marker` is passed on to Redis, and then the client's side of that connection is closed
 * before any reply, as a network cut after the send would.
 */
async function startCutProxy(redisPort: number) {
  let marker: string | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      if (marker !== undefined && chunk.includes(marker)) {
        marker = undefined;
        client.destroy();
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.destroyed) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      // Redis still answers what reached it; the reply goes nowhere.
      setTimeout(() => upstream.destroy(), 200);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', () => client.destroy()).on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cutAfterNext(m: string) {
      marker = m;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('profile writes whose answer never came', () => {
  let server: TestRedis;
  let admin: Redis;
  const keys = projectKeys(PROJECT);

  const version = async () => Number((await admin.get(keys.version)) ?? 0);
  const receipts = async () => {
    const found = await admin.keys(`${keys.receiptPrefix}*`);
    return Promise.all(found.map((k) => admin.get(k)));
  };

  beforeAll(async () => {
    server = await startRedis({ args: ['--enable-debug-command', 'yes'] });
    admin = new Redis(server.port, '127.0.0.1', { commandTimeout: 10_000 });
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });
  beforeEach(async () => {
    await admin.flushall();
  });

  /** A store on its own connection with a short command timeout. */
  async function storeWith(commandTimeoutMs: number, extra: { settleWithinMs?: number } = {}) {
    const redis = createRedisConnection({ url: server.url, commandTimeoutMs });
    await waitUntilReady(redis);
    const uncertain: { projectId: number; writeId: string }[] = [];
    const store = createRedisProfileStore({
      redis,
      ...extra,
      onUncertainWrite: (w) => uncertain.push(w),
    });
    return { store, redis, uncertain };
  }

  it('reports a write Redis made after the command timed out as made, once', async () => {
    const { store, redis, uncertain } = await storeWith(150);
    try {
      await store.addEntry(PROJECT, entry(1));
      expect(await version()).toBe(1);
      // Redis is blocked for 400 ms: the write times out at 150 ms but runs when Redis wakes.
      const sleeping = admin.call('DEBUG', 'SLEEP', '0.4');
      await new Promise((r) => setTimeout(r, 30));
      const answered = await store.addEntry(PROJECT, entry(2));
      await sleeping;
      expect(answered).toBe(2);
      expect(await version()).toBe(2);
      expect((await store.get(PROJECT))?.entries.map((e) => e.sourceId)).toEqual([1, 2]);
      expect(await receipts()).toEqual(expect.arrayContaining(['1', '2']));
      expect(uncertain).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('says the change may have been made when neither the write nor its settling is answered', async () => {
    const { store, redis, uncertain } = await storeWith(100, { settleWithinMs: 300 });
    try {
      // Redis has the script from here on (a first EVALSHA would be refused with NOSCRIPT).
      await store.setEnforcement(PROJECT, 'ENFORCED');
      const sleeping = admin.call('DEBUG', 'SLEEP', '1');
      await new Promise((r) => setTimeout(r, 30));
      const err = await store.setEnforcement(PROJECT, 'AUDIT').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).extensions['code']).toBe('POLICY_UNAVAILABLE');
      expect((err as GatewayError).message).toBe(UNCERTAIN_WRITE_MESSAGE);
      expect(uncertain).toHaveLength(1);
      expect(uncertain[0]?.projectId).toBe(PROJECT);
      await sleeping;
      // It was made, as the answer allowed, and its receipt (named to the operator) says so.
      await new Promise((r) => setTimeout(r, 50));
      expect((await store.get(PROJECT))?.enforcement).toBe('AUDIT');
      expect(await admin.get(`${keys.receiptPrefix}${uncertain[0]?.writeId}`)).toBe('2');
    } finally {
      redis.disconnect();
    }
  });

  it('does not run an add twice when its connection is cut after the send', async () => {
    const proxy = await startCutProxy(server.port);
    const redis = createRedisConnection({ url: `redis://127.0.0.1:${proxy.port}` });
    await waitUntilReady(redis);
    const store = createRedisProfileStore({ redis });
    try {
      await store.addEntry(PROJECT, entry(1));
      // The add reaches Redis and runs; the reply is lost with the connection.
      proxy.cutAfterNext('e:P:2');
      const answered = await store.addEntry(PROJECT, entry(2));
      expect(answered).toBe(2);
      expect(await version()).toBe(2);
      expect((await store.get(PROJECT))?.entries.map((e) => e.sourceId)).toEqual([1, 2]);
    } finally {
      redis.disconnect();
      await proxy.close();
    }
  });

  it('a write settled as not made can never be made afterwards; one that was made is not made again', async () => {
    const run = (receipt: string, source: number) =>
      evalScript(
        admin,
        UPSERT_ENTRY,
        [keys.profile, keys.version, receipt],
        [
          invalidationChannel(),
          String(PROJECT),
          `e:P:${source}`,
          JSON.stringify(entry(source)),
          '200',
          'ENFORCED',
          'add',
          '',
        ],
      );
    const voided = `${keys.receiptPrefix}lost`;
    expect(await evalScript(admin, SETTLE_WRITE, [voided], [])).toBe('void');
    // The lost write arriving late (a resend after a reconnect) is refused, and writes nothing.
    expect(await run(voided, 7)).toBe(-5);
    expect(await admin.exists(keys.profile, keys.version)).toBe(0);

    const made = `${keys.receiptPrefix}made`;
    expect(await run(made, 8)).toBe(1);
    // A second run of the same write answers what the first made.
    expect(await run(made, 8)).toBe(1);
    expect(await evalScript(admin, SETTLE_WRITE, [made], [])).toBe('1');
    expect(await version()).toBe(1);
    expect(await admin.ttl(made)).toBeGreaterThan(500);
  });
});
