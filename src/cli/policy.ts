/**
 * `scopegate policy export` and `scopegate policy import FILE [--apply]` (DESIGN.md section 7):
 * keep a large installation's job token policies in a repository. Export writes the versioned
 * policy file with every path resolved from the stored ids through the forge; import shows a
 * dry-run diff (added, removed and changed entries per project) and writes only with
 * `--apply`, all at once (`replaceAll`: a file with one unknown path changes nothing).
 * Both work on the configured Redis and forge (`REDIS_URL`/`REDIS_CLUSTER_NODES`,
 * `SCOPEGATE_UPSTREAM_URL`, `SCOPEGATE_UPSTREAM_TOKEN`); the demo's store lives in one process.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import {
  createChangeLog,
  MAX_IMPORT_CHANGE_LINES,
  type ChangeLog,
  type PolicyImportVia,
} from '../audit/change-events.js';
import { ConfigError, loadConfig } from '../config/config.js';
import {
  parsePolicyFile,
  serializePolicyFile,
  type PolicyFile,
  type PolicyFileEntry,
  type PolicyFileProject,
} from '../policy/policy-file.js';
import { resolvePolicyFile } from '../store/policy-loader.js';
import type { AllowlistEntry, JobTokenProfile } from '../policy/types.js';
import type { ProfileStore, ProfileWrite } from '../store/profile-store.js';
import { createRedisConnection, waitUntilReady } from '../store/redis-client.js';
import { createRedisProfileStore } from '../store/redis-profile-store.js';
import { createUpstreamClient, type UpstreamClient } from '../upstream/client.js';
import type { RestGroup, RestProject } from '../upstream/types.js';
import {
  policyDigest,
  profileStoreOptionsFromConfig,
  redisConnectionFromConfig,
} from './gateway-options.js';

/** One line of a policy diff. */
export type PolicyChange =
  | {
      readonly kind: 'enforcement';
      readonly project: string;
      readonly from: string | null;
      readonly to: string | null;
    }
  | {
      readonly kind: 'added' | 'removed';
      readonly project: string;
      readonly entry: PolicyFileEntry;
    }
  | {
      readonly kind: 'changed';
      readonly project: string;
      readonly from: PolicyFileEntry;
      readonly to: PolicyFileEntry;
    };

/**
 * The stored profiles as a policy file, every id resolved to its current path. A profile whose
 * project the forge no longer knows is left out and named in `warnings`.
 */
export async function exportPolicy(
  store: ProfileStore,
  client: UpstreamClient,
): Promise<{ file: PolicyFile; warnings: string[] }> {
  const projects: Record<string, PolicyFileProject> = {};
  const warnings: string[] = [];
  for (const profile of await store.list()) {
    const target = await client.find<RestProject>(`projects/${profile.projectId}`);
    if (!target) {
      warnings.push(
        `project ${profile.projectId} no longer exists upstream; its profile was left out`,
      );
      continue;
    }
    const entries: PolicyFileEntry[] = [];
    for (const e of profile.entries) {
      const found =
        e.sourceKind === 'PROJECT'
          ? (await client.find<RestProject>(`projects/${e.sourceId}`))?.path_with_namespace
          : (await client.find<RestGroup>(`groups/${e.sourceId}`))?.full_path;
      if (found === undefined)
        warnings.push(
          `${target.path_with_namespace}: source ${e.sourceKind.toLowerCase()} ${e.sourceId} no longer exists upstream; kept as "${e.sourcePath}"`,
        );
      entries.push({
        source: found ?? e.sourcePath,
        kind: e.sourceKind,
        defaultPermissions: e.defaultPermissions,
        permissions: e.defaultPermissions ? {} : { ...e.permissions },
        protectedRefsOnly: e.protectedRefsOnly,
        boundToUserRole: e.boundToUserRole,
      });
    }
    projects[target.path_with_namespace] = { enforcement: profile.enforcement, entries };
  }
  return { file: { version: 1, projects }, warnings };
}

