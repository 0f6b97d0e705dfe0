/**
 * Where job token profiles live. The memory store serves `--demo` and tests of one process;
 * the Redis store (`redis-profile-store.ts`) implements the same interfaces for a fleet.
 */
import type {
  AllowlistEntry,
  JobTokenEnforcement,
  JobTokenProfile,
  SourceKind,
} from '../policy/types.js';

/** A profile as written by a caller; the store assigns `version`. */
export type ProfileWrite = Omit<JobTokenProfile, 'version'>;

/** Read and write access to every target project's profile. */
export interface ProfileStore {
  /** The profile of a target project, or `undefined` when it has none. */
  get(projectId: number): Promise<JobTokenProfile | undefined>;
  /** Replaces a project's profile; returns it with its new version. */
  put(profile: ProfileWrite): Promise<JobTokenProfile>;
  /** Replaces every profile at once (policy import): all or nothing. */
  replaceAll(profiles: readonly ProfileWrite[]): Promise<void>;
  /** Every stored profile. */
  list(): Promise<JobTokenProfile[]>;
  close(): Promise<void>;
}

/** An entry limit would be exceeded (DESIGN.md section 2: default 200 + 200 per target). */
export class EntryLimitError extends Error {
  override readonly name = 'EntryLimitError';
  constructor(
    readonly sourceKind: SourceKind,
    readonly limit: number,
  ) {
    super(`a project may have at most ${limit} ${sourceKind.toLowerCase()} entries`);
  }
}

/** Per-kind entry limits of a store. */
export type EntryLimits = Readonly<Record<SourceKind, number>>;

/**
 * Throws {@link EntryLimitError} when a whole profile (`put`, `replaceAll`) holds more entries
 * of a kind than its limit; every store checks a whole-profile write with this before writing.
 */
export function checkEntryLimits(profile: ProfileWrite, limits: EntryLimits): void {
  for (const kind of ['PROJECT', 'GROUP'] as const) {
    if (profile.entries.filter((e) => e.sourceKind === kind).length > limits[kind])
      throw new EntryLimitError(kind, limits[kind]);
  }
}

/** `addEntry` for a source that already has an entry. */
export class EntryExistsError extends Error {
  override readonly name = 'EntryExistsError';
}

/** `updateEntry` with an expected version, after another write changed the profile. */
export class EntryConflictError extends Error {
  override readonly name = 'EntryConflictError';
}

/** `updateEntry` / `removeEntry` for a source that has no entry. */
export class EntryNotFoundError extends Error {
  override readonly name = 'EntryNotFoundError';
}

/** Atomic single-entry writes, for the management mutations (issue 6). */
export interface ProfileMutations {
  /** Adds an entry; throws {@link EntryExistsError} or {@link EntryLimitError}. Returns the new version. */
  addEntry(projectId: number, entry: AllowlistEntry): Promise<number>;
  /**
   * Replaces the entry for the same source; throws {@link EntryNotFoundError}, and
   * {@link EntryConflictError} when `expectedVersion` is given and the profile is no longer at
   * it (another write came between the caller's read and this write: read again and retry).
   */
  updateEntry(projectId: number, entry: AllowlistEntry, expectedVersion?: number): Promise<number>;
  /** Removes the entry for a source; throws {@link EntryNotFoundError}. */
  removeEntry(projectId: number, sourceKind: SourceKind, sourceId: number): Promise<number>;
  /** Sets the enforcement mode (creating the profile when there is none). */
  setEnforcement(projectId: number, mode: JobTokenEnforcement): Promise<number>;
  /**
   * Adds several entries, and optionally sets the enforcement mode, in one write: all or
   * nothing. Throws {@link EntryExistsError} when any source already has an entry,
   * {@link EntryLimitError} when the entries would pass a limit, and
   * {@link EntryConflictError} when `expectedVersion` is given and the profile is no longer at
   * it. Returns the new version.
   */
  addEntries(
    projectId: number,
    entries: readonly AllowlistEntry[],
    options?: AddEntriesOptions,
  ): Promise<number>;
}

/**
 * Whether a write expecting `expected` (a version, `null` for "no profile", `undefined` for
 * anything) must be refused because the stored profile is no longer the one the caller read.
 */
export function profileMoved(
  expected: number | null | undefined,
  stored: Pick<JobTokenProfile, 'version'> | undefined,
): boolean {
  if (expected === undefined) return false;
  return expected === null ? stored !== undefined : stored?.version !== expected;
}

/** Options of {@link ProfileMutations.addEntries}. */
export interface AddEntriesOptions {
  /** Also set this mode, in the same write. */
  readonly enforcement?: JobTokenEnforcement | undefined;
  /**
   * Write only if the profile is still the one read: at this version, or, with `null`, still
   * absent (the caller read no profile).
   */
  readonly expectedVersion?: number | null | undefined;
}

/** A store that also takes single-entry writes. */
export type MutableProfileStore = ProfileStore & ProfileMutations;

/** Options of {@link createMemoryProfileStore}. */
export interface MemoryProfileStoreOptions {
  /** Most project entries per target. Default 200. */
  readonly maxProjectEntries?: number;
  /** Most group entries per target. Default 200. */
  readonly maxGroupEntries?: number;
  /** Enforcement of a profile created by its first entry. Default `ENFORCED`. */
  readonly defaultEnforcement?: JobTokenEnforcement;
}

