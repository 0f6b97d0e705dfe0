/**
 * Job token profiles in Redis, shared by every gateway of a fleet (DESIGN.md sections 6, 7).
 *
 * Layout (see `redis-keys.ts`): `sg:{p:<id>}:profile` is a hash (`enforcement` → mode,
 * `e:<P|G>:<sourceId>` → entry JSON) and `sg:{p:<id>}:version` an integer. Every write is one
 * Lua script (`redis-profile-scripts.ts`), so it is atomic and two concurrent writers never lose each other's update; each
 * script increments the version and PUBLISHes `<projectId>:<version>` on `sg:policy` before
 * it returns. Local listeners (`onChange`) hear a write of this process at once, before
 * the promise resolves, so the writing instance never serves a stale decision.
 */
import { z } from 'zod';
import { ENFORCEMENT_MODES, LEVELS, RESOURCES } from '../policy/types.js';
import type {
  AllowlistEntry,
  JobTokenEnforcement,
  JobTokenProfile,
  SourceKind,
} from '../policy/types.js';
import {
  checkEntryLimits,
  EntryConflictError,
  EntryExistsError,
  EntryLimitError,
  EntryNotFoundError,
  type EntryLimits,
  type ProfileMutations,
  type ProfileStore,
  type ProfileWrite,
} from './profile-store.js';
import { failClosed } from './fail-closed.js';
import {
  ADD_ENTRIES,
  PUT_PROFILE,
  REMOVE_ENTRY,
  SET_ENFORCEMENT,
  SWAP_STAGED,
  UPSERT_ENTRY,
} from './redis-profile-scripts.js';
import { runReceipted } from './receipted-write.js';
import { evalScript, isCluster, type RedisConnection } from './redis-client.js';
import {
  DEFAULT_KEY_PREFIX,
  invalidationChannel,
  projectIndexKey,
  projectKeys,
} from './redis-keys.js';

// The errors and the mutations interface live with the store contract (the memory store
// implements them too); re-exported here for existing importers.
export {
  EntryConflictError,
  EntryExistsError,
  EntryLimitError,
  EntryNotFoundError,
} from './profile-store.js';
export type { ProfileMutations } from './profile-store.js';
export { UNCERTAIN_WRITE_MESSAGE } from './receipted-write.js';

/** The Redis store: {@link ProfileStore} plus {@link ProfileMutations}. */
export interface RedisProfileStore extends ProfileStore, ProfileMutations {
  /** Calls `listener(projectId)` after every write made through this store (same process). */
  onChange(listener: (projectId: number) => void): () => void;
}

/** Options of {@link createRedisProfileStore}. */
export interface RedisProfileStoreOptions {
  /** Shared command connection; not closed by `close()`. */
  readonly redis: RedisConnection;
  /** Key prefix. Default `sg`. */
  readonly keyPrefix?: string;
  /** Most project entries per target. Default 200. */
  readonly maxProjectEntries?: number;
  /** Most group entries per target. Default 200. */
  readonly maxGroupEntries?: number;
  /** Enforcement of a profile created by its first entry. Default `ENFORCED`. */
  readonly defaultEnforcement?: JobTokenEnforcement;
  /** Lifetime of a staged import that was never swapped in, seconds. Default 3600. */
  readonly stageTtlSeconds?: number;
  /**
   * How long to keep trying to learn whether a write whose answer never came was made, ms.
   * Default 3000 (see `receipted-write.ts`).
   */
  readonly settleWithinMs?: number;
  /**
   * Told of a write whose outcome stayed unknown (Redis did not answer it, nor the settling
   * after it): its receipt `sg:{p:<projectId>}:w:<writeId>` holds the version it made, if any,
   * for 10 minutes. The caller got POLICY_UNAVAILABLE saying the change may have been made.
   */
  readonly onUncertainWrite?: (write: {
    readonly projectId: number;
    readonly writeId: string;
  }) => void;
}

const entrySchema = z.object({
  sourceId: z.number().int(),
  sourceKind: z.enum(['PROJECT', 'GROUP']),
  sourcePath: z.string(),
  defaultPermissions: z.boolean(),
  permissions: z.partialRecord(z.enum(RESOURCES), z.enum(LEVELS)),
  protectedRefsOnly: z.boolean(),
  boundToUserRole: z.boolean(),
  addedBy: z.string().optional(),
  createdAt: z.string().optional(),
  autopopulated: z.boolean().optional(),
});
const modeSchema = z.enum(ENFORCEMENT_MODES);

/** Hash field of an entry: one entry per source. */
export function entryField(kind: SourceKind, sourceId: number): string {
  return `e:${kind === 'PROJECT' ? 'P' : 'G'}:${sourceId}`;
}

