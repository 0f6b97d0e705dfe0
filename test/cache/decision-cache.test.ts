import { storedDecisionExpiry } from '../../src/cache/redis-decisions.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { JobTokenPrincipal } from '../../src/auth/principal.js';
import {
  READ_BATCH,
  createDecisionCache,
  type DecisionCache,
  type RoundTripCounter,
} from '../../src/cache/decision-cache.js';
import {
  principalCacheKey,
  principalKeyPrefix,
  targetKeySuffix,
} from '../../src/cache/decision-key.js';
import { encodePermissionSet } from '../../src/policy/codec.js';
import { DEFAULT_INSTANCE_SETTINGS } from '../../src/policy/engine.js';
import type { PermissionSet, TargetProject } from '../../src/policy/types.js';
import {
  createRedisConnection,
  waitUntilReady,
  type RedisConnection,
} from '../../src/store/redis-client.js';
import {
  createRedisProfileStore,
  type RedisProfileStore,
} from '../../src/store/redis-profile-store.js';
import { invalidationChannel, projectKeys } from '../../src/store/redis-keys.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const job: JobTokenPrincipal = {
  kind: 'job',
  issuer: 'https://forge.test',
  jti: 'j1',
  expiresAt: 4_102_444_800,
  projectId: 2,
  projectPath: 'acme/apps/web',
  namespaceId: 13,
  namespacePath: 'acme/apps',
  userId: 1,
  userLogin: 'alice',
  jobId: 7,
  pipelineId: 8,
  ref: 'main',
  refType: 'branch',
  refProtected: true,
};
const target: TargetProject = {
  id: 1,
  fullPath: 'acme/platform/registry',
  visibility: 'private',
  features: {
    RELEASES: 'enabled',
    TAGS: 'enabled',
    CONTAINERS: 'private',
    MERGE_REQUEST_NOTES: 'enabled',
  },
};
const set: PermissionSet = {
  targetProjectId: 1,
  auditWouldDeny: false,
  principalKind: 'job',
  enforcement: 'ENFORCED',
  resources: {
    RELEASES: { level: 'READ', reason: 'ENTRY_GRANTS', auditWouldDeny: false },
    TAGS: { level: 'NONE', reason: 'ENTRY_LEVEL_TOO_LOW', auditWouldDeny: false },
    CONTAINERS: { level: 'NONE', reason: 'ENTRY_LEVEL_TOO_LOW', auditWouldDeny: false },
    MERGE_REQUEST_NOTES: { level: 'NONE', reason: 'ENTRY_LEVEL_TOO_LOW', auditWouldDeny: false },
  },
};
const key = principalCacheKey(job, target, DEFAULT_INSTANCE_SETTINGS);
const counter = (): RoundTripCounter => ({ roundTrips: 0, writes: 0 });
/** What Redis holds for `key` on project 1 (no role asked). */
const readOne = async (cache: DecisionCache) =>
  (
    await cache.readMany([{ projectId: 1, principalKey: key, roleUserId: undefined }], counter())
  )[0];

