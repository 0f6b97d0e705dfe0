import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const TARGET = 'acme/platform/registry';
const SCOPE = `{ project(fullPath: "${TARGET}") { jobTokenScope { enforcement } jobTokenAuthLog { nodes { lastUsedAt } } } }`;
const SET = `mutation { jobTokenScopeSetEnforcement(input: { projectPath: "${TARGET}", mode: AUDIT }) { errors } }`;

describe('management while Redis is away', () => {
  let redis: TestRedis;
  let t: FleetGateway;
  let admin: string;

  beforeAll(async () => {
    redis = await startRedis();
    // A long process-cache TTL keeps the project's decision held, so the store itself is reached.
    t = await createFleetGateway(redis.url, { adminUserIds: ['5'], processTtlMs: 600_000 });
    admin = await t.userToken('carol');
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('answers POLICY_UNAVAILABLE (never a masked internal error) for profile reads and writes, and recovers', async () => {
    const warm = await t.gql(SCOPE, {}, { token: admin });
    expect(warm.body.errors).toBeUndefined();

    await redis.kill();
    const read = await t.gql(SCOPE, {}, { token: admin });
    const write = await t.gql(SET, {}, { token: admin });
    for (const res of [read, write]) {
      const codes = (res.body.errors ?? []).map((e) => e.extensions?.code);
      expect(codes.length).toBeGreaterThan(0);
      expect(new Set(codes)).toEqual(new Set(['POLICY_UNAVAILABLE']));
    }

    await redis.restart();
    const deadline = Date.now() + 5_000;
    let after = await t.gql(SCOPE, {}, { token: admin });
    while (after.body.errors && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await t.gql(SCOPE, {}, { token: admin });
    }
    expect(after.body.errors).toBeUndefined();
  });
});
