/**
 * `scopegate policy export` and `scopegate policy import FILE [--apply]` (DESIGN.md section 7):
 * keep a large installation's job token policies in a repository. Export writes the versioned
 * policy file with every path resolved from the stored ids through the forge; import shows a
 * dry-run diff (added, removed and changed entries per project) and writes only with
 * `--apply`, all at once (`replaceAll`: a file with one unknown path changes nothing).
 * Both work on the configured Redis and forge (`REDIS_URL`/`REDIS_CLUSTER_NODES`,
 * `SCOPEGATE_UPSTREAM_URL`, `SCOPEGATE_UPSTREAM_TOKEN`); the demo's store lives in one process.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  createChangeLog,
  MAX_IMPORT_CHANGE_LINES,
  type ChangeLog,
  type PolicyImportEvent,
  type PolicyImportVia,
} from '../audit/change-events.js';
import { createLogger } from '../audit/logger.js';
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
import { askUntilAnswered, createRedisConnection, waitUntilReady } from '../store/redis-client.js';
import { createRedisProfileStore } from '../store/redis-profile-store.js';
import { createUpstreamClient, type UpstreamClient } from '../upstream/client.js';
import type { RestGroup, RestProject } from '../upstream/types.js';
import {
  diffPolicies,
  diffStoredProfiles,
  formatChange,
  sameGrant,
  type PolicyChange,
} from './policy-diff.js';
import {
  fileProblem,
  profileStoreOptionsFromConfig,
  readPolicyFileWithDigest,
  redisConnectionFromConfig,
} from './gateway-options.js';

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

/** Where an audited import is recorded, and how it ran. */
export interface ImportAudit {
  readonly changeLog: ChangeLog;
  readonly via: PolicyImportVia;
  /** SHA-256 of the file's bytes. */
  readonly fileSha256: string;
}

/**
 * The import event for `changes` (`undefined`: the stored profiles could not be read, so what
 * changed is not known), or nothing when the import changed nothing.
 */
export function policyImportEvent(
  audit: ImportAudit,
  projects: number,
  changes: readonly PolicyChange[] | undefined,
): PolicyImportEvent | undefined {
  if (changes?.length === 0) return undefined;
  return {
    event: 'jobTokenScope.imported',
    at: new Date().toISOString(),
    via: audit.via,
    fileSha256: audit.fileSha256,
    projects,
    changeCount: changes?.length ?? null,
    changes: (changes ?? []).slice(0, MAX_IMPORT_CHANGE_LINES).map(formatChange),
  };
}

/**
 * Replaces every profile with `profiles` (a resolved policy file; `paths` its target paths in
 * the same order) and records what that changed on the change stream. The diff is by ids
 * against what was stored just before (no forge look-ups); when the stored profiles cannot be
 * read (data this version does not understand), the file still replaces them, as it is the
 * way to repair them, and the event says the changes are unknown. Best effort across a fleet:
 * instances starting together may each record the same changes, and a change written through
 * another instance between the read and the swap is replaced without being named.
 * Returns the event recorded, if any.
 */
export async function replaceAudited(
  store: ProfileStore,
  profiles: readonly ProfileWrite[],
  paths: readonly string[],
  audit: ImportAudit,
  now: () => Date = () => new Date(),
): Promise<PolicyImportEvent | undefined> {
  let changes: PolicyChange[] | undefined;
  let stored: JobTokenProfile[] = [];
  try {
    stored = await store.list();
    changes = diffStoredProfiles(stored, profiles, paths);
  } catch {
    changes = undefined;
    // One profile this version cannot read must not cost every other entry its date: read
    // the file's targets one by one, and skip only the unreadable ones.
    stored = await readEach(store, profiles);
  }
  const stamped = withEntryHistory(stored, profiles, now());
  // Nothing to write: every profile grants what is stored and every entry has its history.
  // Writing anyway would bump every version and so empty every instance's decision cache.
  if (changes?.length === 0 && !stamped.changed) return undefined;
  try {
    await store.replaceAll(stamped.profiles);
  } catch (err) {
    // The swap's answer can be lost while the swap was made (a timeout, a cut connection); run
    // again, the import would then find nothing to change and record nothing. So when what is
    // stored now is the file, the import landed, and it is recorded as made.
    const changedGrants = changes === undefined || changes.length > 0;
    if (!changedGrants || !(await importLanded(store, profiles, paths))) throw err;
  }
  const event = policyImportEvent(audit, profiles.length, changes);
  if (event) await audit.changeLog.recordImport(event);
  return event;
}

/** How long {@link importLanded} keeps asking, ms. */
export const IMPORT_SETTLE_MS = 3_000;

/**
 * Whether the stored profiles are now `profiles` (no change left between them), asking until
 * Redis answers or {@link IMPORT_SETTLE_MS} has passed (then `false`: not known to have landed).
 */