async function until(check: () => boolean | Promise<boolean>, ms = 2_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('principalCacheKey', () => {
  it('changes with everything a decision depends on', () => {
    const keys = [
      key,
      principalCacheKey({ ...job, refProtected: false }, target, DEFAULT_INSTANCE_SETTINGS),
      principalCacheKey({ ...job, userId: 9 }, target, DEFAULT_INSTANCE_SETTINGS),
      principalCacheKey({ ...job, projectId: 3 }, target, DEFAULT_INSTANCE_SETTINGS),
      principalCacheKey({ ...job, namespaceId: 14 }, target, DEFAULT_INSTANCE_SETTINGS),
      principalCacheKey({ ...job, jobPermissions: {} }, target, DEFAULT_INSTANCE_SETTINGS),
      principalCacheKey(
        { ...job, jobPermissions: { RELEASES: 'READ' } },
        target,
        DEFAULT_INSTANCE_SETTINGS,
      ),
      principalCacheKey(job, { ...target, visibility: 'public' }, DEFAULT_INSTANCE_SETTINGS),
      principalCacheKey(
        job,
        { ...target, features: { ...target.features, TAGS: 'disabled' } },
        DEFAULT_INSTANCE_SETTINGS,
      ),
      principalCacheKey(job, target, {
        ...DEFAULT_INSTANCE_SETTINGS,
        enforceAllowlistEverywhere: true,
      }),
      principalCacheKey(job, target, { ...DEFAULT_INSTANCE_SETTINGS, defaultEnforcement: 'AUDIT' }),
      principalCacheKey(
        { kind: 'user', issuer: 'i', userId: 1, isAdmin: false, expiresAt: 1 },
        target,
        DEFAULT_INSTANCE_SETTINGS,
      ),
      principalCacheKey(
        { kind: 'user', issuer: 'i', userId: 1, isAdmin: true, expiresAt: 1 },
        target,
        DEFAULT_INSTANCE_SETTINGS,
      ),
      principalCacheKey({ kind: 'anonymous' }, target, DEFAULT_INSTANCE_SETTINGS),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('keeps the format decisions are stored under in Redis, principal part first', () => {
    const t: TargetProject = {
      ...target,
      features: { ...target.features, TAGS: 'disabled', CONTAINERS: 'private' },
    };
    const audit = {
      ...DEFAULT_INSTANCE_SETTINGS,
      enforceAllowlistEverywhere: true,
      defaultEnforcement: 'AUDIT' as const,
    };
    expect(principalCacheKey(job, t, DEFAULT_INSTANCE_SETTINGS)).toBe('j:2:13:1:1:*:vedpeeE');
    expect(
      principalCacheKey(
        { ...job, refProtected: false, jobPermissions: { RELEASES: 'READ', TAGS: 'WRITE' } },
        t,
        audit,
      ),
    ).toBe('j:2:13:1:0:1200:vedpeEA');
    expect(principalKeyPrefix(job)).toBe('j:2:13:1:1:*:');
    expect(targetKeySuffix(t, audit)).toBe('vedpeEA');
  });

  it('ignores what never changes a decision: token id, job id, login', () => {
    expect(
      principalCacheKey(
        { ...job, jti: 'other', jobId: 99, userLogin: 'mallory' },
        target,
        DEFAULT_INSTANCE_SETTINGS,
      ),
    ).toBe(key);
  });
});

describe('decision cache on a real Redis', () => {
  let server: TestRedis;
  let redis: RedisConnection;
  let store: RedisProfileStore;
  const open: DecisionCache[] = [];
  const make = async (
    processTtlMs = 5_000,
    extra: { now?: () => number; decisionTtlMs?: number } = {},
  ): Promise<DecisionCache> => {
    const cache = createDecisionCache({
      redis,
      createSubscriber: () =>
        createRedisConnection({ url: server.url, maxReconnectDelayMs: 100, subscriber: true }),
      localChanges: store,
      processTtlMs,
      ...extra,
    });
    await cache.start();
    open.push(cache);
    return cache;
  };

  beforeAll(async () => {
    server = await startRedis();
    redis = createRedisConnection({ url: server.url, maxReconnectDelayMs: 100 });
    await waitUntilReady(redis);
    store = createRedisProfileStore({ redis });
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    redis.disconnect();
    await server.stop();
  });
  beforeEach(async () => {
    await redis.flushall();
  });

  it('reads version, decision and role of many projects in one round trip', async () => {
    const cache = await make();
    await store.setEnforcement(1, 'ENFORCED');
    const c = counter();
    cache.writeBack(
      [
        {
          projectId: 1,
          version: 1,
          principalKey: key,
          set,
          ttlMs: 10_000,
          role: { userId: 1, level: 30 },
        },
      ],
      c,
    );
    await until(async () => (await redis.exists(`${projectKeys(1).rolePrefix}1`)) === 1);
    const reads = await cache.readMany(
      [1, 2, 3].map((projectId) => ({ projectId, principalKey: key, roleUserId: 1 })),
      c,
    );
    expect(c).toEqual({ roundTrips: 1, writes: 1 });
    expect(reads[0]).toMatchObject({ version: 1, set, role: 30 });
    expect(reads[0]?.roleTtlMs).toBeGreaterThan(50_000);
    expect(reads[1]).toEqual({
      version: 0,
      set: undefined,
      role: undefined,
      roleTtlMs: undefined,
      profile: undefined,
      profileRead: true,
    });
    // A usable decision with its role: the profile is not read at all.
    expect(reads[0]).toMatchObject({ profile: undefined, profileRead: false });
  });

  it("reads a request's targets in one script call, at most READ_BATCH to a call, answers in order", async () => {
    const cache = await make();
    cache.writeBack(
      [{ projectId: 1, version: 0, principalKey: key, set, ttlMs: 10_000 }],
      counter(),
    );
    await until(async () => (await redis.keys('*:d:*')).length === 1);
    // Redis's own count of script calls (cached or sent with their body).
    const calls = async (): Promise<number> => {
      const info = await redis.info('commandstats');
      return [...info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    };
    const ids = Array.from({ length: READ_BATCH + 6 }, (_, i) => i + 1);
    const before = await calls();
    const c = counter();
    const reads = await cache.readMany(
      ids.map((projectId) => ({ projectId, principalKey: key, roleUserId: undefined })),
      c,
    );
    // Two calls in one round trip, not one per target.
    expect((await calls()) - before).toBe(2);
    expect(c.roundTrips).toBe(1);
    expect(reads).toHaveLength(ids.length);
    // Each answer is its own target's: only project 1 holds a decision.
    ids.forEach((id, i) =>
      expect(reads[i]?.set, `project ${id}`).toEqual(id === 1 ? set : undefined),
    );
    const one = await calls();
    await cache.readMany([{ projectId: 1, principalKey: key, roleUserId: undefined }], counter());
    expect((await calls()) - one).toBe(1);
  });

  it('answers every target of requests read together as reading each alone would', async () => {
    const cache = await make();
    const key2 = principalCacheKey({ ...job, userId: 9 }, target, DEFAULT_INSTANCE_SETTINGS);
    // Projects with their own versions (and so profiles), decisions, roles and role expiries.
    for (const p of [2, 40, 70]) await store.setEnforcement(p, 'ENFORCED');
    await store.setEnforcement(40, 'DISABLED');
    const version = (p: number): number => (p === 40 ? 2 : [2, 70].includes(p) ? 1 : 0);
    const setFor = (p: number): PermissionSet => ({ ...set, targetProjectId: p });
    const written: [number, string][] = [
      ...[1, 2, 39, 40, 64, 65, 66, 70].map((p): [number, string] => [p, key]),
      ...[3, 40].map((p): [number, string] => [p, key2]),
    ];
    cache.writeBack(
      written.map(([projectId, principalKey]) => ({
        projectId,
        version: version(projectId),
        principalKey,
        set: setFor(projectId),
        ttlMs: 10_000,
        ...([1, 39, 65, 66].includes(projectId) && principalKey === key
          ? { role: { userId: 5, level: projectId % 50 } }
          : {}),
      })),
      counter(),
    );
    await until(async () => (await redis.keys('*:d:*')).length === 9);
    await redis.pexpire(`${projectKeys(39).rolePrefix}5`, 30_000);
    // One request of 74 targets (two calls) and one of 5, read in one turn.
    // Within a request, targets differ in principal key and in whether a role is read.
    const first = Array.from({ length: READ_BATCH + 10 }, (_, i) => ({
      projectId: i + 1,
      principalKey: i + 1 === 3 ? key2 : key,
      roleUserId: i + 1 === 65 || i + 1 > 66 ? undefined : 5,
    }));
    const second = [3, 40, 70, 1, 64].map((projectId) => ({
      projectId,
      principalKey: key2,
      roleUserId: undefined,
    }));
    const together = await Promise.all([
      cache.readMany(first, counter()),
      cache.readMany(second, counter()),
    ]);
    const alone = [];
    for (const reqs of [first, second]) {
      const answers = [];
      for (const r of reqs) answers.push(...(await cache.readMany([r], counter())));
      alone.push(answers);
    }
    // A role's remaining lifetime moves between the reads; whether it has one does not.
    const comparable = (rs: Awaited<ReturnType<DecisionCache['readMany']>>) =>
      rs.map((r) => ({ ...r, roleTtlMs: r.roleTtlMs === undefined ? undefined : r.roleTtlMs > 0 }));
    expect(comparable(together[0])).toEqual(comparable(alone[0] ?? []));
    expect(comparable(together[1])).toEqual(comparable(alone[1] ?? []));
    // And what they hold is each target's own.
    expect(together[0][38]).toMatchObject({ version: 0, set: setFor(39), role: 39 });
    expect(together[0][38]?.roleTtlMs).toBeLessThanOrEqual(30_000);
    expect(together[0][39]).toMatchObject({ version: 2, set: setFor(40), role: undefined });
    expect(together[0][69]).toMatchObject({ version: 1, set: setFor(70), profileRead: false });
    expect(together[0][73]).toMatchObject({ version: 0, set: undefined, profileRead: true });
    expect(together[0][2]).toMatchObject({ version: 0, set: setFor(3), profileRead: true });
    // Project 65's role is stored, but that target asked for none; 66, in the same call, did.
    expect(together[0][64]).toMatchObject({ set: setFor(65), role: undefined, profileRead: false });
    expect(together[0][65]).toMatchObject({ set: setFor(66), role: 16 });
    expect(together[1].map((r) => r.set?.targetProjectId)).toEqual([
      3,
      40,
      undefined,
      undefined,
      undefined,
    ]);
    expect(together[1][1]).toMatchObject({ version: 2, profileRead: false });
  });

  it('reads the profile with a decision past its own expiry, but not with a usable one', async () => {
    let clock = Date.now();
    const cache = await make(5_000, { now: () => clock });
    await store.setEnforcement(1, 'ENFORCED');
    cache.writeBack(
      [
        {
          projectId: 1,
          version: 1,
          principalKey: key,
          set,
          ttlMs: 60_000,
          notAfterMs: clock + 2_000,
        },
      ],
      counter(),
    );
    await until(async () => (await redis.keys('*:d:*')).length === 1);
    expect(await readOne(cache)).toMatchObject({ set, profile: undefined, profileRead: false });
    clock += 2_000; // the token that bounded it has expired; its field is still in the hash
    expect(await readOne(cache)).toMatchObject({
      set: undefined,
      profile: { enforcement: 'ENFORCED', version: 1 },
      profileRead: true,
    });
  });

  it('sends the reads of requests that miss at once in one pipeline, each keeping its own answer or failure', async () => {
    const cache = await make();
    cache.writeBack(
      [{ projectId: 1, version: 0, principalKey: key, set, ttlMs: 10_000 }],
      counter(),
    );
    await until(async () => (await readOne(cache))?.set !== undefined);
    // Project 9's version key has the wrong type: its script call fails inside the pipeline.
    await redis.hset(projectKeys(9).version, 'x', '1');
    const pipelines = vi.spyOn(redis, 'pipeline');
    try {
      const [c1, c2, c3] = [counter(), counter(), counter()];
      const one = (projectId: number, c: RoundTripCounter) =>
        cache.readMany([{ projectId, principalKey: key, roleUserId: undefined }], c);
      const [a, b, failed] = await Promise.allSettled([one(1, c1), one(2, c2), one(9, c3)]);
      expect(pipelines).toHaveBeenCalledTimes(1);
      expect(a).toMatchObject({ status: 'fulfilled', value: [{ version: 0, set }] });
      expect(b).toMatchObject({ status: 'fulfilled', value: [{ version: 0, set: undefined }] });
      expect(failed.status).toBe('rejected');
      // Each request waited for one round trip.
      expect([c1, c2, c3].map((c) => c.roundTrips)).toEqual([1, 1, 1]);
      // A read in a later turn goes out on its own.
      await one(1, counter());
      expect(pipelines).toHaveBeenCalledTimes(2);
    } finally {
      pipelines.mockRestore();
    }
  });

  it('never reads a decision made under an older profile version', async () => {
    const cache = await make();
    await store.setEnforcement(1, 'ENFORCED');
    cache.writeBack(
      [{ projectId: 1, version: 1, principalKey: key, set, ttlMs: 10_000 }],
      counter(),
    );
    await until(async () => (await redis.keys('*:d:*')).length === 1);
    await store.setEnforcement(1, 'DISABLED');
    const [read] = await cache.readMany(
      [{ projectId: 1, principalKey: key, roleUserId: undefined }],
      counter(),
    );
    expect(read).toMatchObject({
      version: 2,
      set: undefined,
      profile: { enforcement: 'DISABLED', version: 2 },
    });
  });

  it('bounds a decision in Redis by the TTL it is given, and its hash by two TTLs', async () => {
    let clock = 1_000_000_000_000;
    const cache = await make(5_000, { now: () => clock, decisionTtlMs: 60_000 });
    cache.writeBack(
      [{ projectId: 1, version: 0, principalKey: key, set, ttlMs: 1_500 }],
      counter(),
    );
    await until(async () => (await redis.keys('*:d:*')).length === 1);
    const [hash] = await redis.keys('*:d:*');
    // One hash per project, version and time bucket; the decision is a field of it.
    expect(hash).toBe(`${projectKeys(1).decisionPrefix}0:${Math.floor(clock / 60_000)}`);
    expect(await redis.hkeys(hash!)).toEqual([key]);
    const pttl = await redis.pttl(hash!);
    expect(pttl).toBeGreaterThan(60_000);
    expect(pttl).toBeLessThanOrEqual(120_000);
    expect((await readOne(cache))?.set).toEqual(set);
    clock += 1_499;
    expect((await readOne(cache))?.set).toEqual(set);
    clock += 1; // the decision's own 1.5 s are over; the hash still holds it
    expect(await redis.hexists(hash!, key)).toBe(1);
    expect((await readOne(cache))?.set).toBeUndefined();
  });

  it("never stores a decision past its notAfterMs (the token's exp), whatever the TTL", async () => {
    const clock = 1_000_000_000_000;
    const cache = await make(5_000, { now: () => clock });
    cache.writeBack(
      [
        {
          projectId: 1,
          version: 0,
          principalKey: key,
          set,
          ttlMs: 10_000,
          notAfterMs: clock + 500,
        },
      ],
      counter(),
    );
    await until(async () => (await redis.keys('*:d:*')).length === 1);
    const [hash] = await redis.keys('*:d:*');
    const raw = (await redis.hget(hash!, key)) ?? '';
    expect(storedDecisionExpiry(raw)).toBe(clock + 500);
  });

  it('reads a decision across one bucket boundary, never past its own TTL or two buckets back', async () => {
    const bucketStart = 1_000_000_000_000;
    let clock = bucketStart - 10; // 10 ms before a bucket of 1 s ends
    const cache = await make(5_000, { now: () => clock, decisionTtlMs: 1_000 });
    cache.writeBack(
      [{ projectId: 1, version: 0, principalKey: key, set, ttlMs: 60_000 }],
      counter(),
    );
    await until(async () => (await redis.keys('*:d:*')).length === 1);
    clock = bucketStart + 10; // the next bucket: still found, in the one before
    expect((await readOne(cache))?.set).toEqual(set);
    clock = bucketStart + 989; // 999 ms after the write
    expect((await readOne(cache))?.set).toEqual(set);
    clock = bucketStart + 990; // the cache TTL (1 s) caps the 60 s asked for
    expect((await readOne(cache))?.set).toBeUndefined();
    // Two buckets on, the write's hash is not read, even holding a decision that has not expired.
    clock = bucketStart + 1_010;
    const written = `${projectKeys(1).decisionPrefix}0:${Math.floor(bucketStart / 1_000) - 1}`;
    await redis.hset(written, key, `${(clock + 60_000).toString(36)}|${encodePermissionSet(set)}`);
    expect((await readOne(cache))?.set).toBeUndefined();
    clock = bucketStart + 10; // ...which the bucket after it still reads
    expect((await readOne(cache))?.set).toEqual(set);
  });

  it('treats a malformed or foreign stored decision as absent, never as a grant', async () => {
    const clock = Date.now();
    const cache = await make(5_000, { now: () => clock });
    const hash = `${projectKeys(1).decisionPrefix}0:${Math.floor(clock / 60_000)}`;
    const future = (clock + 10_000).toString(36);
    for (const raw of [
      'garbage',
      `${future}|not json`,
      `zzzzzzzzzzzzzz|${JSON.stringify([1])}`,
      `|${encodePermissionSet(set)}`,
      `${future}|${encodePermissionSet({ ...set, targetProjectId: 2 })}`,
    ]) {
      await redis.hset(hash, key, raw);
      expect((await readOne(cache))?.set).toBeUndefined();
    }
    // Not expired by its own stamp, so Redis did not read the profile: the caller must.
    await redis.hset(hash, key, `${future}|not json`);
    expect(await readOne(cache)).toMatchObject({ set: undefined, profileRead: false });
    await redis.hset(hash, key, `${future}|${encodePermissionSet(set)}`);
    expect((await readOne(cache))?.set).toEqual(set);
  });

  it('flushes the process cache of another instance through pub/sub, and of the writer at once', async () => {
    const writer = await make();
    const other = await make();
    for (const c of [writer, other])
      c.rememberLocal(1, key, { set, roleAccessLevel: 30 }, c.generation(1), 5_000);
    expect(other.peekLocal(1, key)).toBeDefined();
    await store.setEnforcement(1, 'AUDIT');
    expect(writer.peekLocal(1, key)).toBeUndefined();
    await until(() => other.peekLocal(1, key) === undefined);
  });

  it('subscribes again itself after its subscriber reconnects, and receives invalidations again', async () => {
    const writer = await make();
    const other = await make();
    const subscribers = async (): Promise<number> => {
      const [, n] = (await redis.pubsub('NUMSUB', invalidationChannel())) as [string, number];
      return Number(n);
    };
    // Every cache this suite opened is subscribed (they close after the suite).
    const all = await subscribers();
    expect(all).toBe(open.length);
    // Both subscribers' connections closed: ioredis does not subscribe them again (see
    // `RedisConnectionOptions.subscriber`), the caches do.
    await redis.client('KILL', 'TYPE', 'pubsub');
    expect(await subscribers()).toBeLessThan(all);
    await until(async () => (await subscribers()) === all);
    other.rememberLocal(1, key, { set, roleAccessLevel: 30 }, other.generation(1), 5_000);
    expect(other.peekLocal(1, key)).toBeDefined();
    await store.setEnforcement(1, 'AUDIT');
    await until(() => other.peekLocal(1, key) === undefined);
    expect(writer.peekLocal(1, key)).toBeUndefined();
  });

  it('forgets a local decision after the process TTL even when no invalidation arrives', async () => {
    const cache = await make(100);
    cache.rememberLocal(1, key, { set, roleAccessLevel: 30 }, cache.generation(1), 5_000);
    expect(cache.peekLocal(1, key)).toBeDefined();
    await new Promise((r) => setTimeout(r, 150));
    expect(cache.peekLocal(1, key)).toBeUndefined();
  });

  it('does not keep a decision computed before an invalidation that arrived meanwhile', async () => {
    const cache = await make();
    const gen = cache.generation(1);
    cache.invalidate(1);
    cache.rememberLocal(1, key, { set, roleAccessLevel: 30 }, gen, 5_000);
    expect(cache.peekLocal(1, key)).toBeUndefined();
  });

  it('fails while Redis is down, then flushes local decisions and serves again after it returns', async () => {
    const cache = await make();
    cache.rememberLocal(1, key, { set, roleAccessLevel: 30 }, cache.generation(1), 5_000);
    await server.kill();
    await expect(
      cache.readMany([{ projectId: 1, principalKey: key, roleUserId: 1 }], counter()),
    ).rejects.toThrow();
    await server.restart();
    // Invalidations sent while the subscriber was away are lost: everything local goes.
    await until(() => cache.peekLocal(1, key) === undefined);
    await until(() => redis.status === 'ready');
    const c = counter();
    // The restarted server lost its script cache: the body is sent once more.
    await cache.readMany([{ projectId: 1, principalKey: key, roleUserId: 1 }], c);
    expect(c.roundTrips).toBe(2);
  });

  it('drops cached roles of one user or of the whole project, and the decisions made from them', async () => {
    const cache = await make();
    const roles = projectKeys(1).rolePrefix;
    await redis.set(`${roles}1`, '30');
    await redis.set(`${roles}2`, '40');
    cache.rememberLocal(1, key, { set, roleAccessLevel: 30 }, cache.generation(1), 5_000);
    await cache.dropRoles(1, 1);
    expect(await redis.exists(`${roles}1`, `${roles}2`)).toBe(1);
    expect(cache.peekLocal(1, key)).toBeUndefined();
    await cache.dropRoles(1);
    expect(await redis.exists(`${roles}1`, `${roles}2`)).toBe(0);
    expect(await redis.get(projectKeys(1).version)).toBe('2');
  });
});
