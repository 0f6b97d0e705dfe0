/**
 * Two Maintainers update different fields of the same allowlist entry at the same time, through
 * two instances of a fleet. Each mutation reads the entry, merges its own fields and writes it
 * back only if the profile is still at the version it read (else it reads again): neither
 * undoes the other, and both ENTRY_UPDATED events describe what was stored. Before, the later
 * write silently undid the earlier one (found by an adversarial review: 10 of 10 rounds).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import {
  ADMIN_ID,
  roleWorld,
  SOURCE,
  startProfile,
  TARGET,
  TARGET_ID,
} from './management-fixtures.js';

const UPDATE = `mutation($i: JobTokenScopeUpdateEntryInput!) { jobTokenScopeUpdateEntry(input: $i) { errors } }`;

let redis: TestRedis;
let a: FleetGateway;
let b: FleetGateway;

beforeAll(async () => {
  redis = await startRedis();
  a = await createFleetGateway(redis.url, { seed: roleWorld(), adminUserIds: [ADMIN_ID] });
  b = await createFleetGateway(redis.url, {
    seed: roleWorld(),
    adminUserIds: [ADMIN_ID],
    upstream: a.upstream,
  });
}, 30_000);
afterAll(async () => {
  await b.close();
  await a.close();
  await redis.stop();
});

describe('concurrent updates of one allowlist entry', () => {
  it('keeps both changes when two maintainers update different fields at once', async () => {
    const mia = await a.userToken('mia');
    const miaB = await b.userToken('mia');
    let lost = 0;
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      await a.redisStore.replaceAll([startProfile('ENFORCED')]);
      // One tightens the entry (protected refs only), the other changes its levels.
      const [r1, r2] = await Promise.all([
        a.gql(
          UPDATE,
          { i: { projectPath: TARGET, sourcePath: SOURCE, protectedRefsOnly: true } },
          { token: mia },
        ),
        b.gql(
          UPDATE,
          {
            i: {
              projectPath: TARGET,
              sourcePath: SOURCE,
              permissions: [{ resource: 'TAGS', level: 'WRITE' }],
            },
          },
          { token: miaB },
        ),
      ]);
      expect(r1.body.errors, r1.text).toBeUndefined();
      expect(r2.body.errors, r2.text).toBeUndefined();
      const stored = (await a.redisStore.get(TARGET_ID))?.entries[0];
      if (!(stored?.protectedRefsOnly === true && stored.permissions.TAGS === 'WRITE')) lost++;
    }
    expect(lost, `${lost} of ${rounds} rounds lost one of the two acknowledged updates`).toBe(0);
  }, 60_000);
});
