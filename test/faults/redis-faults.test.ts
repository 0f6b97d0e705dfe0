/**
 * Redis misbehaving under a fleet-mode gateway, beyond the kill/restart of
 * `e2e/redis-fleet.test.ts`: paused (`CLIENT PAUSE`), blocked (`DEBUG SLEEP`), and writes of
 * every kind (resource mutations, profile changes) while it is away. Each time: fail closed
 * with POLICY_UNAVAILABLE (503 when nothing resolved), never a wrong allow, never an upstream
 * write without a decision, and recovery by itself, without a restart of the gateway.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GqlResponse } from '../helpers/gateway.js';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const TARGET = 'acme/platform/registry';
const SOURCE = 'acme/apps/web';
const POLICY = {
  version: 1,
  projects: {
    [TARGET]: {
      enforcement: 'ENFORCED',
      entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'WRITE' } }],
    },
  },
};
const READ = `{ project(fullPath: "${TARGET}") { releases { nodes { name } } tags { nodes { name } } } }`;

interface ReadData {
  project: { releases: { nodes: unknown[] } | null; tags: { nodes: unknown[] } | null } | null;
}

const codes = <T>(res: GqlResponse<T>): string[] =>
  (res.body.errors ?? []).map((e) => String(e.extensions?.code));

/** `ok`, `503 POLICY_UNAVAILABLE`, ... or `WRONG ALLOW` when the never-granted tags arrive. */
function outcome(res: GqlResponse<ReadData>): string {
  if (res.body.data?.project?.tags) return 'WRONG ALLOW';
  if (res.body.data?.project?.releases) return 'ok';
  return `${res.status} ${codes(res).join(',')}`;
}

async function pollUntil(check: () => Promise<boolean>, deadlineMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < deadlineMs) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`condition not met within ${deadlineMs} ms`);
}

describe('Redis paused, blocked or away under a fleet gateway', () => {
  let redis: TestRedis;
  let admin: Redis;
  let g: FleetGateway;
  let aliceJob: string;

  beforeAll(async () => {
    // AOF on every write: a killed Redis comes back with what it had.
    redis = await startRedis({
      args: ['--enable-debug-command', 'yes', '--appendonly', 'yes', '--appendfsync', 'always'],
    });
    admin = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 0 });
    admin.on('error', () => undefined);
    // A short process-cache TTL: every few requests need Redis again.
    g = await createFleetGateway(redis.url, { policy: POLICY, processTtlMs: 100 });
    aliceJob = await g.jobToken(SOURCE, 'alice');
  });
  afterAll(async () => {
    await g.close();
    admin.disconnect();
    await redis.stop();
  });

  /** Streams reads with fresh principals (cold decisions) while `fault` runs; returns outcomes. */
  async function underFault(fault: () => Promise<void>): Promise<string[]> {
    const outcomes: string[] = [];
    let stop = false;
    let n = 0;
    const stream = (async () => {
      while (!stop) {
        // A new job each time: its decision is not in any cache, so it needs Redis now.
        const token = await g.jobToken(SOURCE, 'alice', { claims: { job_id: String(++n) } });
        outcomes.push(outcome(await g.gql<ReadData>(READ, {}, { token })));
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    try {
      await pollUntil(() => Promise.resolve(outcomes.includes('ok')), 5_000);
      await fault();
      await pollUntil(() => Promise.resolve(outcomes.at(-1) === 'ok'), 5_000);
    } finally {
      stop = true;
      await stream;
    }
    return outcomes;
  }

  it('fails closed with 503 POLICY_UNAVAILABLE while clients are paused, and recovers by itself', async () => {
    const outcomes = await underFault(async () => {
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      await new Promise((r) => setTimeout(r, 1_600));
    });
    expect(outcomes).not.toContain('WRONG ALLOW');
    expect(outcomes).toContain('503 POLICY_UNAVAILABLE');
    expect(new Set(outcomes)).toEqual(new Set(['ok', '503 POLICY_UNAVAILABLE']));
  });

  it('fails closed while DEBUG SLEEP blocks the server, and recovers by itself', async () => {
    const sleeper = admin.duplicate({ commandTimeout: 5_000 });
    sleeper.on('error', () => undefined);
    try {
      const outcomes = await underFault(async () => {
        await sleeper.call('DEBUG', 'SLEEP', '1.5');
      });
      expect(outcomes).not.toContain('WRONG ALLOW');
      expect(outcomes).toContain('503 POLICY_UNAVAILABLE');
      expect(new Set(outcomes)).toEqual(new Set(['ok', '503 POLICY_UNAVAILABLE']));
    } finally {
      sleeper.disconnect();
    }
  });

  it('writes nothing upstream while Redis is away, even a write the policy would allow', async () => {
    const bob = await g.jobToken(SOURCE, 'alice', { claims: { job_id: '424242' } });
    // The tags exist: a release of a new tag would also be a tag write, which needs TAGS.
    for (const tag of ['v-redis-away', 'v-redis-back'])
      g.upstream.store.createTag(TARGET, { tag_name: tag, ref: 'main' });
    await redis.kill();
    // Past the process-cache TTL (100 ms): no decision is held any more.
    await new Promise((r) => setTimeout(r, 250));
    try {
      g.upstream.clearRequests();
      const allowed = await g.gql(
        `mutation { releaseCreate(input: { projectPath: "${TARGET}", tagName: "v-redis-away", ref: "main" }) { errors } }`,
        {},
        { token: bob },
      );
      expect(allowed.status).toBe(503);
      expect(codes(allowed)).toEqual(['POLICY_UNAVAILABLE']);
      const denied = await g.gql(
        `mutation { tagCreate(input: { projectPath: "${TARGET}", name: "t-redis-away", ref: "main" }) { errors } }`,
        {},
        { token: bob },
      );
      expect(codes(denied)).toEqual(['POLICY_UNAVAILABLE']);
      expect(g.upstream.writes()).toEqual([]);
    } finally {
      await redis.restart();
    }
    // Back without a restart of the gateway: the allowed write goes through, the other not.
    await pollUntil(async () => {
      const res = await g.gql(
        `mutation { releaseCreate(input: { projectPath: "${TARGET}", tagName: "v-redis-back", ref: "main" }) { errors } }`,
        {},
        { token: bob },
      );
      return res.status === 200 && codes(res).length === 0;
    }, 5_000);
    expect(g.upstream.writes().map((w) => `${w.method} ${w.path}`)).toEqual([
      `POST /api/v4/projects/${g.upstream.store.project(TARGET).id}/releases`,
    ]);
  });

  it('refuses a profile change while Redis is away with 503 POLICY_UNAVAILABLE and keeps the stored profile', async () => {
    const maintainer = await g.userToken('carol');
    const before = await g.redisStore.get(g.upstream.store.project(TARGET).id);
    await redis.kill();
    try {
      const res = await g.gql(
        `mutation { jobTokenScopeAddEntry(input: { projectPath: "${TARGET}", sourcePath: "acme/oss-lib", defaultPermissions: true }) { errors } }`,
        {},
        { token: maintainer },
      );
      expect(res.status).toBe(503);
      expect(codes(res)).toEqual(['POLICY_UNAVAILABLE']);
    } finally {
      await redis.restart();
    }
    await pollUntil(
      async () => outcome(await g.gql<ReadData>(READ, {}, { token: aliceJob })) === 'ok',
      5_000,
    );
    const after = await g.redisStore.get(g.upstream.store.project(TARGET).id);
    expect(after?.entries.map((e) => e.sourcePath)).toEqual(
      before?.entries.map((e) => e.sourcePath),
    );
  });
});
