/**
 * Profile writes whose answer never came (`redis-profile-store.ts`, `runScript`): a command
 * timeout while Redis was blocked, a connection cut between the script reaching Redis and its
 * reply. Before write receipts, the caller was told POLICY_UNAVAILABLE "nothing was changed"
 * about a change that had been made (and was never audited), and ioredis' resend of a cut
 * command ran an `add` twice, refusing the caller's own entry as already there. Real Redis
 * throughout, behind a real TCP proxy that delays or cuts the gateway's connection.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors/codes.js';
import { createRedisConnection, evalScript, waitUntilReady } from '../../src/store/redis-client.js';
import { invalidationChannel, projectKeys } from '../../src/store/redis-keys.js';
import { SETTLE_WRITE, UPSERT_ENTRY } from '../../src/store/redis-profile-scripts.js';
import {
  createRedisProfileStore,
  UNCERTAIN_WRITE_MESSAGE,
} from '../../src/store/redis-profile-store.js';
import { startRedisProxy, type RedisProxy } from '../helpers/redis-proxy.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { projectEntry } from '../helpers/entries.js';

const PROJECT = 42;

const entry = projectEntry;

describe('profile writes whose answer never came', () => {
  let server: TestRedis;
  let admin: Redis;
  const keys = projectKeys(PROJECT);

  const version = async () => Number((await admin.get(keys.version)) ?? 0);
  const receipts = async () => {
    const found = await admin.keys(`${keys.receiptPrefix}*`);
    return Promise.all(found.map((k) => admin.get(k)));
  };

  let proxy: RedisProxy;
  /** Reads through Redis directly, with a patient connection. */
  let reader: ReturnType<typeof createRedisProfileStore>;

  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.port, '127.0.0.1', { commandTimeout: 10_000 });
    reader = createRedisProfileStore({ redis: admin });
    proxy = await startRedisProxy(server.port);
  });
  afterAll(async () => {
    admin.disconnect();
    await proxy.close();
    await server.stop();
  });
  beforeEach(async () => {
    await admin.flushall();
  });

  /** A store behind the proxy with a short command timeout. */
  async function storeWith(commandTimeoutMs?: number, extra: { settleWithinMs?: number } = {}) {
    const redis = createRedisConnection({
      url: proxy.url,
      ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }),
    });
    await waitUntilReady(redis);
    const uncertain: { projectId: number; writeId: string }[] = [];
    const store = createRedisProfileStore({
      redis,
      ...extra,
      onUncertainWrite: (w) => uncertain.push(w),
    });
    return { store, redis, uncertain };
  }

  const sources = async () => (await reader.get(PROJECT))?.entries.map((e) => e.sourceId);

  it('reports a write Redis made after the command timed out as made, once', async () => {
    const { store, redis, uncertain } = await storeWith(150);
    try {
      await store.addEntry(PROJECT, entry(1));
      expect(await version()).toBe(1);
      // The add reaches Redis 400 ms late: it times out at 150 ms, then runs.
      proxy.delayNext('e:P:2', 400);
      expect(await store.addEntry(PROJECT, entry(2))).toBe(2);
      expect(await version()).toBe(2);
      expect(await sources()).toEqual([1, 2]);
      // The same for a batch, whose script answers `{version}` (once Redis has the script: a
      // first EVALSHA that comes late is refused with NOSCRIPT, and settled as not made).
      await store.addEntries(PROJECT, [entry(3)]);
      proxy.delayNext('e:P:4', 400);
      expect(await store.addEntries(PROJECT, [entry(4), entry(5)])).toBe(4);
      expect(await version()).toBe(4);
      expect(await sources()).toEqual([1, 2, 3, 4, 5]);
      expect(await receipts()).toEqual(expect.arrayContaining(['2', '4']));
      expect(uncertain).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('says the change may have been made when neither the write nor its settling is answered', async () => {
    const { store, redis, uncertain } = await storeWith(100, { settleWithinMs: 300 });
    try {
      await store.setEnforcement(PROJECT, 'ENFORCED');
      // The write, and every settling attempt behind it, reach Redis 1.5 s late.
      proxy.delayNext('AUDIT', 1_500);
      const err = await store.setEnforcement(PROJECT, 'AUDIT').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).extensions['code']).toBe('POLICY_UNAVAILABLE');
      expect((err as GatewayError).message).toBe(UNCERTAIN_WRITE_MESSAGE);
      expect(uncertain).toHaveLength(1);
      expect(uncertain[0]?.projectId).toBe(PROJECT);
      // It was made, as the answer allowed, and its receipt (named to the operator) says so.
      const receipt = `${keys.receiptPrefix}${uncertain[0]?.writeId}`;
      const deadline = Date.now() + 5_000;
      while ((await admin.get(receipt)) === null && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(await admin.get(receipt)).toBe('2');
      expect((await reader.get(PROJECT))?.enforcement).toBe('AUDIT');
    } finally {
      redis.disconnect();
    }
  });

  it('settles a write that never ran as not made: nothing changed, and it cannot land later', async () => {
    const { store, redis, uncertain } = await storeWith(150);
    try {
      await store.addEntry(PROJECT, entry(1));
      // Redis forgets its scripts, so the late remove is refused with NOSCRIPT: it never runs.
      await admin.script('FLUSH');
      proxy.delayNext('e:P:1', 400);
      const err = await store.removeEntry(PROJECT, 'PROJECT', 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).extensions['code']).toBe('POLICY_UNAVAILABLE');
      expect((err as GatewayError).message).not.toBe(UNCERTAIN_WRITE_MESSAGE);
      expect(await version()).toBe(1);
      expect(await sources()).toEqual([1]);
      // Its receipt is void: were the remove sent again, it would be refused.
      expect((await receipts()).sort()).toEqual(['1', 'void']);
      expect(uncertain).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('does not run an add twice when its connection is cut after the send', async () => {
    const { store, redis } = await storeWith();
    try {
      await store.addEntry(PROJECT, entry(1));
      // The add reaches Redis and runs; the reply is lost with the connection.
      proxy.cutAfterNext('e:P:2');
      expect(await store.addEntry(PROJECT, entry(2))).toBe(2);
      expect(await version()).toBe(2);
      expect(await sources()).toEqual([1, 2]);
    } finally {
      redis.disconnect();
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
