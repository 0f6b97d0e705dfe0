import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const READ_TAGS = '{ project(fullPath: "acme/platform/registry") { tags { nodes { name } } } }';
const DROP = `mutation($p: ID!, $u: ID) { jobTokenRolesDrop(input: { projectPath: $p, userId: $u }) { dropped errors } }`;

describe('jobTokenRolesDrop', () => {
  let redis: TestRedis;
  let t: FleetGateway;
  let admin: string;

  beforeAll(async () => {
    redis = await startRedis();
    // A long process-cache TTL, so only the drop (never a TTL) can explain a fresh role.
    t = await createFleetGateway(redis.url, { adminUserIds: ['5'], processTtlMs: 600_000 });
    admin = await t.userToken('carol');
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('makes a role lowered on the forge apply at once instead of after the role TTL', async () => {
    // bob is a Reporter of acme/platform/registry in the scenario world: tags READ.
    const job = await t.jobToken('acme/platform/registry', 'bob');
    const before = await t.gql(READ_TAGS, {}, { token: job });
    expect(before.body.errors).toBeUndefined();

    t.upstream.store.setProjectMember('acme/platform/registry', 2, 10); // now a Guest
    const cached = await t.gql(READ_TAGS, {}, { token: job });
    expect(cached.body.errors).toBeUndefined(); // still the cached Reporter role

    const drop = await t.gql<{ jobTokenRolesDrop: { dropped: boolean } }>(
      DROP,
      { p: 'acme/platform/registry', u: '2' },
      { token: admin },
    );
    expect(drop.body.data?.jobTokenRolesDrop.dropped).toBe(true);

    const after = await t.gql(READ_TAGS, {}, { token: job });
    expect(after.body.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      resource: 'TAGS',
      reason: 'ROLE_TOO_LOW',
    });
  });

  it('refuses people who are not instance admins, and job tokens', async () => {
    for (const token of [await t.userToken('alice'), await t.jobToken('acme/apps/web', 'alice')]) {
      const res = await t.gql(DROP, { p: 'acme/platform/registry' }, { token });
      expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(res.body.data?.['jobTokenRolesDrop']).toBeNull();
    }
  });

  it('answers NOT_FOUND for a project that does not exist and BAD_USER_INPUT for a bad user id', async () => {
    const missing = await t.gql(DROP, { p: 'acme/nope' }, { token: admin });
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const bad = await t.gql(DROP, { p: 'acme/platform/registry', u: 'alice' }, { token: admin });
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