/**
 * Builds a profile from its hash (`HGETALL`) and version; `undefined` when the hash is empty.
 * A corrupt entry throws: refusing to decide beats deciding on a half-read policy.
 */
export function profileFromHash(
  projectId: number,
  hash: Record<string, string>,
  version: number,
): JobTokenProfile | undefined {
  const mode = hash['enforcement'];
  if (mode === undefined) return undefined;
  const entries: AllowlistEntry[] = [];
  for (const [field, value] of Object.entries(hash)) {
    if (field.startsWith('e:')) entries.push(entrySchema.parse(JSON.parse(value)));
  }
  // Hash order is arbitrary; the engine is order-independent, but readers like a stable list.
  entries.sort((a, b) =>
    entryField(a.sourceKind, a.sourceId).localeCompare(entryField(b.sourceKind, b.sourceId)),
  );
  return Object.freeze({
    projectId,
    enforcement: modeSchema.parse(mode),
    entries: Object.freeze(entries),
    version,
  });
}

/** The flat hash arguments (`field, value, ...`) of a whole profile. */
function hashArgs(p: ProfileWrite): string[] {
  const args = ['enforcement', p.enforcement];
  for (const e of p.entries) args.push(entryField(e.sourceKind, e.sourceId), JSON.stringify(e));
  return args;
}

