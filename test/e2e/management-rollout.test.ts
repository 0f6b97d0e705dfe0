/**
 * The rollout story end to end, over HTTP with a real Redis (DESIGN.md section 1): a project in
 * AUDIT mode, jobs from three projects use it, autopopulate previews exactly those three sources
 * at the levels they used, applies them, switches to ENFORCED, the same jobs keep working and a
 * fourth project is denied. Every change is an audit event in the Redis stream and the JSON log,
 * and none of them carries a token, a secret or the upstream credential.
 */
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChangeEvents } from '../../src/audit/change-events.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { createLogger } from '../../src/audit/logger.js';
import {
  createRedisConnection,
  waitUntilReady,
  type RedisConnection,
} from '../../src/store/redis-client.js';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';
import { codes, ok } from './management-fixtures.js';

const TARGET = 'acme/platform/registry';
const READ_RELEASES = `{ project(fullPath: "${TARGET}") { releases { nodes { tagName } } } }`;
const READ_TAGS = `{ project(fullPath: "${TARGET}") { tags { nodes { name } } } }`;
const WRITE_NOTE = `mutation { mergeRequestNoteCreate(input: { projectPath: "${TARGET}", iid: "1", body: "auto-remediation" }) { note { body } errors } }`;
const SET_MODE = `mutation($m: JobTokenEnforcement!) { jobTokenScopeSetEnforcement(input: { projectPath: "${TARGET}", mode: $m }) { jobTokenScope { enforcement } errors } }`;
const AUTOPOPULATE = `mutation($preview: Boolean, $enforce: Boolean) {
  jobTokenScopeAutopopulate(input: { projectPath: "${TARGET}", preview: $preview, enforce: $enforce }) {
    entries { source { fullPath kind } permissions { resource level } coveredSources }
    applied errors jobTokenScope { enforcement entries { source { fullPath } autopopulated addedBy lastUsedAt } }
  } }`;
const AUTH_LOG = `{ project(fullPath: "${TARGET}") { jobTokenAuthLog(first: 10) { nodes {
  sourceProject { fullPath } lastUserIsBot permissionsUsed { resource level } allowedCount deniedCount auditWouldDenyCount } } } }`;

interface Proposed {
  source: { fullPath: string; kind: string };
  permissions: { resource: string; level: string }[];
}

let redis: TestRedis;
let conn: RedisConnection;
let t: FleetGateway;
const logLines: string[] = [];
const secrets: string[] = [];
let maintainer: string;
let jobs: { web: string; releaser: string; bot: string; fourth: string };

beforeAll(async () => {
  redis = await startRedis();
  conn = createRedisConnection({ url: redis.url });
  await waitUntilReady(conn);
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) =>
    logLines.push(...chunk.toString('utf8').split('\n').filter(Boolean)),
  );
  const world = loadSeedFile(SCENARIOS_PATH);
  const seed = {
    ...world,
    users: world.users.map((u) => (u.username === 'remediator-bot' ? { ...u, bot: true } : u)),
  };
  t = await createFleetGateway(redis.url, {
    seed,
    gateway: {
      logger: createLogger({ destination: out }),
      management: { redis: conn, authLogFlushIntervalMs: 50 },
    },
  });
  maintainer = await t.userToken('carol');
  jobs = {
    web: await t.jobToken('acme/apps/web', 'alice'),
    releaser: await t.jobToken('acme/platform/tools/releaser', 'alice'),
    bot: await t.jobToken('acme/bots/remediator', 'remediator-bot'),
    fourth: await t.jobToken('globex/portal', 'remediator-bot'),
  };
  secrets.push(maintainer, ...Object.values(jobs), t.upstream.token);
});
afterAll(async () => {
  await t.close();
  conn.disconnect();
  await redis.stop();
});

async function runJobs(): Promise<void> {
  ok(await t.gql(READ_RELEASES, {}, { token: jobs.web }));
  ok(await t.gql(READ_TAGS, {}, { token: jobs.releaser }));
  ok(await t.gql(WRITE_NOTE, {}, { token: jobs.bot }));
}

