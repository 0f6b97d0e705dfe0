/**
 * A gateway in fleet mode for end-to-end tests: `createTestGateway` with the Redis profile
 * store, the Redis revocation list and the decision cache, all on a real Redis the test
 * started (see `redis.ts`). Several of them can share one Redis and one upstream.
 */
import { createRedisRevocationList } from '../../src/auth/revocation-redis.js';
import { createDecisionCache, type DecisionCache } from '../../src/cache/decision-cache.js';
import {
  createRedisConnection,
  pingRedis,
  waitUntilReady,
  type RedisConnection,
} from '../../src/store/redis-client.js';
import {
  createRedisProfileStore,
  type RedisProfileStore,
} from '../../src/store/redis-profile-store.js';
import { createTestGateway, type TestGateway, type TestGatewayOptions } from './gateway.js';

/** A fleet-mode test gateway and its Redis pieces. */
export interface FleetGateway extends TestGateway {
  readonly redisStore: RedisProfileStore;
  readonly decisions: DecisionCache;
  readonly redis: RedisConnection;
}

/**
 * Starts a gateway whose store, revocations and decision cache live in Redis: a node's URL, or
 * the seed nodes of a Cluster.
 */
export async function createFleetGateway(
  where: string | { clusterNodes: { host: string; port: number }[] },
  options: TestGatewayOptions & {
    processTtlMs?: number;
    /** Entry limits of the Redis profile store (its defaults otherwise). */
    storeLimits?: { maxProjectEntries?: number; maxGroupEntries?: number };
  } = {},
): Promise<FleetGateway> {
  const at = typeof where === 'string' ? { url: where } : where;
  const redis = createRedisConnection({ ...at, commandTimeoutMs: 500, maxReconnectDelayMs: 200 });
  await waitUntilReady(redis);
  const newSubscriber = (): RedisConnection =>
    createRedisConnection({ ...at, maxReconnectDelayMs: 200, subscriber: true });
  const redisStore = createRedisProfileStore({ redis, ...options.storeLimits });
  const decisions = createDecisionCache({
    redis,
    createSubscriber: newSubscriber,
    localChanges: redisStore,
    ...(options.processTtlMs !== undefined ? { processTtlMs: options.processTtlMs } : {}),
  });
  await decisions.start();
  const revocations = createRedisRevocationList({ redis, createSubscriber: newSubscriber });
  await revocations.start();
  const t = await createTestGateway({
    ...options,
    store: redisStore,
    revocations,
    // The fleet tests count Redis round trips (off in production: see policy-status-plugin.ts).
    gateway: {
      decisions,
      readiness: () => pingRedis(redis),
      debugExtensions: true,
      ...options.gateway,
    },
  });
  return {
    ...t,
    redisStore,
    decisions,
    redis,
    async close() {
      await t.close();
      await revocations.close();
      await decisions.close();
      redis.disconnect();
    },
  };
}
