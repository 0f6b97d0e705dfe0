/**
 * `scopegate policy export` / `import`: exporting every scenario's policy from one Redis and
 * importing it into an empty one reproduces identical decisions for the whole scenario table;
 * import is a dry run with a readable diff until `--apply`. Real Redis servers and the embedded
 * forge; nothing mocked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { exportPolicy, importPolicy, replaceAudited } from '../../src/cli/policy.js';
import { diffPolicies, diffStoredProfiles, formatChange } from '../../src/cli/policy-diff.js';
import type { ChangeLog, PolicyImportEvent } from '../../src/audit/change-events.js';
import { createMemoryProfileStore, type ProfileStore } from '../../src/store/profile-store.js';
import type { AllowlistEntry } from '../../src/policy/types.js';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { decide } from '../../src/policy/engine.js';
import { parsePolicyFile, serializePolicyFile } from '../../src/policy/policy-file.js';
import { resolvePolicyFile } from '../../src/store/policy-loader.js';
import { createRedisConnection, waitUntilReady } from '../../src/store/redis-client.js';
import {
  createRedisProfileStore,
  type RedisProfileStore,
} from '../../src/store/redis-profile-store.js';
import { createUpstreamClient, type UpstreamClient } from '../../src/upstream/client.js';
import { startRedisProxy } from '../helpers/redis-proxy.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import {
  loadScenarios,
  scenarioDecisionInput,
  scenarioPolicyFile,
  SCENARIOS_PATH,
  worldProject,
} from '../helpers/scenarios.js';

const { world, cases } = loadScenarios();
let upstream: DemoUpstream;
let client: UpstreamClient;
const servers: TestRedis[] = [];
const conns: Redis[] = [];
let source: RedisProfileStore;
let empty: RedisProfileStore;
let emptyConn: Redis;

beforeAll(async () => {
  upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
  client = createUpstreamClient({ baseUrl: upstream.url, token: upstream.token });
  for (let i = 0; i < 2; i++) {
    const server = await startRedis();
    servers.push(server);
    conns.push(new Redis(server.url));
  }
  const [a, b] = conns;
  if (!a || !b) throw new Error('two Redis connections expected');
  source = createRedisProfileStore({ redis: a });
  empty = createRedisProfileStore({ redis: b });
  emptyConn = b;
});
afterAll(async () => {
  for (const c of conns) c.disconnect();
  for (const s of servers) await s.stop();
  await upstream.close();
});

describe('policy export and import', () => {
  it.each(cases.map((c) => ({ name: c.name, c })))(
    'reproduces identical decisions after export and import: $name',
    async ({ c }) => {
      await source.replaceAll(await resolvePolicyFile(scenarioPolicyFile(c), client));
      await emptyConn.flushall();
      const { file, warnings } = await exportPolicy(source, client);
      expect(warnings).toEqual([]);
      const text = serializePolicyFile(file);
      await importPolicy(empty, client, parsePolicyFile(JSON.parse(text)), true);
      const targetId = worldProject(world, c.target).id;
      const input = scenarioDecisionInput(world, c);
      const before = decide({ ...input, profile: await source.get(targetId) });
      const after = decide({ ...input, profile: await empty.get(targetId) });
      expect(after).toEqual(before);
      for (const [resource, level] of Object.entries(c.expect))
        expect(after.resources[resource as keyof typeof after.resources].level).toBe(level);
      expect(serializePolicyFile((await exportPolicy(empty, client)).file)).toBe(text);
    },
  );

  it('shows a dry-run diff and writes nothing until --apply', async () => {
    await emptyConn.flushall();
    const file = parsePolicyFile({
      version: 1,
      projects: {
        'acme/platform/registry': {
          enforcement: 'AUDIT',
          entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
        },
      },
    });
    const changes = await importPolicy(empty, client, file, false);
    expect(changes.map(formatChange)).toEqual([
      'acme/platform/registry: enforcement (no profile) -> AUDIT',
      'acme/platform/registry: + group acme/apps {"RELEASES":"READ"}',
    ]);
    expect(await empty.list()).toEqual([]);
    await importPolicy(empty, client, file, true);
    expect((await empty.get(101))?.enforcement).toBe('AUDIT');
  });

  it('refuses a file that names one project twice, by path and by id, and writes nothing', async () => {
    await emptyConn.flushall();
    // acme/apps/web is project 102 upstream; acme/platform/registry is 101.
    const twiceSource = parsePolicyFile({
      version: 1,
      projects: {
        'acme/platform/registry': {
          entries: [
            { source: 'acme/apps/web', kind: 'PROJECT', permissions: { RELEASES: 'READ' } },
            { source: '102', kind: 'PROJECT', permissions: { TAGS: 'WRITE' } },
          ],
        },
      },
    });
    await expect(importPolicy(empty, client, twiceSource, true)).rejects.toThrow(
      'projects["acme/platform/registry"].entries[1]: the same project as entries[0] ("102")',
    );
    const twiceTarget = parsePolicyFile({
      version: 1,
      projects: {
        'acme/platform/registry': { entries: [] },
        '101': { entries: [] },
      },
    });
    await expect(importPolicy(empty, client, twiceTarget, true)).rejects.toThrow(
      // (An object's integer-like keys come first: "101" is resolved before the path.)
      'projects["acme/platform/registry"]: the same project as projects["101"] (acme/platform/registry)',
    );
    expect(await empty.list()).toEqual([]);
  });

  it('lists changed and removed entries per project', () => {
    const a = parsePolicyFile({
      version: 1,
      projects: {
        'acme/b': {
          entries: [
            { source: 'acme/x', kind: 'PROJECT', permissions: { TAGS: 'READ' } },
            { source: 'acme/y', kind: 'PROJECT', defaultPermissions: true },
          ],
        },
      },
    });
    const b = parsePolicyFile({
      version: 1,
      projects: {
        'acme/b': {
          entries: [{ source: 'acme/x', kind: 'PROJECT', permissions: { TAGS: 'WRITE' } }],
        },
      },
    });
    expect(diffPolicies(a, b).map(formatChange)).toEqual([
      'acme/b: ~ project acme/x {"TAGS":"READ"} -> project acme/x {"TAGS":"WRITE"}',
      'acme/b: - project acme/y default permissions',
    ]);
  });
});

/** A change log that keeps the import events it is given. */
function recordingChangeLog(): { recorded: PolicyImportEvent[]; changeLog: ChangeLog } {
  const recorded: PolicyImportEvent[] = [];
  const changeLog: ChangeLog = {
    record: () => Promise.resolve(),
    recordImport: (e) => (recorded.push(e), Promise.resolve()),
    recordAdmin: () => Promise.resolve(),
    failedWrites: () => 0,
  };
  return { recorded, changeLog };
}