describe('rolling out an allowlist from observed usage', () => {
  it('lets every job through in AUDIT mode and proposes exactly the three sources at the levels used', async () => {
    ok(await t.gql(SET_MODE, { m: 'AUDIT' }, { token: maintainer }));
    await runJobs();
    const res = await t.gql(AUTOPOPULATE, { preview: true }, { token: maintainer });
    const data = ok<{ jobTokenScopeAutopopulate: { entries: Proposed[]; applied: boolean } }>(res);
    expect(data.jobTokenScopeAutopopulate.applied).toBe(false);
    expect(
      data.jobTokenScopeAutopopulate.entries.map((e) => [
        e.source.fullPath,
        e.source.kind,
        e.permissions,
      ]),
    ).toEqual([
      ['acme/apps/web', 'PROJECT', [{ resource: 'RELEASES', level: 'READ' }]],
      ['acme/bots/remediator', 'PROJECT', [{ resource: 'MERGE_REQUEST_NOTES', level: 'WRITE' }]],
      ['acme/platform/tools/releaser', 'PROJECT', [{ resource: 'TAGS', level: 'READ' }]],
    ]);
    expect((await t.store.get(101))?.entries ?? []).toEqual([]);
  });

  it('shows the usage in the authorization log, telling the bot apart', async () => {
    const res = await t.gql(AUTH_LOG, {}, { token: maintainer });
    const nodes = ok<{ project: { jobTokenAuthLog: { nodes: Record<string, unknown>[] } } }>(res)
      .project.jobTokenAuthLog.nodes;
    const bot = nodes.find(
      (n) => (n['sourceProject'] as { fullPath: string }).fullPath === 'acme/bots/remediator',
    );
    expect(nodes).toHaveLength(3);
    expect(bot).toMatchObject({ lastUserIsBot: true, deniedCount: 0 });
    expect(Number(bot?.['auditWouldDenyCount'])).toBeGreaterThan(0);
  });

  it('applies the entries, switches to ENFORCED, keeps the same jobs working and denies a fourth project', async () => {
    const res = await t.gql(AUTOPOPULATE, { preview: false, enforce: true }, { token: maintainer });
    const data = ok<{
      jobTokenScopeAutopopulate: {
        applied: boolean;
        errors: string[];
        jobTokenScope: {
          enforcement: string;
          entries: { autopopulated: boolean; addedBy: string }[];
        };
      };
    }>(res);
    expect(data.jobTokenScopeAutopopulate).toMatchObject({ applied: true, errors: [] });
    expect(data.jobTokenScopeAutopopulate.jobTokenScope.enforcement).toBe('ENFORCED');
    expect(data.jobTokenScopeAutopopulate.jobTokenScope.entries).toHaveLength(3);
    expect(
      data.jobTokenScopeAutopopulate.jobTokenScope.entries.every(
        (e) => e.autopopulated && e.addedBy === '5',
      ),
    ).toBe(true);

    await runJobs();
    const denied = await t.gql(READ_RELEASES, {}, { token: jobs.fourth });
    expect(codes(denied)).toEqual(['FORBIDDEN']);
    expect(denied.body.errors?.[0]?.extensions).toMatchObject({
      reason: 'NOT_IN_ALLOWLIST',
      resource: 'RELEASES',
    });
  });

  it('names the entry that let each source through in the authorization log, by its path', async () => {
    await new Promise((r) => setTimeout(r, 150)); // one more authorization log flush
    const res = await t.gql(
      `{ project(fullPath: "${TARGET}") {
        jobTokenScope { entries { source { fullPath kind } } }
        jobTokenAuthLog(first: 10) { nodes { sourceProject { fullPath } matchedEntry { fullPath kind } } } } }`,
      {},
      { token: maintainer },
    );
    const project = ok<{
      project: {
        jobTokenScope: { entries: { source: { fullPath: string; kind: string } }[] };
        jobTokenAuthLog: {
          nodes: { matchedEntry: { fullPath: string; kind: string } | null }[];
        };
      };
    }>(res).project;
    const entries = project.jobTokenScope.entries.map((e) => e.source);
    const matched = project.jobTokenAuthLog.nodes.flatMap((n) => n.matchedEntry ?? []);
    // The jobs run since enforcement were let through by the autopopulated entries.
    expect(matched.length).toBeGreaterThan(0);
    for (const m of matched) expect(entries).toContainEqual(m);
  });

  it('wrote every change as an audit event with who, target, source, before and after', async () => {
    const events = await readChangeEvents(conn);
    expect(events.map((e) => e.action)).toEqual([
      'ENFORCEMENT_SET',
      'ENTRIES_AUTOPOPULATED',
      'ENTRIES_AUTOPOPULATED',
      'ENTRIES_AUTOPOPULATED',
      'ENFORCEMENT_SET',
    ]);
    expect(events[0]).toMatchObject({
      actor: { userId: 5, username: 'carol', admin: false },
      target: { projectId: 101, fullPath: TARGET },
      before: { enforcement: null },
      after: { enforcement: 'AUDIT' },
    });
    expect(events[1]?.source).toMatchObject({ kind: 'PROJECT', fullPath: 'acme/apps/web' });
    expect(events[1]?.before).toEqual({ entry: null });
    expect(events.every((e) => typeof e.requestId === 'string' && e.requestId.length > 0)).toBe(
      true,
    );
    expect(logLines.filter((l) => l.includes('"jobTokenScope.changed"'))).toHaveLength(5);
  });

  it('never writes a token, a secret or the upstream credential into an audit event or log line', async () => {
    await new Promise((r) => setTimeout(r, 150)); // one more authorization log flush
    const stream = await conn.xrange('sg:{audit}:changes', '-', '+');
    const usage = await conn.xrange('sg:{audit}:authz', '-', '+');
    expect(usage.length).toBeGreaterThan(0);
    const everything = [JSON.stringify(stream), JSON.stringify(usage), ...logLines].join('\n');
    for (const secret of secrets) expect(everything.includes(secret)).toBe(false);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
    expect(everything.toLowerCase()).not.toContain('bearer');
  });
});