const sourceKey = (e: PolicyFileEntry): string => `${e.kind}:${e.source.toLowerCase()}`;
const sameEntry = (a: PolicyFileEntry, b: PolicyFileEntry): boolean =>
  JSON.stringify(parsePolicyFile({ version: 1, projects: { x: { entries: [a] } } })) ===
  JSON.stringify(parsePolicyFile({ version: 1, projects: { x: { entries: [b] } } }));

/** What importing `next` over `current` would change, project by project. Pure. */
export function diffPolicies(current: PolicyFile, next: PolicyFile): PolicyChange[] {
  const out: PolicyChange[] = [];
  const paths = [
    ...new Set([...Object.keys(current.projects), ...Object.keys(next.projects)]),
  ].sort();
  for (const project of paths) {
    const a = current.projects[project];
    const b = next.projects[project];
    if (a?.enforcement !== b?.enforcement)
      out.push({
        kind: 'enforcement',
        project,
        from: a?.enforcement ?? null,
        to: b?.enforcement ?? null,
      });
    const before = new Map((a?.entries ?? []).map((e) => [sourceKey(e), e]));
    const after = new Map((b?.entries ?? []).map((e) => [sourceKey(e), e]));
    for (const [key, e] of after) {
      const old = before.get(key);
      if (!old) out.push({ kind: 'added', project, entry: e });
      else if (!sameEntry(old, e)) out.push({ kind: 'changed', project, from: old, to: e });
    }
    for (const [key, e] of before)
      if (!after.has(key)) out.push({ kind: 'removed', project, entry: e });
  }
  return out;
}

function describeEntry(e: PolicyFileEntry): string {
  const levels = e.defaultPermissions ? 'default permissions' : JSON.stringify(e.permissions);
  const flags = [
    e.protectedRefsOnly ? 'protected refs only' : '',
    e.boundToUserRole ? '' : 'project identity',
  ]
    .filter(Boolean)
    .join(', ');
  return `${e.kind.toLowerCase()} ${e.source} ${levels}${flags ? ` (${flags})` : ''}`;
}

/** One readable line per change. */
export function formatChange(c: PolicyChange): string {
  switch (c.kind) {
    case 'enforcement':
      return `${c.project}: enforcement ${c.from ?? '(no profile)'} -> ${c.to ?? '(profile removed)'}`;
    case 'added':
      return `${c.project}: + ${describeEntry(c.entry)}`;
    case 'removed':
      return `${c.project}: - ${describeEntry(c.entry)}`;
    case 'changed':
      return `${c.project}: ~ ${describeEntry(c.from)} -> ${describeEntry(c.to)}`;
  }
}

/** Records an import that changed something on the change stream; nothing when it did not. */
export async function recordPolicyImport(
  changeLog: ChangeLog,
  via: PolicyImportVia,
  fileSha256: string,
  file: PolicyFile,
  changes: readonly PolicyChange[],
): Promise<void> {
  if (changes.length === 0) return;
  await changeLog.recordImport({
    event: 'jobTokenScope.imported',
    at: new Date().toISOString(),
    via,
    fileSha256,
    projects: Object.keys(file.projects).length,
    changeCount: changes.length,
    changes: changes.slice(0, MAX_IMPORT_CHANGE_LINES).map(formatChange),
  });
}

function asFileEntry(e: AllowlistEntry, source: string): PolicyFileEntry {
  return {
    source,
    kind: e.sourceKind,
    defaultPermissions: e.defaultPermissions,
    permissions: e.defaultPermissions ? {} : { ...e.permissions },
    protectedRefsOnly: e.protectedRefsOnly,
    boundToUserRole: e.boundToUserRole,
  };
}

/**
 * What writing `next` (a resolved policy file, `paths` its target paths in order) over the
 * `stored` profiles changes, without asking the forge for a path: a project or source is named
 * by the file's path when the file has its id, else by the path stored with it (an entry) or
 * as `project <id>` (a profile the file drops). For `serve --policy`, where every instance's
 * start would otherwise look up every stored profile.
 */
