/**
 * Metrics that only exist in fleet mode, against a real Redis: decision cache look-ups per
 * layer, Redis round trips per operation, and rate limiting failing open.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGatewayMetrics, type GatewayMetrics } from '../../src/server/metrics.js';
import { createRateLimiter } from '../../src/server/rate-limit.js';
import { createTestGateway } from '../helpers/gateway.js';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const REGISTRY = 'acme/platform/registry';
const QUERY = `{ project(fullPath: "${REGISTRY}") { releases { nodes { tagName } } } }`;

/** The value of one sample of the registry, labels matched exactly on the given keys. */
async function sample(
  metrics: GatewayMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const all = await metrics.registry.getMetricsAsJSON();
  const family = all.find((m) => name.startsWith(m.name));
  const values = (family?.values ?? []) as {
    metricName?: string;
    labels: Record<string, string | number>;
    value: number;
  }[];
  return values
    .filter((v) => (v.metricName ?? family?.name) === name)
    .filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x))
    .reduce((s, v) => s + v.value, 0);
}

describe('fleet metrics', () => {
  let redis: TestRedis;
  let t: FleetGateway;
  const metrics = createGatewayMetrics({ processMetrics: false });

  beforeAll(async () => {
    redis = await startRedis();
    t = await createFleetGateway(redis.url, {
      policy: {
        version: 1,
        projects: {
          [REGISTRY]: {
            enforcement: 'ENFORCED',
            entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
          },
        },
      },
      gateway: { metrics },
    });
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('counts a process-cache miss and a Redis miss cold, then a process-cache hit warm', async () => {
    const token = await t.jobToken('acme/apps/web', 'alice');
    expect((await t.gql(QUERY, {}, { token })).body.errors).toBeUndefined();
    const lookups = 'scopegate_decision_cache_lookups_total';
    expect(await sample(metrics, lookups, { layer: 'process', result: 'miss' })).toBe(1);
    expect(await sample(metrics, lookups, { layer: 'redis', result: 'miss' })).toBe(1);
    expect((await t.gql(QUERY, {}, { token })).body.errors).toBeUndefined();
    expect(await sample(metrics, lookups, { layer: 'process', result: 'hit' })).toBe(1);
    // Cold: one round trip; warm: none.
    const trips = 'scopegate_redis_round_trips_per_operation';
    expect(await sample(metrics, `${trips}_count`)).toBe(2);
    expect(await sample(metrics, `${trips}_sum`)).toBe(1);
  });

  it('counts requests let through because the rate limiter failed open', async () => {
    // Authorization from memory, so only the rate limiter depends on this Redis.
    const own = createGatewayMetrics({ processMetrics: false });
    const errors: unknown[] = [];
    const rateLimiter = createRateLimiter({
      redis: t.redis,
      perToken: 1,
      perSourceProject: 0,
      windowSeconds: 60,
      onError: (e) => errors.push(e),
    });
    const g = await createTestGateway({
      upstream: t.upstream,
      gateway: { metrics: own, rateLimiter },
    });
    try {
      const token = await g.jobToken('acme/apps/web', 'alice');
      await redis.kill();
      for (let i = 0; i < 2; i++) expect((await g.gql(QUERY, {}, { token })).status).toBe(200);
      expect(errors).toHaveLength(2);
      expect(await sample(own, 'scopegate_rate_limit_events_total', { limit: 'failed_open' })).toBe(
        2,
      );
    } finally {
      await redis.restart();
      await g.close();
    }
  });
});