/** Creates the Redis profile store. */
export function createRedisProfileStore(opts: RedisProfileStoreOptions): RedisProfileStore {
  const { redis } = opts;
  const prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const channel = invalidationChannel(prefix);
  const indexKey = projectIndexKey(prefix);
  const limits: EntryLimits = {
    PROJECT: opts.maxProjectEntries ?? 200,
    GROUP: opts.maxGroupEntries ?? 200,
  };
  const defaultMode = opts.defaultEnforcement ?? 'ENFORCED';
  const listeners = new Set<(projectId: number) => void>();

  const changed = (projectId: number): void => {
    for (const l of listeners) l(projectId);
  };

  /**
   * Runs a write script on a project's keys and returns its raw reply (`table`: the script
   * answers `{version, ...}` rather than a number); a lost answer is settled by the write's
   * receipt (`receipted-write.ts`).
   */
  async function runScript(
    projectId: number,
    script: string,
    args: readonly string[],
    table = false,
  ): Promise<unknown> {
    const keys = projectKeys(projectId, prefix);
    // The index first: a write it could not record is not sent (an unlisted profile would
    // survive a policy import that drops it); the index may over-list.
    await redis.sadd(indexKey, String(projectId));
    return runReceipted(
      redis,
      {
        script,
        keys: [keys.profile, keys.version],
        receiptPrefix: keys.receiptPrefix,
        args: [channel, String(projectId), ...args],
        table,
      },
      {
        settleWithinMs: opts.settleWithinMs ?? 3000,
        onUncertain: (writeId) => opts.onUncertainWrite?.({ projectId, writeId }),
      },
    );
  }

  /** Runs a write script that answers one number: the new version, or a negative refusal. */
  async function write(projectId: number, script: string, args: readonly string[]) {
    const code = Number(await runScript(projectId, script, args));
    if (code > 0) changed(projectId);
    return code;
  }

  async function upsert(
    projectId: number,
    entry: AllowlistEntry,
    mode: 'add' | 'update',
    expectedVersion?: number,
  ) {
    const valid = entrySchema.parse(entry);
    const code = await write(projectId, UPSERT_ENTRY, [
      entryField(valid.sourceKind, valid.sourceId),
      JSON.stringify(entry),
      String(limits[valid.sourceKind]),
      defaultMode,
      mode,
      expectedVersion === undefined ? '' : String(expectedVersion),
    ]);
    if (code === -4) throw new EntryConflictError('the profile changed since it was read');
    if (code === -1) throw new EntryExistsError(`${valid.sourcePath} already has an entry`);
    if (code === -2) throw new EntryLimitError(valid.sourceKind, limits[valid.sourceKind]);
    if (code === -3) throw new EntryNotFoundError(`${valid.sourcePath} has no entry`);
    return code;
  }

  async function get(projectId: number): Promise<JobTokenProfile | undefined> {
    const keys = projectKeys(projectId, prefix);
    const res = await redis.multi().hgetall(keys.profile).get(keys.version).exec();
    if (!res) throw new Error('the profile read was aborted');
    const [[hashErr, hash], [versionErr, version]] = res as [
      [Error | null, Record<string, string>],
      [Error | null, string | null],
    ];
    if (hashErr) throw hashErr;
    if (versionErr) throw versionErr;
    return profileFromHash(projectId, hash, Number(version ?? 0));
  }

  // Redis failing is POLICY_UNAVAILABLE for every caller; the typed refusals pass unchanged.
  return failClosed<RedisProfileStore>(
    {
      get,

      async put(p) {
        checkEntryLimits(p, limits);
        for (const e of p.entries) entrySchema.parse(e);
        await write(p.projectId, PUT_PROFILE, hashArgs(p));
        const stored = await get(p.projectId);
        if (!stored) throw new Error(`profile ${p.projectId} vanished after being written`);
        return stored;
      },

      async replaceAll(profiles) {
        for (const p of profiles) {
          checkEntryLimits(p, limits);
          for (const e of p.entries) entrySchema.parse(e);
        }
        // Stage: nothing readers see changes until every profile is written.
        const importId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
        const ttl = opts.stageTtlSeconds ?? 3600;
        const staged = new Map<number, string>();
        for (const p of profiles) {
          const key = `${projectKeys(p.projectId, prefix).stagePrefix}${importId}`;
          staged.set(p.projectId, key);
          await redis
            .multi()
            .del(key)
            .hset(key, ...hashArgs(p))
            .expire(key, ttl)
            .exec();
        }
        const old = (await redis.smembers(indexKey)).map(Number);
        const all = [...new Set([...old, ...staged.keys()])];
        await redis.sadd(indexKey, ...all.map(String));
        // Swap: one script per project. On a single node they run inside one MULTI (all or
        // nothing); on a Cluster each project's swap is atomic by itself.
        const swapArgs = (id: number) => {
          const keys = projectKeys(id, prefix);
          const stageKey = staged.get(id) ?? `${keys.stagePrefix}${importId}`;
          return { keys: [keys.profile, keys.version, stageKey], args: [channel, String(id)] };
        };
        if (isCluster(redis)) {
          for (const id of all) {
            const { keys, args } = swapArgs(id);
            await evalScript(redis, SWAP_STAGED, keys, args);
          }
        } else {
          const tx = redis.multi();
          for (const id of all) {
            const { keys, args } = swapArgs(id);
            tx.eval(SWAP_STAGED, keys.length, ...keys, ...args);
          }
          const res = await tx.exec();
          for (const [err] of res ?? []) if (err) throw err;
        }
        const dropped = old.filter((id) => !staged.has(id)).map(String);
        if (dropped.length > 0) await redis.srem(indexKey, ...dropped);
        for (const id of all) changed(id);
      },

      async list() {
        const ids = (await redis.smembers(indexKey)).map(Number).sort((a, b) => a - b);
        const found = await Promise.all(ids.map(get));
        return found.filter((p): p is JobTokenProfile => p !== undefined);
      },

      addEntry: (projectId, entry) => upsert(projectId, entry, 'add'),
      updateEntry: (projectId, entry, expectedVersion) =>
        upsert(projectId, entry, 'update', expectedVersion),

      async removeEntry(projectId, sourceKind, sourceId) {
        const code = await write(projectId, REMOVE_ENTRY, [entryField(sourceKind, sourceId)]);
        if (code === -3)
          throw new EntryNotFoundError(`no entry for ${sourceKind.toLowerCase()} ${sourceId}`);
        return code;
      },

      async addEntries(projectId, entries, options = {}) {
        const args: string[] = [
          options.expectedVersion === undefined
            ? ''
            : options.expectedVersion === null
              ? 'none'
              : String(options.expectedVersion),
          options.enforcement === undefined ? '' : modeSchema.parse(options.enforcement),
          defaultMode,
          String(limits.PROJECT),
          String(limits.GROUP),
        ];
        const seen = new Set<string>();
        for (const entry of entries) {
          const valid = entrySchema.parse(entry);
          const field = entryField(valid.sourceKind, valid.sourceId);
          if (seen.has(field)) throw new EntryExistsError(`${valid.sourcePath} is listed twice`);
          seen.add(field);
          args.push(field, JSON.stringify(entry));
        }
        const [code, detail] = (await runScript(projectId, ADD_ENTRIES, args, true)) as [
          number,
          (number | string)?,
        ];
        if (code === -4) throw new EntryConflictError('the profile changed since it was read');
        if (code === -1) {
          const entry = entries[Number(detail) - 1];
          throw new EntryExistsError(`${entry?.sourcePath ?? 'a source'} already has an entry`);
        }
        if (code === -2) {
          const kind = detail === 'G' ? 'GROUP' : 'PROJECT';
          throw new EntryLimitError(kind, limits[kind]);
        }
        changed(projectId);
        return Number(code);
      },

      async setEnforcement(projectId, mode) {
        return write(projectId, SET_ENFORCEMENT, [modeSchema.parse(mode)]);
      },

      onChange(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },

      close: () => Promise.resolve(),
    },
    isStoreRefusal,
  );
}

function isStoreRefusal(err: unknown): boolean {
  return (
    err instanceof EntryExistsError ||
    err instanceof EntryConflictError ||
    err instanceof EntryLimitError ||
    err instanceof EntryNotFoundError
  );
}
