/**
 * Fleet mode end to end: gateways sharing one real Redis (started and killed by the test),
 * the decision cache's round trips, fail-closed behaviour while Redis is away and recovery
 * when it returns.
 */
import { storedDecisionExpiry } from '../../src/cache/redis-decisions.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GqlResponse } from '../helpers/gateway.js';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const TARGET = 'acme/platform/registry';
const POLICY = {
  version: 1,
  projects: {
    [TARGET]: {
      enforcement: 'ENFORCED',
      entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
    },
  },
};
const READ = `{ project(fullPath: "${TARGET}") { releases { nodes { name } } tags { nodes { name } } } }`;
const DEBUG = { 'x-scopegate-debug': '1' };

interface ReadData {
  project: { releases: { nodes: unknown[] } | null; tags: { nodes: unknown[] } | null } | null;
}

const roundTrips = <T>(res: GqlResponse<T>): { redisRoundTrips: number; redisWrites: number } =>
  (res.body as { extensions?: { scopegate?: { redisRoundTrips: number; redisWrites: number } } })
    .extensions?.scopegate ?? { redisRoundTrips: -1, redisWrites: -1 };

const codes = <T>(res: GqlResponse<T>): string[] =>
  (res.body.errors ?? []).map((e) => String(e.extensions?.code));

async function pollUntil(check: () => Promise<boolean>, deadlineMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`condition not met within ${deadlineMs} ms`);
}