async function importLanded(
  store: ProfileStore,
  profiles: readonly ProfileWrite[],
  paths: readonly string[],
): Promise<boolean> {
  const stored = await askUntilAnswered(() => store.list(), IMPORT_SETTLE_MS);
  return stored !== undefined && diffStoredProfiles(stored, profiles, paths).length === 0;
}

/** The stored profiles of `profiles`' targets that can be read; the others are skipped. */
async function readEach(
  store: ProfileStore,
  profiles: readonly ProfileWrite[],
): Promise<JobTokenProfile[]> {
  const out: JobTokenProfile[] = [];
  for (const p of profiles) {
    try {
      const found = await store.get(p.projectId);
      if (found) out.push(found);
    } catch {
      // unreadable: its entries are dated by this import
    }
  }
  return out;
}

/**
 * The imported profiles with each entry's history: an entry already stored (same target, kind
 * and source id) keeps its `createdAt` and `addedBy`, and its `autopopulated` flag while it
 * grants the same; a new entry, or one stored without a creation time, is created now. So the
 * compliance report does not call an entry imported a minute ago unused, and a restart with
 * the same file keeps every date. `changed`: whether any entry got a creation time or a new
 * source path (a source renamed on the forge: the file, resolved now, has its current path).
 */
export function withEntryHistory(
  stored: readonly JobTokenProfile[],
  profiles: readonly ProfileWrite[],
  now: Date,
): { profiles: ProfileWrite[]; changed: boolean } {
  const key = (target: number, e: AllowlistEntry) => `${target}:${e.sourceKind}:${e.sourceId}`;
  const before = new Map<string, AllowlistEntry>();
  for (const p of stored) for (const e of p.entries) before.set(key(p.projectId, e), e);
  const createdAt = now.toISOString();
  let changed = false;
  const out = profiles.map((p) => ({
    ...p,
    entries: p.entries.map((e): AllowlistEntry => {
      const old = before.get(key(p.projectId, e));
      if (old?.createdAt === undefined || old.sourcePath !== e.sourcePath) changed = true;
      return {
        ...e,
        createdAt: old?.createdAt ?? e.createdAt ?? createdAt,
        addedBy: old?.addedBy ?? e.addedBy,
        autopopulated: old && sameGrant(old, e) ? old.autopopulated : e.autopopulated,
      };
    }),
  }));
  return { profiles: out, changed };
}

/** Imports a policy file: the diff, and the write when `apply` is true. */
export async function importPolicy(
  store: ProfileStore,
  client: UpstreamClient,
  file: PolicyFile,
  apply: boolean,
  audit?: ImportAudit,
): Promise<PolicyChange[]> {
  const profiles = await resolvePolicyFile(file, client); // every path, before anything is written
  const { file: current } = await exportPolicy(store, client);
  const changes = diffPolicies(current, file);
  if (apply && audit) await replaceAudited(store, profiles, Object.keys(file.projects), audit);
  else if (apply)
    await store.replaceAll(withEntryHistory(await store.list(), profiles, new Date()).profiles);
  return changes;
}

/**
 * Writes `policy export -o FILE`, saying what is wrong with the path when it cannot. A new file
 * is readable by its owner only (every project's allowlist is in it); an existing file keeps
 * the mode it has.
 */
function writeOutput(path: string, text: string): void {
  try {
    writeFileSync(path, text, { mode: 0o600 });
  } catch (err) {
    throw new ConfigError(`output file "${path}" ${fileProblem(err, 'written')}`);
  }
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
  // Usage first: a missing argument is said before any setting is asked for.
  if (sub === 'import' && positionals.length !== 1)
    throw new ConfigError('usage: scopegate policy import FILE [--apply]');
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
      if (values.output) writeOutput(values.output, text);
      else process.stdout.write(text);
      return;
    }
    const path = positionals[0] ?? '';
    const read = readPolicyFileWithDigest(path, 'policy file');
    const file = parsePolicyFile(read.raw);
    // The change stream gets the import, as it gets every change made through the API.
    const changeLog = createChangeLog({
      logger: createLogger({ level: 'silent' }),
      redis,
      maxLen: config.audit.streamMaxLen,
    });
    const audit = { changeLog, via: 'policy import' as const, fileSha256: read.sha256 };
    const changes = await importPolicy(store, client, file, values.apply, audit);
    if (changeLog.failedWrites() > 0) {
      process.stderr.write(
        'scopegate: the policy was applied, but its audit event could not be written to the change stream\n',
      );
      process.exitCode = 1;
    }
    for (const c of changes) process.stdout.write(`${formatChange(c)}\n`);
    process.stdout.write(
      changes.length === 0
        ? 'no changes: the stored profiles already match the file\n'
        : values.apply
          ? `applied: ${changes.length} change(s)\n`
          : `dry run: ${changes.length} change(s); run again with --apply to write them\n`,
    );
  } finally {
    redis.disconnect();
  }
}