/** Whether a store takes single-entry writes itself. */
export function hasProfileMutations(store: ProfileStore): store is MutableProfileStore {
  const s = store as Partial<ProfileMutations>;
  return (
    typeof s.addEntry === 'function' &&
    typeof s.updateEntry === 'function' &&
    typeof s.removeEntry === 'function' &&
    typeof s.setEnforcement === 'function' &&
    typeof s.addEntries === 'function'
  );
}

const sameSource = (e: AllowlistEntry, kind: SourceKind, id: number): boolean =>
  e.sourceKind === kind && e.sourceId === id;

/**
 * An in-process store, for one process only (demo and unit tests). Each write is synchronous
 * under the hood, so the single-entry writes are atomic within the process.
 */
export function createMemoryProfileStore(
  initial: readonly ProfileWrite[] = [],
  options: MemoryProfileStoreOptions = {},
): MutableProfileStore {
  const profiles = new Map<number, JobTokenProfile>();
  const versions = new Map<number, number>();
  const limits: EntryLimits = {
    PROJECT: options.maxProjectEntries ?? 200,
    GROUP: options.maxGroupEntries ?? 200,
  };
  const defaultMode = options.defaultEnforcement ?? 'ENFORCED';
  const write = (p: ProfileWrite): JobTokenProfile => {
    const version = (versions.get(p.projectId) ?? 0) + 1;
    versions.set(p.projectId, version);
    const stored: JobTokenProfile = Object.freeze({
      ...p,
      entries: Object.freeze([...p.entries]),
      version,
    });
    profiles.set(p.projectId, stored);
    return stored;
  };
  const current = (projectId: number): ProfileWrite =>
    profiles.get(projectId) ?? { projectId, enforcement: defaultMode, entries: [] };
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  };
  // Whole profiles are checked against the limits as the Redis store checks them (`put`,
  // `replaceAll`); single-entry writes check their own kind's count below.
  for (const p of initial) checkEntryLimits(p, limits);
  for (const p of initial) write(p);
  return {
    get: (id) => Promise.resolve(profiles.get(id)),
    put: (p) =>
      run(() => {
        checkEntryLimits(p, limits);
        return write(p);
      }),
    replaceAll: (all) =>
      run(() => {
        // All or nothing: every profile is checked before the first one is replaced.
        for (const p of all) checkEntryLimits(p, limits);
        for (const id of [...profiles.keys()]) {
          profiles.delete(id);
          versions.set(id, (versions.get(id) ?? 0) + 1);
        }
        for (const p of all) write(p);
      }),
    list: () => Promise.resolve([...profiles.values()]),
    close: () => Promise.resolve(),
    addEntry: (projectId, entry) =>
      run(() => {
        const p = current(projectId);
        if (p.entries.some((e) => sameSource(e, entry.sourceKind, entry.sourceId)))
          throw new EntryExistsError(`${entry.sourcePath} already has an entry`);
        const limit = limits[entry.sourceKind];
        if (p.entries.filter((e) => e.sourceKind === entry.sourceKind).length >= limit)
          throw new EntryLimitError(entry.sourceKind, limit);
        return write({ ...p, entries: [...p.entries, entry] }).version;
      }),
    updateEntry: (projectId, entry, expectedVersion) =>
      run(() => {
        if (expectedVersion !== undefined && (versions.get(projectId) ?? 0) !== expectedVersion)
          throw new EntryConflictError('the profile changed since it was read');
        const p = current(projectId);
        if (!p.entries.some((e) => sameSource(e, entry.sourceKind, entry.sourceId)))
          throw new EntryNotFoundError(`${entry.sourcePath} has no entry`);
        const entries = p.entries.map((e) =>
          sameSource(e, entry.sourceKind, entry.sourceId) ? entry : e,
        );
        return write({ ...p, entries }).version;
      }),
    removeEntry: (projectId, kind, sourceId) =>
      run(() => {
        const p = current(projectId);
        if (!p.entries.some((e) => sameSource(e, kind, sourceId)))
          throw new EntryNotFoundError(`no entry for ${kind.toLowerCase()} ${sourceId}`);
        const entries = p.entries.filter((e) => !sameSource(e, kind, sourceId));
        return write({ ...p, entries }).version;
      }),
    setEnforcement: (projectId, mode) =>
      run(() => write({ ...current(projectId), enforcement: mode }).version),
    addEntries: (projectId, added, opts = {}) =>
      run(() => {
        if (profileMoved(opts.expectedVersion, profiles.get(projectId)))
          throw new EntryConflictError('the profile changed since it was read');
        const p = current(projectId);
        const entries = [...p.entries];
        for (const entry of added) {
          if (entries.some((e) => sameSource(e, entry.sourceKind, entry.sourceId)))
            throw new EntryExistsError(`${entry.sourcePath} already has an entry`);
          entries.push(entry);
        }
        for (const kind of new Set(added.map((e) => e.sourceKind))) {
          if (entries.filter((e) => e.sourceKind === kind).length > limits[kind])
            throw new EntryLimitError(kind, limits[kind]);
        }
        return write({ ...p, enforcement: opts.enforcement ?? p.enforcement, entries }).version;
      }),
  };
}
