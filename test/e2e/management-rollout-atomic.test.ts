/**
 * Autopopulate writes its whole plan, and the switch to ENFORCED, in one store write or not at
 * all. Before, it added entries one by one: an entry limit (or Redis failing) part-way left some
 * entries written and audited while the answer reported errors, and two maintainers applying
 * the plan at once through two instances got "already has an entry" errors for each other's
 * entries. Now a plan that does not fit writes nothing and says so, and a plan that another
 * write overtook is made again on what is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChangeEvents } from '../../src/audit/change-events.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { createRedisConnection, waitUntilReady } from '../../src/store/redis-client.js';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';
import { ok } from './management-fixtures.js';

const TARGET = 'acme/platform/registry';
const TARGET_ID = 101;
const SET_MODE = `mutation($m: JobTokenEnforcement!) { jobTokenScopeSetEnforcement(input: { projectPath: "${TARGET}", mode: $m }) { errors } }`;
const AUTOPOPULATE = `mutation {
  jobTokenScopeAutopopulate(input: { projectPath: "${TARGET}", preview: false, enforce: true }) {
    entries { source { fullPath } } applied errors jobTokenScope { enforcement entries { source { fullPath } } }
  } }`;
const JOB_CALLS: [string, string, string][] = [
  [
    'acme/apps/web',
    'alice',
    `{ project(fullPath: "${TARGET}") { releases { nodes { tagName } } } }`,
  ],
  [
    'acme/platform/tools/releaser',
    'alice',
    `{ project(fullPath: "${TARGET}") { tags { nodes { name } } } }`,
  ],
  [
    'acme/bots/remediator',
    'alice',
    `{ project(fullPath: "${TARGET}") { releases { nodes { name } } } }`,
  ],
];

interface Payload {
  jobTokenScopeAutopopulate: {
    entries: { source: { fullPath: string } }[];
    applied: boolean;
    errors: string[];
    jobTokenScope: { enforcement: string; entries: unknown[] } | null;
  };
}

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

/** A fleet of `n` instances sharing one Redis for profiles and the authorization log. */
async function fleet(n: number, storeLimits?: { maxProjectEntries: number }) {
  const conn = createRedisConnection({ url: redis.url });
  await waitUntilReady(conn);
  await conn.flushall();
  const seed = loadSeedFile(SCENARIOS_PATH);
  const first = await createFleetGateway(redis.url, {
    seed,
    ...(storeLimits ? { storeLimits } : {}),
    gateway: { management: { redis: conn, authLogFlushIntervalMs: 50 } },
  });
  const all: FleetGateway[] = [first];
  for (let i = 1; i < n; i++) {
    all.push(
      await createFleetGateway(redis.url, {
        seed,
        upstream: first.upstream,
        gateway: { management: { redis: conn, authLogFlushIntervalMs: 50 } },
      }),
    );
  }
  // The target observes three other projects' jobs in AUDIT mode.
  ok(await first.gql(SET_MODE, { m: 'AUDIT' }, { token: await first.userToken('carol') }));
  for (const [source, user, query] of JOB_CALLS)
    ok(await first.gql(query, {}, { token: await first.jobToken(source, user) }));
  return {
    all,
    conn,
    async close() {
      for (const g of all.reverse()) await g.close();
      conn.disconnect();
    },
  };
}

describe('autopopulate writes all of its plan or nothing', () => {
  it('writes nothing, and does not enforce, when the plan passes an entry limit', async () => {
    const f = await fleet(1, { maxProjectEntries: 2 });
    try {
      const [g] = f.all as [FleetGateway];
      const before = await g.redisStore.get(TARGET_ID);
      const res = await g.gql(AUTOPOPULATE, {}, { token: await g.userToken('carol') });
      const out = ok<Payload>(res).jobTokenScopeAutopopulate;
      expect(out.entries).toHaveLength(3);
      expect(out.applied).toBe(false);
      expect(out.errors).toEqual([
        'a project may have at most 2 project entries; nothing was written',
        'the project was not switched to ENFORCED',
      ]);
      expect(out.jobTokenScope).toMatchObject({ enforcement: 'AUDIT', entries: [] });
      expect(await g.redisStore.get(TARGET_ID)).toEqual(before);
      const actions = (await readChangeEvents(f.conn)).map((e) => e.action);
      expect(actions).toEqual(['ENFORCEMENT_SET']); // only the switch to AUDIT above
    } finally {
      await f.close();
    }
  }, 30_000);

  it('applies the plan once when two maintainers apply it through two instances at once', async () => {
    const f = await fleet(2);
    try {
      const [a, b] = f.all as [FleetGateway, FleetGateway];
      const [r1, r2] = await Promise.all([
        a.gql(AUTOPOPULATE, {}, { token: await a.userToken('carol') }),
        b.gql(AUTOPOPULATE, {}, { token: await b.userToken('carol') }),
      ]);
      for (const r of [r1, r2]) {
        const out = ok<Payload>(r).jobTokenScopeAutopopulate;
        expect(out).toMatchObject({ applied: true, errors: [] });
        expect(out.jobTokenScope).toMatchObject({ enforcement: 'ENFORCED' });
        expect(out.jobTokenScope?.entries).toHaveLength(3);
      }
      const stored = await a.redisStore.get(TARGET_ID);
      expect(stored?.entries).toHaveLength(3);
      expect(stored?.enforcement).toBe('ENFORCED');
      // Each entry and the switch are audited once, not once per instance.
      const actions = (await readChangeEvents(f.conn)).map((e) => e.action);
      expect(actions).toEqual([
        'ENFORCEMENT_SET',
        'ENTRIES_AUTOPOPULATED',
        'ENTRIES_AUTOPOPULATED',
        'ENTRIES_AUTOPOPULATED',
        'ENFORCEMENT_SET',
      ]);
    } finally {
      await f.close();
    }
  }, 30_000);
});
