/**
 * Where job token profiles live. The memory store serves `--demo` and tests of one process;
 * the Redis store (issue 5) implements the same interface for a fleet.
 */
import type { JobTokenProfile } from '../policy/types.js';

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

/** An in-process store, for one process only (demo and unit tests). */
export function createMemoryProfileStore(initial: readonly ProfileWrite[] = []): ProfileStore {
  const profiles = new Map<number, JobTokenProfile>();
  const versions = new Map<number, number>();
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
  for (const p of initial) write(p);
  return {
    get: (id) => Promise.resolve(profiles.get(id)),
    put: (p) => Promise.resolve(write(p)),
    replaceAll: (all) => {
      for (const id of [...profiles.keys()]) {
        profiles.delete(id);
        versions.set(id, (versions.get(id) ?? 0) + 1);
      }
      for (const p of all) write(p);
      return Promise.resolve();
    },
    list: () => Promise.resolve([...profiles.values()]),
    close: () => Promise.resolve(),
  };
}
