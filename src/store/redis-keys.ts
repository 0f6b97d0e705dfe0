/**
 * Every Redis key and channel of the profile store and the decision cache, in one place.
 *
 * Every key of one target project carries the hash tag `{p:<id>}`, so all of them live in one
 * slot and one Lua script or MULTI can touch them together on Redis Cluster too. The project
 * index has its own tag `{idx}`; it is never touched in the same script as a profile.
 */

/** Default key and channel prefix. */
export const DEFAULT_KEY_PREFIX = 'sg';

/** Key names of one target project. */
export interface ProjectKeys {
  /** Hash: `enforcement` → mode, `e:<P|G>:<sourceId>` → entry JSON. */
  readonly profile: string;
  /** Integer, incremented by every write of the profile. */
  readonly version: string;
  /** Prefix of decision hashes: `<decisionPrefix><version>:<time bucket>`, field `<principal key>`. */
  readonly decisionPrefix: string;
  /** Prefix of cached member roles: `<rolePrefix><userId>`. */
  readonly rolePrefix: string;
  /** Prefix of staged profiles of a policy import: `<stagePrefix><importId>`. */
  readonly stagePrefix: string;
  /** Prefix of write receipts: `<receiptPrefix><write id>` → the version the write made, or `void`. */
  readonly receiptPrefix: string;
}

/** Keys of target project `projectId`. */
export function projectKeys(projectId: number, prefix = DEFAULT_KEY_PREFIX): ProjectKeys {
  const base = `${prefix}:{p:${projectId}}:`;
  return {
    profile: `${base}profile`,
    version: `${base}version`,
    decisionPrefix: `${base}d:`,
    rolePrefix: `${base}role:`,
    stagePrefix: `${base}stage:`,
    receiptPrefix: `${base}w:`,
  };
}

/** Set of the ids of every project that has (or had) a profile, for `list()`. */
export function projectIndexKey(prefix = DEFAULT_KEY_PREFIX): string {
  return `${prefix}:{idx}:projects`;
}

/** Channel on which every profile write is announced as `<projectId>:<version>`. */
export function invalidationChannel(prefix = DEFAULT_KEY_PREFIX): string {
  return `${prefix}:policy`;
}

/** Parses an invalidation message; `undefined` when it is not one. */
export function parseInvalidation(
  message: string,
): { projectId: number; version: number } | undefined {
  const m = /^(\d{1,16}):(\d{1,16})$/.exec(message);
  if (!m) return undefined;
  return { projectId: Number(m[1]), version: Number(m[2]) };
}
