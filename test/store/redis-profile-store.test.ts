import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AllowlistEntry } from '../../src/policy/types.js';
import { createRedisConnection, waitUntilReady } from '../../src/store/redis-client.js';
import {
  createRedisProfileStore,
  EntryConflictError,
  EntryExistsError,
  EntryLimitError,
  EntryNotFoundError,
  type RedisProfileStore,
} from '../../src/store/redis-profile-store.js';
import { createMemoryProfileStore } from '../../src/store/profile-store.js';
import { invalidationChannel, projectKeys } from '../../src/store/redis-keys.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { projectEntry } from '../helpers/entries.js';

const entry = projectEntry;

describe('Redis profile store', () => {
  let server: TestRedis;
  let redis: Redis;
  let store: RedisProfileStore;

  beforeAll(async () => {
    server = await startRedis();
    redis = createRedisConnection({ url: server.url }) as Redis;
    await waitUntilReady(redis);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });
  beforeEach(async () => {
    await redis.flushall();
    store = createRedisProfileStore({ redis, maxProjectEntries: 5, maxGroupEntries: 3 });
  });

  it('returns undefined for a project that has no profile', async () => {
    expect(await store.get(1)).toBeUndefined();
  });

  it('writes whole profiles and entry batches past what one Lua unpack takes (8 000 values)', async () => {
    // SCOPEGATE_MAX_PROJECT_ENTRIES and _GROUP_ENTRIES go up to 10 000 each.
    const big = createRedisProfileStore({ redis, maxProjectEntries: 10_000 });
    const many = (from: number, n: number) => Array.from({ length: n }, (_, i) => entry(from + i));
    const put = await big.put({ projectId: 7, enforcement: 'ENFORCED', entries: many(1, 4_500) });
    expect(put.entries).toHaveLength(4_500);
    await big.addEntries(8, many(1, 4_500), { expectedVersion: null, enforcement: 'AUDIT' });
    expect(await big.get(8)).toMatchObject({ enforcement: 'AUDIT' });
    expect((await big.get(8))?.entries).toHaveLength(4_500);
    // Refused at the limit before anything is written: no profile appears.
    await expect(big.addEntries(9, many(1, 10_001))).rejects.toBeInstanceOf(EntryLimitError);
    expect(await big.get(9)).toBeUndefined();
  });

  it('keeps every one of 50 concurrent entry additions and gives each write its own version', async () => {
    const wide = createRedisProfileStore({ redis });
    const versions = await Promise.all(
      Array.from({ length: 50 }, (_, i) => wide.addEntry(7, entry(100 + i))),
    );
    const profile = await wide.get(7);
    expect(profile?.entries.map((e) => e.sourceId).sort()).toEqual(
      Array.from({ length: 50 }, (_, i) => 100 + i),
    );
    expect(new Set(versions).size).toBe(50);
    expect(profile?.version).toBe(Math.max(...versions));
    expect(profile?.enforcement).toBe('ENFORCED');
  });

  it('increases the version on every kind of write', async () => {
    const v1 = await store.addEntry(3, entry(10));
    const v2 = await store.updateEntry(3, entry(10, { permissions: { RELEASES: 'WRITE' } }));
    const v3 = await store.setEnforcement(3, 'AUDIT');
    const v4 = await store.removeEntry(3, 'PROJECT', 10);
    const v5 = (await store.put({ projectId: 3, enforcement: 'DISABLED', entries: [] })).version;
    expect([v1, v2, v3, v4, v5]).toEqual([1, 2, 3, 4, 5]);
    expect(await store.get(3)).toEqual({
      projectId: 3,
      enforcement: 'DISABLED',
      entries: [],
      version: 5,
    });
  });

  it('refuses a project entry beyond the limit with a typed error and keeps the profile unchanged', async () => {
    for (let i = 0; i < 5; i++) await store.addEntry(4, entry(i));
    const err = await store.addEntry(4, entry(99)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EntryLimitError);
    expect(err).toMatchObject({ sourceKind: 'PROJECT', limit: 5 });
    expect((await store.get(4))?.entries).toHaveLength(5);
    expect((await store.get(4))?.version).toBe(5);
    // Group entries have their own limit.
    await store.addEntry(4, entry(1, { sourceKind: 'GROUP', sourcePath: 'acme' }));
  });

  it('limits group entries separately, also for put and replaceAll', async () => {
    const groups = Array.from({ length: 4 }, (_, i) =>
      entry(i, { sourceKind: 'GROUP', sourcePath: `g${i}` }),
    );
    await expect(
      store.put({ projectId: 5, enforcement: 'ENFORCED', entries: groups }),
    ).rejects.toBeInstanceOf(EntryLimitError);
    await expect(
      store.replaceAll([{ projectId: 5, enforcement: 'ENFORCED', entries: groups }]),
    ).rejects.toBeInstanceOf(EntryLimitError);
    expect(await store.get(5)).toBeUndefined();
  });

  it('tells an existing entry and a missing entry apart', async () => {
    await store.addEntry(6, entry(1));
    await expect(store.addEntry(6, entry(1))).rejects.toBeInstanceOf(EntryExistsError);
    await expect(store.updateEntry(6, entry(2))).rejects.toBeInstanceOf(EntryNotFoundError);
    await expect(store.removeEntry(6, 'GROUP', 1)).rejects.toBeInstanceOf(EntryNotFoundError);
    expect((await store.get(6))?.version).toBe(1);
  });

  it('updates an entry only at the version the caller read, when one is given (Redis and memory)', async () => {
    const memory = createMemoryProfileStore();
    for (const s of [store, memory]) {
      await s.addEntry(7, entry(1));
      const read = (await s.get(7))?.version ?? 0;
      await s.addEntry(7, entry(2)); // another write in between
      await expect(
        s.updateEntry(7, entry(1, { protectedRefsOnly: true }), read),
      ).rejects.toBeInstanceOf(EntryConflictError);
      const now = await s.get(7);
      expect(now?.version).toBe(read + 1);
      expect(now?.entries.find((e) => e.sourceId === 1)?.protectedRefsOnly).toBe(false);
      const v = await s.updateEntry(7, entry(1, { protectedRefsOnly: true }), now?.version);
      expect(v).toBe(read + 2);
      // Without an expected version the write is unconditional, as before.
      expect(await s.updateEntry(7, entry(1))).toBe(read + 3);
    }
  });

  it('publishes <projectId>:<version> on every write and tells local listeners at once', async () => {
    const sub = redis.duplicate();
    const messages: string[] = [];
    sub.on('message', (_c: string, m: string) => messages.push(m));
    await waitUntilReady(sub);
    await sub.subscribe(invalidationChannel());
    const local: number[] = [];
    store.onChange((id) => local.push(id));
    const v = await store.addEntry(8, entry(1));
    expect(local).toEqual([8]);
    const deadline = Date.now() + 2000;
    while (messages.length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(messages).toEqual([`8:${v}`]);
    sub.disconnect();
  });

  it('replaces every profile at once: dropped projects disappear, versions keep increasing, no staging left', async () => {
    await store.addEntry(1, entry(1));
    await store.addEntry(2, entry(2));
    await store.replaceAll([
      { projectId: 2, enforcement: 'AUDIT', entries: [entry(3)] },
      { projectId: 9, enforcement: 'ENFORCED', entries: [] },
    ]);
    expect(await store.get(1)).toBeUndefined();
    expect(await redis.get(projectKeys(1).version)).toBe('2');
    expect(await store.get(2)).toMatchObject({ enforcement: 'AUDIT', version: 2 });
    expect((await store.get(2))?.entries.map((e) => e.sourceId)).toEqual([3]);
    expect((await store.list()).map((p) => p.projectId)).toEqual([2, 9]);
    expect(await redis.keys('*stage*')).toEqual([]);
    expect(await redis.ttl(projectKeys(2).profile)).toBe(-1);
  });

  it('leaves the previous policy in place when an import fails before the swap', async () => {
    await store.addEntry(1, entry(1));
    const bad = { ...entry(2), permissions: { RELEASES: 'ADMIN' } } as unknown as AllowlistEntry;
    await expect(
      store.replaceAll([
        { projectId: 1, enforcement: 'DISABLED', entries: [] },
        { projectId: 2, enforcement: 'ENFORCED', entries: [bad] },
      ]),
    ).rejects.toThrow();
    expect(await store.get(1)).toMatchObject({ enforcement: 'ENFORCED', version: 1 });
  });

  it('fails, rather than answering empty, while Redis is unreachable', async () => {
    const own = await startRedis();
    const conn = createRedisConnection({ url: own.url, commandTimeoutMs: 300 }) as Redis;
    await waitUntilReady(conn);
    const s = createRedisProfileStore({ redis: conn });
    await s.addEntry(1, entry(1));
    await own.kill();
    await expect(s.get(1)).rejects.toThrow();
    await own.restart();
    const deadline = Date.now() + 3000;
    while (conn.status !== 'ready' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(await s.get(1)).toBeUndefined(); // persistence is off in tests: the data is gone
    conn.disconnect();
    await own.stop();
  });
});
