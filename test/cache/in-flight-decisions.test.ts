/**
 * Requests of one process that miss the same target at the same time share one decision: the
 * first reads Redis, asks the forge for the role and decides; the others wait for it. Under
 * steady traffic a target's decision and role expire for every request in flight at once, and
 * before this each of them read Redis, asked the forge for the same role and decided on its
 * own (the benchmark's W2 saw stalls of up to a second then). Lifetimes are also cut short at
 * random by up to a tenth, so decisions made together do not all expire together.
 *
 * Real Redis, the demo forge over HTTP; the forge's request log counts the role look-ups.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobTokenPrincipal } from '../../src/auth/principal.js';
import { createDecisionCache, type DecisionCache } from '../../src/cache/decision-cache.js';
import {
  createRequestAuthorizer,
  LIFETIME_SPREAD,
  type TargetDecision,
} from '../../src/cache/request-authorizer.js';
import { storedDecisionExpiry } from '../../src/cache/redis-decisions.js';
import type { DemoUpstream } from '../../src/demo/http-server.js';
import type { InstanceSettings } from '../../src/policy/types.js';
import { createRedisConnection, type RedisConnection } from '../../src/store/redis-client.js';
import type { RedisProfileStore } from '../../src/store/redis-profile-store.js';
import type { UpstreamClient } from '../../src/upstream/client.js';
import { createUpstreamLoaders } from '../../src/upstream/loaders.js';
import {
  bobsJob,
  startAuthorizerWorld,
  type AuthorizerWorld,
} from '../helpers/authorizer-world.js';
import type { TestRedis } from '../helpers/redis.js';

const TARGET = 'acme/apps/web'; // id 102
const TARGET_ID = 102;
const BOB = 2; // a member of the target
const job = (expiresAt: number): JobTokenPrincipal => bobsJob(expiresAt, 'in-flight');
const instance: InstanceSettings = {
  enforceAllowlistEverywhere: false,
  defaultEnforcement: 'DISABLED',
};

describe('decisions in flight in one process', () => {
  let world: AuthorizerWorld;
  let server: TestRedis;
  let redis: RedisConnection;
  let store: RedisProfileStore;
  let upstream: DemoUpstream;
  let client: UpstreamClient;
  const open: DecisionCache[] = [];

  const instanceCache = async (): Promise<DecisionCache> => {
    const cache = createDecisionCache({
      redis,
      createSubscriber: () =>
        createRedisConnection({ url: server.url, maxReconnectDelayMs: 100, subscriber: true }),
      localChanges: store,
    });
    await cache.start();
    open.push(cache);
    return cache;
  };
  const roleLookups = (): number =>
    upstream.requests.filter((r) => r.path.includes(`/projects/${TARGET_ID}/members/all/${BOB}`))
      .length;
  const principal = (): JobTokenPrincipal => job(Math.floor(Date.now() / 1000) + 3_600);
  /** `n` requests of the same job that look the target up in the same tick. */
  const concurrent = async (
    cache: DecisionCache,
    n: number,
    random?: () => number,
  ): Promise<{ decisions: (TargetDecision | null)[]; roundTrips: number[] }> => {
    const p = principal();
    const authorizers = Array.from({ length: n }, () =>
      createRequestAuthorizer(p, createUpstreamLoaders(client), {
        store,
        instance,
        decisions: cache,
        ...(random ? { random } : {}),
      }),
    );
    const project = await createUpstreamLoaders(client).project.load(TARGET);
    expect(project).toBeTruthy();
    upstream.clearRequests();
    const decisions = await Promise.all(authorizers.map((a) => a.forProject(project!)));
    return { decisions, roundTrips: authorizers.map((a) => a.redis.roundTrips) };
  };

  beforeAll(async () => {
    world = await startAuthorizerWorld();
    ({ server, redis, store, upstream, client } = world);
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await world.close();
  });
  beforeEach(async () => {
    await redis.flushall();
    upstream.clearFaults();
    await store.put({
      projectId: TARGET_ID,
      enforcement: 'ENFORCED',
      entries: [
        {
          sourceId: 11,
          sourceKind: 'GROUP',
          sourcePath: 'acme/platform',
          defaultPermissions: false,
          permissions: { RELEASES: 'READ' },
          protectedRefsOnly: false,
          boundToUserRole: true,
        },
      ],
    });
  });

  it('asks the forge for the role once and reads Redis once, however many requests miss at once', async () => {
    const cache = await instanceCache();
    const { decisions, roundTrips } = await concurrent(cache, 8);
    expect(roleLookups()).toBe(1);
    for (const d of decisions) expect(d?.set.resources.RELEASES.level).toBe('READ');
    // Each request holds its own object (the field memo lives on it).
    expect(new Set(decisions).size).toBe(8);
    // One of them read Redis; the seven others waited for it.
    expect(roundTrips.filter((n) => n === 1)).toHaveLength(1);
    expect(roundTrips.filter((n) => n === 0)).toHaveLength(7);
  });

  it('makes every waiter decide on its own when the one it waited for failed', async () => {
    const cache = await instanceCache();
    // The first role look-up fails (a 500 is not retried); the waiters then ask again, and
    // the forge answers them.
    upstream.injectFault({
      path: `/projects/${TARGET_ID}/members/all/${BOB}`,
      kind: 'status',
      status: 500,
      times: 1,
    });
    const p = principal();
    const project = await createUpstreamLoaders(client).project.load(TARGET);
    const authorizers = Array.from({ length: 4 }, () =>
      createRequestAuthorizer(p, createUpstreamLoaders(client), {
        store,
        instance,
        decisions: cache,
      }),
    );
    const results = await Promise.allSettled(authorizers.map((a) => a.forProject(project!)));
    const failed = results.filter((r) => r.status === 'rejected');
    const decided = results.filter(
      (r): r is PromiseFulfilledResult<TargetDecision> => r.status === 'fulfilled',
    );
    expect(failed).toHaveLength(1);
    expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({
      extensions: { code: expect.stringMatching(/^UPSTREAM_/) },
    });
    expect(decided).toHaveLength(3);
    for (const d of decided) expect(d.value.set.resources.RELEASES.level).toBe('READ');
  });

  it('fails only the target whose role the forge would not give, not the others read with it', async () => {
    const cache = await instanceCache();
    const OTHER = 'acme/apps/api'; // id 105
    upstream.injectFault({
      path: `/projects/${TARGET_ID}/members/all/${BOB}`,
      kind: 'status',
      status: 500,
      times: 1,
    });
    const loaders = createUpstreamLoaders(client);
    const [web, api] = await Promise.all([
      loaders.project.load(TARGET),
      loaders.project.load(OTHER),
    ]);
    const errors: unknown[] = [];
    const authorizer = createRequestAuthorizer(principal(), createUpstreamLoaders(client), {
      store,
      instance,
      decisions: cache,
      onPolicyError: (err) => errors.push(err),
    });
    // Both first sights in one tick: one batch, one Redis read for the two.
    const [failed, decided] = await Promise.allSettled([
      authorizer.forProject(web!),
      authorizer.forProject(api!),
    ]);
    expect(authorizer.redis.roundTrips).toBe(1);
    expect(failed).toMatchObject({
      status: 'rejected',
      reason: { extensions: { code: expect.stringMatching(/^UPSTREAM_/) } },
    });
    expect(decided).toMatchObject({ status: 'fulfilled', value: { project: { id: 105 } } });
    // The forge's own error keeps its code: it is not a policy failure.
    expect(errors).toEqual([]);
  });

  it('answers POLICY_UNAVAILABLE for every target when Redis fails, even if the error hook throws', async () => {
    const cache = await instanceCache();
    // The same cache, with its Redis read failing (as when Redis goes away mid-request).
    const failing: DecisionCache = Object.create(cache) as DecisionCache;
    failing.readMany = () => Promise.reject(new Error('connection is closed'));
    const loaders = createUpstreamLoaders(client);
    const [web, api] = await Promise.all([
      loaders.project.load(TARGET),
      loaders.project.load('acme/apps/api'),
    ]);
    let told = 0;
    const authorizer = createRequestAuthorizer(principal(), createUpstreamLoaders(client), {
      store,
      instance,
      decisions: failing,
      onPolicyError: () => {
        told += 1;
        throw new Error('the log is gone too');
      },
    });
    const results = await Promise.allSettled([
      authorizer.forProject(web!),
      authorizer.forProject(api!),
    ]);
    for (const r of results)
      expect(r).toMatchObject({
        status: 'rejected',
        reason: { extensions: { code: 'POLICY_UNAVAILABLE' } },
      });
    expect(told).toBe(1);
  });

  it('does not hand a decision made before an invalidation to a request that came after it', async () => {
    const cache = await instanceCache();
    const settle = cache.inFlight.lead(TARGET_ID, 'k', cache.generation(TARGET_ID));
    expect(cache.inFlight.join(TARGET_ID, 'k', cache.generation(TARGET_ID))).toBeDefined();
    cache.invalidate(TARGET_ID);
    expect(cache.inFlight.join(TARGET_ID, 'k', cache.generation(TARGET_ID))).toBeUndefined();
    settle(undefined);
    // Settled: nothing is left behind for later requests to wait for.
    expect(cache.inFlight.join(TARGET_ID, 'k', cache.generation(TARGET_ID) - 1)).toBeUndefined();
    settle(undefined); // a second call is ignored
  });

  it('cuts the lifetimes of a role and its decision short by at most a tenth, never lengthens them', async () => {
    const cache = await instanceCache();
    const roleKey = `sg:{p:${TARGET_ID}}:role:${BOB}`;
    const lifetimes = async (random: () => number): Promise<{ role: number; decision: number }> => {
      await redis.flushall();
      const before = Date.now();
      await concurrent(cache, 1, random);
      let role = -2;
      for (let i = 0; i < 50 && role < 0; i++) {
        role = await redis.pttl(roleKey);
        if (role < 0) await new Promise((r) => setTimeout(r, 20));
      }
      const [hash] = await redis.keys(`sg:{p:${TARGET_ID}}:d:*`);
      const stored = Object.values(await redis.hgetall(hash!))[0];
      return { role, decision: (storedDecisionExpiry(stored!) ?? 0) - before };
    };
    const full = await lifetimes(() => 0);
    expect(full.role).toBeGreaterThan(59_000);
    expect(full.role).toBeLessThanOrEqual(60_000);
    expect(full.decision).toBeGreaterThan(59_000);
    expect(full.decision).toBeLessThanOrEqual(60_000 + 1_000);
    cache.invalidate(TARGET_ID); // the process cache would answer the next look-up
    const shortest = await lifetimes(() => 0.999_999);
    const floor = 60_000 * (1 - LIFETIME_SPREAD);
    expect(shortest.role).toBeGreaterThan(floor - 1_000);
    expect(shortest.role).toBeLessThanOrEqual(floor + 1);
    // The decision never outlives the role it was made from.
    expect(shortest.decision).toBeLessThanOrEqual(shortest.role + 1_000);
    expect(shortest.decision).toBeGreaterThan(floor - 1_000);
  });
});
