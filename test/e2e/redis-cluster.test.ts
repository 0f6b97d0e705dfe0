/**
 * The same code on a real Redis Cluster of three masters (started by the test with
 * `redis-server --cluster-enabled yes` and `redis-cli --cluster create`): atomic profile
 * writes, the decision cache's per-slot pipelines, and the scenario table.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthLog } from '../../src/audit/auth-log.js';
import { createRedisAuthLogBackend } from '../../src/audit/auth-log-redis.js';
import { createRedisConnection, waitUntilReady } from '../../src/store/redis-client.js';
import { createRedisProfileStore } from '../../src/store/redis-profile-store.js';
import { createFleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { usageEvent } from '../helpers/usage.js';
import { loadScenarios, scenarioInstance, scenarioPolicyFile } from '../helpers/scenarios.js';
import { projectEntry } from '../helpers/entries.js';

const run = promisify(execFile);
const { cases } = loadScenarios();

async function startCluster(): Promise<{
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}> {
  const servers: TestRedis[] = [];
  for (let i = 0; i < 3; i++)
    servers.push(await startRedis({ args: ['--cluster-enabled', 'yes'] }));
  const nodes = servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  await run('redis-cli', [
    '--cluster',
    'create',
    ...nodes.map((n) => `${n.host}:${n.port}`),
    '--cluster-replicas',
    '0',
    '--cluster-yes',
  ]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const infos = await Promise.all(
      nodes.map(
        async (n) => (await run('redis-cli', ['-p', String(n.port), 'cluster', 'info'])).stdout,
      ),
    );
    if (infos.every((i) => i.includes('cluster_state:ok'))) break;
    if (Date.now() > deadline) throw new Error('the cluster did not become ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { nodes, stop: async () => void (await Promise.all(servers.map((s) => s.stop()))) };
}

const entry = projectEntry;

describe('on a 3-master Redis Cluster', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  beforeAll(async () => {
    cluster = await startCluster();
  }, 30_000);
  afterAll(async () => cluster.stop());

  it('keeps 50 concurrent entry additions on each of several projects', async () => {
    const redis = createRedisConnection({ clusterNodes: cluster.nodes });
    await waitUntilReady(redis);
    try {
      const store = createRedisProfileStore({ redis });
      const projects = [1, 2, 3, 4, 5, 6];
      await Promise.all(
        projects.flatMap((p) => Array.from({ length: 50 }, (_, i) => store.addEntry(p, entry(i)))),
      );
      for (const p of projects) expect((await store.get(p))?.entries).toHaveLength(50);
      await store.replaceAll([{ projectId: 2, enforcement: 'AUDIT', entries: [entry(1)] }]);
      expect((await store.list()).map((p) => [p.projectId, p.entries.length])).toEqual([[2, 1]]);
    } finally {
      redis.disconnect();
    }
  });

  it('writes the authorization log of many targets across slots in one flush, and reads it back', async () => {
    const redis = createRedisConnection({ clusterNodes: cluster.nodes });
    await waitUntilReady(redis);
    try {
      const log = createAuthLog({
        backend: createRedisAuthLogBackend({ redis }),
        flushIntervalMs: 0,
      });
      const targets = Array.from({ length: 12 }, (_, i) => 1000 + i);
      for (const t of targets)
        for (let n = 0; n < 3; n += 1)
          log.record(
            usageEvent({ targetProjectId: t, targetPath: `acme/t${t}`, at: 1_700_000_000_000 + n }),
          );
      await log.flush();
      expect(log.stats()).toMatchObject({ flushed: 36, flushErrors: 0, dropped: 0 });
      expect((await log.targets()).sort()).toEqual(targets);
      for (const t of targets)
        expect(await log.list(t)).toMatchObject([{ sourceProjectId: 102, allowed: 3 }]);
      await log.close();
    } finally {
      redis.disconnect();
    }
  });

  it('decides every scenario as on a single node, reading decisions back from the Cluster', async () => {
    for (const c of cases) {
      const a = await createFleetGateway(
        { clusterNodes: cluster.nodes },
        { instance: scenarioInstance(c) },
      );
      const b = await createFleetGateway(
        { clusterNodes: cluster.nodes },
        {
          instance: scenarioInstance(c),
          upstream: a.upstream,
          extraIssuers: [a.issuer.options],
        },
      );
      try {
        await a.setPolicy(scenarioPolicyFile(c));
        const token = await a.jobToken(c.token.project, c.token.user, {
          refProtected: c.token.refProtected,
          ...(c.token.jobPermissions ? { jobPermissions: { ...c.token.jobPermissions } } : {}),
          ...(c.token.userLoginOverride ? { userLogin: c.token.userLoginOverride } : {}),
        });
        const query = `{ project(fullPath: "${c.target}") { jobTokenPermissions { resource level } } }`;
        const cold = await a.gql<{
          project: { jobTokenPermissions: { resource: string; level: string }[] } | null;
        }>(query, {}, { token });
        const other = await b.gql(query, {}, { token, headers: { 'x-scopegate-debug': '1' } });
        const levels = cold.body.data?.project?.jobTokenPermissions;
        const expected = levels
          ? Object.fromEntries(levels.map((r) => [r.resource, r.level]))
          : undefined;
        expect({ name: c.name, levels: expected ?? c.expect }).toEqual({
          name: c.name,
          levels: c.expect,
        });
        expect(other.body.data).toEqual(cold.body.data);
        expect((other.body as { extensions?: unknown }).extensions).toEqual({
          scopegate: { redisRoundTrips: 1, redisWrites: 0 },
        });
      } finally {
        await b.close();
        await a.close();
      }
    }
  }, 60_000);

  it('reads the decisions of every project of a level in one wave of per-slot pipelines, none when warm', async () => {
    const g = await createFleetGateway({ clusterNodes: cluster.nodes });
    try {
      const query = `{ ${g.seed.projects
        .map(
          (p, i) =>
            `p${i}: project(fullPath: "${p.path_with_namespace}") { fullPath releases { nodes { name } } }`,
        )
        .join(' ')} }`;
      const token = await g.jobToken('acme/bots/remediator', 'remediator-bot');
      const debug = { token, headers: { 'x-scopegate-debug': '1' } };
      const cold = await g.gql(query, {}, debug);
      const warm = await g.gql(query, {}, debug);
      const trips = (r: typeof cold) =>
        (r.body as { extensions?: { scopegate?: unknown } }).extensions?.scopegate;
      expect(trips(cold)).toEqual({ redisRoundTrips: 1, redisWrites: 1 });
      expect(trips(warm)).toEqual({ redisRoundTrips: 0, redisWrites: 0 });
      expect(warm.body.data).toEqual(cold.body.data);
    } finally {
      await g.close();
    }
  });
});
