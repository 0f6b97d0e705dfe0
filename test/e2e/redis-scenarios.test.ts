/**
 * The shared scenario table with the Redis profile store and the decision cache: every case's
 * levels, reasons and audit flag, read cold (computed, written to Redis), warm (process cache)
 * and by a second instance with a cold process cache (decision read back from Redis).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOURCES } from '../../src/policy/types.js';
import { createFleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { loadScenarios, scenarioInstance, scenarioPolicyFile } from '../helpers/scenarios.js';

const { cases } = loadScenarios();

const QUERY = /* GraphQL */ `
  query ($p: ID!) {
    project(fullPath: $p) {
      jobTokenPermissions {
        resource
        level
        reason
        auditWouldDeny
      }
    }
  }
`;

interface Row {
  resource: string;
  level: string;
  reason: string;
  auditWouldDeny: boolean;
}

describe('scenario table with the Redis store and decision cache', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => redis.stop());

  for (const c of cases) {
    it(`${c.name}: same decision cold, warm and from another instance`, async () => {
      await redis.kill();
      await redis.restart(); // persistence is off: a clean Redis per case
      const a = await createFleetGateway(redis.url, { instance: scenarioInstance(c) });
      const b = await createFleetGateway(redis.url, {
        instance: scenarioInstance(c),
        upstream: a.upstream,
        extraIssuers: [a.issuer.options],
      });
      try {
        await a.setPolicy(scenarioPolicyFile(c));
        const token = await a.jobToken(c.token.project, c.token.user, {
          refProtected: c.token.refProtected,
          ...(c.token.jobPermissions ? { jobPermissions: { ...c.token.jobPermissions } } : {}),
          ...(c.token.userLoginOverride ? { userLogin: c.token.userLoginOverride } : {}),
        });
        const answers = [];
        const trips = [];
        for (const g of [a, a, b]) {
          const res = await g.gql<{ project: { jobTokenPermissions: Row[] } | null }>(
            QUERY,
            { p: c.target },
            { token, headers: { 'x-scopegate-debug': '1' } },
          );
          expect(res.status).toBe(200);
          const { extensions, ...body } = res.body as typeof res.body & { extensions?: unknown };
          trips.push(extensions);
          answers.push(body);
        }
        // Cold: one read; warm: nothing; the other instance: one read and nothing to recompute.
        expect(trips.slice(1)).toEqual([
          { scopegate: { redisRoundTrips: 0, redisWrites: 0 } },
          { scopegate: { redisRoundTrips: 1, redisWrites: 0 } },
        ]);
        expect(answers[1]).toEqual(answers[0]);
        expect(answers[2]).toEqual(answers[0]);
        const rows = answers[0]?.data?.project?.jobTokenPermissions;
        if (!rows) {
          expect(c.expect).toEqual(Object.fromEntries(RESOURCES.map((r) => [r, 'NONE'])));
          return;
        }
        const by = new Map(rows.map((r) => [r.resource, r]));
        expect(Object.fromEntries(RESOURCES.map((r) => [r, by.get(r)?.level]))).toEqual(c.expect);
        for (const [resource, reason] of Object.entries(c.reasons ?? {}))
          expect({ resource, reason: by.get(resource)?.reason }).toEqual({ resource, reason });
        expect(rows.some((r) => r.auditWouldDeny)).toBe(c.auditWouldDeny ?? false);
      } finally {
        await b.close();
        await a.close();
      }
    });
  }
});