export function diffStoredProfiles(
  stored: readonly JobTokenProfile[],
  next: readonly ProfileWrite[],
  paths: readonly string[],
): PolicyChange[] {
  const projectName = new Map(
    next.map((p, i) => [p.projectId, paths[i] ?? `project ${p.projectId}`]),
  );
  const sourceName = new Map<string, string>();
  for (const p of next)
    for (const e of p.entries) sourceName.set(`${e.sourceKind}:${e.sourceId}`, e.sourcePath);
  const asFile = (profiles: readonly ProfileWrite[]): PolicyFile => {
    const projects: Record<string, PolicyFileProject> = {};
    for (const p of profiles)
      projects[projectName.get(p.projectId) ?? `project ${p.projectId}`] = {
        enforcement: p.enforcement,
        entries: p.entries.map((e) =>
          asFileEntry(e, sourceName.get(`${e.sourceKind}:${e.sourceId}`) ?? e.sourcePath),
        ),
      };
    return { version: 1, projects };
  };
  return diffPolicies(asFile(stored), asFile(next));
}

/** Imports a policy file: the diff, and the write when `apply` is true. */
export async function importPolicy(
  store: ProfileStore,
  client: UpstreamClient,
  file: PolicyFile,
  apply: boolean,
): Promise<PolicyChange[]> {
  const profiles = await resolvePolicyFile(file, client); // every path, before anything is written
  const { file: current } = await exportPolicy(store, client);
  const changes = diffPolicies(current, file);
  if (apply) await store.replaceAll(profiles);
  return changes;
}

/** Runs `scopegate policy ...`. */
export async function runPolicy(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: true,
    options: {
      apply: { type: 'boolean', default: false },
      output: { type: 'string', short: 'o' },
      config: { type: 'string' },
    },
  });
  if (sub !== 'export' && sub !== 'import')
    throw new ConfigError('usage: scopegate policy export [-o FILE] | import FILE [--apply]');
  // The gateway's issuers are not needed here: load as for --demo, then require what is.
  const config = loadConfig(process.env, { file: values.config, demo: true });
  const { url, token } = config.upstream;
  if (!url || !token)
    throw new ConfigError('"SCOPEGATE_UPSTREAM_URL" and "SCOPEGATE_UPSTREAM_TOKEN" are required');
  const redis = createRedisConnection(redisConnectionFromConfig(config));
  try {
    await waitUntilReady(redis, 10_000);
    // The configured entry limits hold for an import as for every other write.
    const store = createRedisProfileStore({ redis, ...profileStoreOptionsFromConfig(config) });
    const client = createUpstreamClient({
      baseUrl: url,
      token,
      timeoutMs: config.upstream.timeoutMs,
    });
    if (sub === 'export') {
      const { file, warnings } = await exportPolicy(store, client);
      for (const w of warnings) process.stderr.write(`scopegate: ${w}\n`);
      const text = serializePolicyFile(file);
      if (values.output) writeFileSync(values.output, text);
      else process.stdout.write(text);
      return;
    }
    const path = positionals[0];
    if (!path) throw new ConfigError('usage: scopegate policy import FILE [--apply]');
    let text: string;
    let raw: unknown;
    try {
      text = readFileSync(path, 'utf8');
      raw = JSON.parse(text);
    } catch {
      throw new ConfigError(`"${path}" cannot be read as JSON`);
    }
    const file = parsePolicyFile(raw);
    const changes = await importPolicy(store, client, file, values.apply);
    if (values.apply) {
      // The change stream gets the import, as it gets every change made through the API.
      const changeLog = createChangeLog({
        logger: pino({ level: 'silent' }),
        redis,
        maxLen: config.audit.streamMaxLen,
      });
      await recordPolicyImport(changeLog, 'policy import', policyDigest(text), file, changes);
      if (changeLog.failedWrites() > 0)
        process.stderr.write(
          'scopegate: the policy was applied, but its audit event could not be written to the change stream\n',
        );
    }
    for (const c of changes) process.stdout.write(`${formatChange(c)}\n`);
    process.stdout.write(
      values.apply
        ? `applied: ${changes.length} change(s)\n`
        : `dry run: ${changes.length} change(s); run again with --apply to write them\n`,
    );
  } finally {
    redis.disconnect();
  }
}