describe('gateways sharing one Redis', () => {
  let redis: TestRedis;
  let a: FleetGateway;
  let b: FleetGateway;
  let token: string;

  beforeAll(async () => {
    redis = await startRedis({ args: ['--appendonly', 'yes'] });
    a = await createFleetGateway(redis.url, { policy: POLICY });
    b = await createFleetGateway(redis.url, {
      upstream: a.upstream,
      extraIssuers: [a.issuer.options],
    });
    token = await a.jobToken('acme/apps/web', 'alice');
  });
  afterAll(async () => {
    await b.close();
    await a.close();
    await redis.stop();
  });

  it('enforces a profile change made through one instance on the other within the pub/sub delay', async () => {
    for (const g of [a, b]) {
      const res = await g.gql<ReadData>(READ, {}, { token });
      expect(res.body.data?.project?.releases?.nodes.length).toBeGreaterThan(0);
    }
    const id = a.seed.projects.find((p) => p.path_with_namespace === TARGET)!.id;
    const group = a.seed.groups.find((g) => g.full_path === 'acme/apps')!.id;
    await a.redisStore.removeEntry(id, 'GROUP', group);
    // The writer: no staleness at all.
    const own = await a.gql<ReadData>(READ, {}, { token });
    expect(own.body.data?.project?.releases).toBeNull();
    expect(own.body.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'NOT_IN_ALLOWLIST',
    });
    const took = await pollUntil(async () => {
      const res = await b.gql<ReadData>(READ, {}, { token });
      return res.body.data?.project?.releases === null;
    }, 2_000);
    expect(took).toBeLessThan(2_000);
    if (process.env['SG_REPORT'])
      console.log(`other instance enforced the change after ${took} ms`);
    await a.redisStore.addEntry(id, {
      sourceId: group,
      sourceKind: 'GROUP',
      sourcePath: 'acme/apps',
      defaultPermissions: false,
      permissions: { RELEASES: 'READ' },
      protectedRefsOnly: false,
      boundToUserRole: true,
    });
    await pollUntil(async () => {
      const res = await b.gql<ReadData>(READ, {}, { token });
      return (res.body.data?.project?.releases?.nodes.length ?? 0) > 0;
    }, 2_000);
  });

  it('costs one Redis round trip per resolution level with a cold process cache and none when warm', async () => {
    const paths = a.seed.projects.map((p) => p.path_with_namespace);
    const query = `{ ${paths
      .map(
        (p, i) =>
          `p${i}: project(fullPath: "${p}") { fullPath releases { nodes { name } } tags { nodes { name } } containerRepositories { nodes { name } } mergeRequest(iid: "1") { iid } }`,
      )
      .join(' ')} }`;
    const other = await a.jobToken('acme/bots/remediator', 'remediator-bot');
    const cold = await createFleetGateway(redis.url, {
      upstream: a.upstream,
      extraIssuers: [a.issuer.options],
    });
    try {
      const first = await cold.gql(query, {}, { token: other, headers: DEBUG });
      expect(first.status).toBe(200);
      expect(roundTrips(first).redisRoundTrips).toBe(1);
      const warm = await cold.gql(query, {}, { token: other, headers: DEBUG });
      expect(roundTrips(warm)).toEqual({ redisRoundTrips: 0, redisWrites: 0 });
      expect(warm.body).toEqual({ ...first.body, extensions: warm.body['extensions' as never] });
    } finally {
      await cold.close();
    }
    // A second cold process finds every decision in Redis: one round trip, nothing to write.
    const second = await createFleetGateway(redis.url, {
      upstream: a.upstream,
      extraIssuers: [a.issuer.options],
    });
    try {
      const res = await second.gql(query, {}, { token: other, headers: DEBUG });
      expect(roundTrips(res)).toEqual({ redisRoundTrips: 1, redisWrites: 0 });
    } finally {
      await second.close();
    }
  });

  it('answers POLICY_UNAVAILABLE with 503 while Redis is down, never allows what the policy denies, and recovers within 2 s', async () => {
    const g = await createFleetGateway(redis.url, {
      upstream: a.upstream,
      extraIssuers: [a.issuer.options],
      processTtlMs: 100,
    });
    const outcomes: string[] = [];
    let stop = false;
    const stream = (async () => {
      while (!stop) {
        const res = await g.gql<ReadData>(READ, {}, { token });
        // tags are never granted by the policy: any tags data would be a wrong allow.
        if (res.body.data?.project?.tags) outcomes.push('WRONG ALLOW');
        else if (res.body.data?.project?.releases) outcomes.push(`ok ${res.status}`);
        else outcomes.push(`${res.status} ${codes(res).join(',')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      await pollUntil(() => Promise.resolve(outcomes.length > 5), 5_000);
      await redis.kill();
      await pollUntil(() => Promise.resolve(outcomes.at(-1) === '503 POLICY_UNAVAILABLE'), 3_000);
      const ready = await fetch(`${g.gateway.url}/readyz`);
      expect(ready.status).toBe(503);
      await redis.restart();
      const recovered = await pollUntil(() => Promise.resolve(outcomes.at(-1) === 'ok 200'), 2_000);
      expect(recovered).toBeLessThan(2_000);
      if (process.env['SG_REPORT']) console.log(`recovered ${recovered} ms after restart`);
      expect((await fetch(`${g.gateway.url}/readyz`)).status).toBe(200);
    } finally {
      stop = true;
      await stream;
      await g.close();
    }
    expect(outcomes).not.toContain('WRONG ALLOW');
    const kinds = new Set(outcomes);
    expect([...kinds].sort()).toEqual(['503 POLICY_UNAVAILABLE', 'ok 200']);
  });

  it('answers 200 with partial data when only checks not yet decided fail closed', async () => {
    const g = await createFleetGateway(redis.url, {
      upstream: a.upstream,
      extraIssuers: [a.issuer.options],
    });
    try {
      const warm = await g.gql<ReadData>(READ, {}, { token });
      expect(warm.body.data?.project?.releases).not.toBeNull();
      await redis.kill();
      const res = await g.gql<{ held: unknown; other: unknown }>(
        `{ held: project(fullPath: "${TARGET}") { releases { nodes { name } } } other: project(fullPath: "acme/oss-lib") { fullPath } }`,
        {},
        { token },
      );
      expect(res.status).toBe(200);
      expect(res.body.data?.held).not.toBeNull();
      expect(res.body.data?.other).toBeNull();
      expect(res.body.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([
        [['other'], 'POLICY_UNAVAILABLE'],
      ]);
    } finally {
      await redis.restart();
      await g.close();
      // The suite's own gateways lost their connection too: until they are back they fail
      // closed (503), which the tests after this one are not about.
      for (const fleet of [a, b])
        await pollUntil(
          async () => (await fetch(`${fleet.gateway.url}/readyz`)).status === 200,
          10_000,
        );
    }
  });

  it('keeps a decision in Redis no longer than the token lives, and a role no longer than 60 s', async () => {
    const source = a.seed.projects.find((p) => p.path_with_namespace === 'acme/apps/api')!;
    const target = a.seed.projects.find((p) => p.path_with_namespace === TARGET)!;
    const exp = Math.floor(Date.now() / 1000) + 5;
    const short = await a.jobToken('acme/apps/api', 'bob', { claims: { exp } });
    const res = await a.gql<ReadData>(READ, {}, { token: short });
    expect(res.status).toBe(200);
    const conn = a.redis;
    // Decisions are fields of `sg:{p:<id>}:d:<version>:<bucket>`, each with its own expiry.
    let expiries: number[] = [];
    await pollUntil(async () => {
      expiries = [];
      for (const hash of await conn.keys(`sg:{p:${target.id}}:d:*`)) {
        const fields = await conn.hgetall(hash);
        for (const [field, value] of Object.entries(fields)) {
          if (field.startsWith(`j:${source.id}:`))
            expiries.push(storedDecisionExpiry(value) ?? Infinity);
        }
      }
      return expiries.length > 0;
    }, 2_000);
    for (const at of expiries) expect(at).toBeLessThanOrEqual(exp * 1000);
    const bob = a.seed.users.find((u) => u.username === 'bob')!;
    const rolePttl = await conn.pttl(`sg:{p:${target.id}}:role:${bob.id}`);
    expect(rolePttl).toBeGreaterThan(0);
    expect(rolePttl).toBeLessThanOrEqual(60_000);
  });
});
