/**
 * A stored decision that can no longer be used (past its own expiry, which a token's `exp`
 * bounds, or malformed) is decided again from the target's profile, never as if the target
 * had none. Before this was fixed, a fresh token of the same job identity found the expired
 * decision in Redis, the read script skipped the profile because a decision was there, and the
 * decision was made again under `SCOPEGATE_DEFAULT_ENFORCEMENT`, then shared with the fleet:
 * with default DISABLED, a source missing from an ENFORCED allowlist got WRITE.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobTokenPrincipal } from '../../src/auth/principal.js';
import { createDecisionCache, type DecisionCache } from '../../src/cache/decision-cache.js';
import { createRequestAuthorizer } from '../../src/cache/request-authorizer.js';
import { bucketOf } from '../../src/cache/redis-decisions.js';
import { encodePermissionSet } from '../../src/policy/codec.js';
import type { InstanceSettings } from '../../src/policy/types.js';
import { createRedisConnection, type RedisConnection } from '../../src/store/redis-client.js';
import { projectKeys } from '../../src/store/redis-keys.js';
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
const job = bobsJob;

describe('a stored decision that can no longer be used', () => {
  let world: AuthorizerWorld;
  let server: TestRedis;
  let redis: RedisConnection;
  let store: RedisProfileStore;
  let client: UpstreamClient;
  const open: DecisionCache[] = [];
  let clock = 0;

  /** One gateway instance's decision cache (its own process cache), on the shared Redis. */
  const instanceCache = async (): Promise<DecisionCache> => {
    const cache = createDecisionCache({
      redis,
      createSubscriber: () =>
        createRedisConnection({ url: server.url, maxReconnectDelayMs: 100, subscriber: true }),
      localChanges: store,
      processTtlMs: 5_000,
      now: () => clock,
    });
    await cache.start();
    open.push(cache);
    return cache;
  };
  const releases = async (
    cache: DecisionCache,
    principal: JobTokenPrincipal,
    instance: InstanceSettings,
  ) => {
    const authz = createRequestAuthorizer(principal, createUpstreamLoaders(client), {
      store,
      instance,
      decisions: cache,
      now: () => clock,
    });
    return (await authz.forProjectRef(TARGET))?.set.resources.RELEASES;
  };

  beforeAll(async () => {
    world = await startAuthorizerWorld();
    ({ server, redis, store, client } = world);
  });
  afterAll(async () => {
    for (const c of open) await c.close();
    await world.close();
  });
  beforeEach(async () => {
    await redis.flushall();
    clock = Date.now();
    // ENFORCED, listing only the globex group: acme/platform/registry is not in the allowlist.
    await store.put({
      projectId: TARGET_ID,
      enforcement: 'ENFORCED',
      entries: [
        {
          sourceId: 20,
          sourceKind: 'GROUP',
          sourcePath: 'globex',
          defaultPermissions: false,
          permissions: { RELEASES: 'READ' },
          protectedRefsOnly: false,
          boundToUserRole: true,
        },
      ],
    });
  });

  const lenient: InstanceSettings = {
    enforceAllowlistEverywhere: false,
    defaultEnforcement: 'DISABLED',
  };

  it('is held by each request in an object of its own, even from the process cache (the field memo lives on it)', async () => {
    const cache = await instanceCache();
    const principal = job(Math.floor(clock / 1000) + 3_600, 'a');
    const request = () =>
      createRequestAuthorizer(principal, createUpstreamLoaders(client), {
        store,
        instance: lenient,
        decisions: cache,
        now: () => clock,
      });
    const first = request();
    const a = await first.forProjectRef(TARGET);
    expect(a).toMatchObject({ checked: 0 });
    if (a) a.checked |= 1;
    expect(await first.forProjectRef(TARGET)).toBe(a);
    expect(first.peek(TARGET_ID)).toBe(a);
    // The next request finds the decision in the process cache, and holds a new object.
    const b = await request().forProjectRef(TARGET);
    expect(b).not.toBe(a);
    expect(b).toMatchObject({ checked: 0 });
    expect(b?.set).toBe(a?.set);
  });

  it("is decided again from the profile once the earlier token's exp has passed", async () => {
    const first = await instanceCache();
    const nowS = Math.floor(clock / 1000);
    expect(await releases(first, job(nowS + 2, 'a'), lenient)).toMatchObject({
      level: 'NONE',
      reason: 'NOT_IN_ALLOWLIST',
    });
    // The decision was stored bounded by token a's exp; the role (60 s) outlives it.
    await expect.poll(async () => (await redis.keys('*:d:*')).length).toBe(1);
    clock += 3_000;
    // A fresh token of the same job identity, on another instance (nothing in process).
    const second = await instanceCache();
    expect(await releases(second, job(nowS + 3_600, 'b'), lenient)).toMatchObject({
      level: 'NONE',
      reason: 'NOT_IN_ALLOWLIST',
    });
    // ...and what it wrote back for the fleet says the same.
    const third = await instanceCache();
    expect(await releases(third, job(nowS + 3_600, 'c'), lenient)).toMatchObject({
      level: 'NONE',
      reason: 'NOT_IN_ALLOWLIST',
    });
  });

  it('is decided again from the profile when it is malformed or another project’s', async () => {
    const cache = await instanceCache();
    const principal = job(Math.floor(clock / 1000) + 3_600, 'a');
    // Warm the role (and the profile's version) for this principal, then replace the decision.
    await releases(cache, principal, lenient);
    await expect.poll(async () => (await redis.keys('*:d:*')).length).toBe(1);
    const [hash] = await redis.keys('*:d:*');
    const version = Number((await redis.get(projectKeys(TARGET_ID).version)) ?? 0);
    expect(hash).toBe(
      `${projectKeys(TARGET_ID).decisionPrefix}${version}:${bucketOf(clock, first(open).decisionTtlMs)}`,
    );
    const fields = await redis.hkeys(hash as string);
    expect(fields).toHaveLength(1);
    const future = (clock + 60_000).toString(36);
    const foreign = {
      targetProjectId: 7,
      auditWouldDeny: false,
      principalKind: 'job' as const,
      enforcement: 'DISABLED' as const,
      resources: {
        RELEASES: {
          level: 'WRITE' as const,
          reason: 'ENFORCEMENT_DISABLED' as const,
          auditWouldDeny: false,
        },
        TAGS: {
          level: 'WRITE' as const,
          reason: 'ENFORCEMENT_DISABLED' as const,
          auditWouldDeny: false,
        },
        CONTAINERS: {
          level: 'WRITE' as const,
          reason: 'ENFORCEMENT_DISABLED' as const,
          auditWouldDeny: false,
        },
        MERGE_REQUEST_NOTES: {
          level: 'WRITE' as const,
          reason: 'ENFORCEMENT_DISABLED' as const,
          auditWouldDeny: false,
        },
      },
    };
    for (const raw of [`${future}|not json`, `${future}|${encodePermissionSet(foreign)}`]) {
      await redis.hset(hash as string, fields[0] as string, raw);
      const fresh = await instanceCache();
      expect(await releases(fresh, principal, lenient)).toMatchObject({
        level: 'NONE',
        reason: 'NOT_IN_ALLOWLIST',
      });
    }
  });
});

function first<T>(list: readonly T[]): T {
  const [head] = list;
  if (head === undefined) throw new Error('empty');
  return head;
}