describe('the diff `serve --policy` records (by ids, no forge look-up)', () => {
  const entry = (sourceId: number, sourcePath: string, over: Partial<AllowlistEntry> = {}) => ({
    sourceId,
    sourceKind: 'GROUP' as const,
    sourcePath,
    defaultPermissions: false,
    permissions: { RELEASES: 'READ' as const },
    protectedRefsOnly: false,
    boundToUserRole: true,
    ...over,
  });

  it('names sources by the file when it has their id, and a dropped profile by its id', () => {
    const stored = [
      // Group 9 was renamed since it was written: the file's path names it, no remove + add.
      {
        projectId: 1,
        enforcement: 'ENFORCED' as const,
        version: 3,
        entries: [entry(9, 'old/name')],
      },
      { projectId: 2, enforcement: 'AUDIT' as const, version: 1, entries: [] },
    ];
    const next = [
      {
        projectId: 1,
        enforcement: 'ENFORCED' as const,
        entries: [entry(9, 'new/name', { permissions: { RELEASES: 'WRITE' } })],
      },
    ];
    expect(diffStoredProfiles(stored, next, ['acme/target']).map(formatChange)).toEqual([
      'acme/target: ~ group new/name {"RELEASES":"READ"} -> group new/name {"RELEASES":"WRITE"}',
      'project 2: enforcement AUDIT -> (profile removed)',
    ]);
    expect(
      diffStoredProfiles(
        stored.slice(0, 1),
        [{ ...stored[0]!, entries: [entry(9, 'new/name')] }],
        ['acme/target'],
      ),
    ).toEqual([]);
  });

  it('sees a different group now holding an old path as a removal and an addition', () => {
    // Group 9 was renamed away from acme/apps and group 12 created there: the unchanged file's
    // "acme/apps" now resolves to 12, so trust moves from 9 to 12, and the event must say so.
    const stored = [
      {
        projectId: 1,
        enforcement: 'ENFORCED' as const,
        version: 1,
        entries: [entry(9, 'acme/apps')],
      },
    ];
    const next = [
      { projectId: 1, enforcement: 'ENFORCED' as const, entries: [entry(12, 'acme/apps')] },
    ];
    expect(diffStoredProfiles(stored, next, ['acme/target']).map(formatChange)).toEqual([
      'acme/target: + group acme/apps {"RELEASES":"READ"}',
      'acme/target: - group acme/apps (id 9) {"RELEASES":"READ"}',
    ]);
  });

  it('still replaces stored profiles it cannot read, and says the changes are unknown', async () => {
    const memory = createMemoryProfileStore([]);
    const unreadable: ProfileStore = {
      ...memory,
      list: () => Promise.reject(new Error('unknown resource in a stored entry')),
    };
    const { recorded, changeLog } = recordingChangeLog();
    const next = [
      { projectId: 1, enforcement: 'AUDIT' as const, entries: [entry(9, 'acme/apps')] },
    ];
    const event = await replaceAudited(unreadable, next, ['acme/target'], {
      changeLog,
      via: 'serve --policy',
      fileSha256: 'abc',
    });
    expect((await memory.get(1))?.enforcement).toBe('AUDIT');
    expect(recorded).toEqual([event]);
    expect(event).toMatchObject({ changeCount: null, changes: [], projects: 1 });
  });

  it('keeps creation times across imports, dates new entries, and writes nothing when nothing changes', async () => {
    const memory = createMemoryProfileStore([]);
    const { recorded, changeLog } = recordingChangeLog();
    const audit = { changeLog, via: 'serve --policy' as const, fileSha256: 'abc' };
    const t0 = new Date('2026-01-01T00:00:00Z');
    const t1 = new Date('2026-06-01T00:00:00Z');
    // The file's one profile, of target 1, with these entries.
    const profile = (...entries: ReturnType<typeof entry>[]) => [
      { projectId: 1, enforcement: 'ENFORCED' as const, entries },
    ];
    const first = profile(entry(9, 'acme/apps'));
    await replaceAudited(memory, first, ['acme/target'], audit, () => t0);
    const stored = await memory.get(1);
    expect(stored?.entries[0]?.createdAt).toBe(t0.toISOString());

    // The same file later: no event, no write (the version stays), the date stays.
    expect(await replaceAudited(memory, first, ['acme/target'], audit, () => t1)).toBeUndefined();
    expect((await memory.get(1))?.version).toBe(stored?.version);
    expect(recorded).toHaveLength(1);

    // A changed grant keeps its entry's date; a new entry is dated by this import.
    const next = profile(
      entry(9, 'acme/apps', { permissions: { RELEASES: 'WRITE' } }),
      entry(10, 'acme/tools'),
    );
    await replaceAudited(memory, next, ['acme/target'], audit, () => t1);
    expect((await memory.get(1))?.entries.map((e) => [e.sourceId, e.createdAt])).toEqual([
      [9, t0.toISOString()],
      [10, t1.toISOString()],
    ]);
    expect(recorded).toHaveLength(2);

    // A source renamed on the forge: the file (resolved now) has its new path, which is written
    // although nothing else changed; the date stays.
    const renamed = profile(
      entry(9, 'acme/legacy-apps', { permissions: { RELEASES: 'WRITE' } }),
      entry(10, 'acme/tools'),
    );
    await replaceAudited(memory, renamed, ['acme/target'], audit, () => t1);
    expect((await memory.get(1))?.entries[0]).toMatchObject({
      sourcePath: 'acme/legacy-apps',
      createdAt: t0.toISOString(),
    });

    // One unreadable profile does not cost the readable ones their dates.
    const broken: ProfileStore = {
      ...memory,
      list: () => Promise.reject(new Error('unknown resource in a stored entry')),
    };
    await replaceAudited(broken, renamed, ['acme/target'], audit, () => t1);
    expect((await memory.get(1))?.entries[0]?.createdAt).toBe(t0.toISOString());

    // Entries stored without a date (imported before dates were kept) get this import's.
    const undated = createMemoryProfileStore([]);
    await undated.replaceAll(first);
    await replaceAudited(undated, first, ['acme/target'], audit, () => t1);
    expect((await undated.get(1))?.entries[0]?.createdAt).toBe(t1.toISOString());
  });

  it('records an import whose swap Redis made after its answer timed out, and not one it did not make', async () => {
    const server = servers[1];
    if (!server) throw new Error('a Redis server expected');
    const proxy = await startRedisProxy(server.port);
    const conn = createRedisConnection({ url: proxy.url, commandTimeoutMs: 150 });
    try {
      await waitUntilReady(conn);
      const store = createRedisProfileStore({ redis: conn });
      const { recorded, changeLog } = recordingChangeLog();
      const audit = { changeLog, via: 'policy import' as const, fileSha256: 'abc' };
      const file = (mode: 'AUDIT' | 'ENFORCED') => [
        { projectId: 990, enforcement: mode, entries: [entry(9, 'acme/apps')] },
      ];
      await replaceAudited(store, file('ENFORCED'), ['acme/late'], audit);
      expect(recorded).toHaveLength(1);

      // The swap reaches Redis 400 ms late: its answer times out (150 ms), then it runs.
      proxy.delayNext('RENAME', 400);
      const event = await replaceAudited(store, file('AUDIT'), ['acme/late'], audit);
      expect(event?.changes).toEqual(['acme/late: enforcement ENFORCED -> AUDIT']);
      expect(recorded).toEqual([recorded[0], event]);
      expect((await empty.get(990))?.enforcement).toBe('AUDIT');

      // Writes paused past the timeout: the import fails while staging, before any swap is
      // sent. It reports the failure, records nothing, and nothing changes once Redis resumes.
      await emptyConn.call('CLIENT', 'PAUSE', '1000', 'WRITE');
      const refused = await replaceAudited(store, file('ENFORCED'), ['acme/late'], audit).catch(
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(Error);
      expect(recorded).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 300));
      expect((await empty.get(990))?.enforcement).toBe('AUDIT');
    } finally {
      await emptyConn.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      conn.disconnect();
      await proxy.close();
      await emptyConn.del('sg:{idx}:projects', 'sg:{p:990}:profile', 'sg:{p:990}:version');
    }
  });
});
