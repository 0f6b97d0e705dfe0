/**
 * Small helpers over {@link JobTokenAccessLevel}: ordering, parsing, the role-cap lookup and
 * the claim key of each resource (DESIGN.md section 2, items 1 and 4). Pure, no I/O; the
 * claim itself is parsed, strictly, by `src/auth/claims.ts`.
 */
import {
  LEVEL_RANK,
  LEVELS,
  RESOURCES,
  ROLE_CAPS,
  type JobTokenAccessLevel,
  type JobTokenResource,
} from './types.js';

/** The level with the given rank (0 NONE, 1 READ, 2 WRITE). */
export function levelOfRank(rank: 0 | 1 | 2): JobTokenAccessLevel {
  return LEVELS[rank];
}

/** Negative when `a < b`, zero when equal, positive when `a > b`. */
export function compareLevels(a: JobTokenAccessLevel, b: JobTokenAccessLevel): number {
  return LEVEL_RANK[a] - LEVEL_RANK[b];
}

/** True when `granted` covers `required` (WRITE implies READ, everything covers NONE). */
export function levelCovers(granted: JobTokenAccessLevel, required: JobTokenAccessLevel): boolean {
  return LEVEL_RANK[granted] >= LEVEL_RANK[required];
}

/** The lower of two levels. */
export function minLevel(a: JobTokenAccessLevel, b: JobTokenAccessLevel): JobTokenAccessLevel {
  return LEVEL_RANK[a] <= LEVEL_RANK[b] ? a : b;
}

/** The higher of two levels. */
export function maxLevel(a: JobTokenAccessLevel, b: JobTokenAccessLevel): JobTokenAccessLevel {
  return LEVEL_RANK[a] >= LEVEL_RANK[b] ? a : b;
}

/** Type guard for the GraphQL enum spelling (`NONE`, `READ`, `WRITE`). */
export function isLevel(value: unknown): value is JobTokenAccessLevel {
  return typeof value === 'string' && (LEVELS as readonly string[]).includes(value);
}

/** Type guard for a resource name (`RELEASES`, ...). */
export function isResource(value: unknown): value is JobTokenResource {
  return typeof value === 'string' && (RESOURCES as readonly string[]).includes(value);
}

/**
 * Parses a level in either spelling (`READ` or the YAML/claim form `read`).
 * Returns `undefined` for anything else, so callers decide how to fail.
 */
export function parseLevel(value: unknown): JobTokenAccessLevel | undefined {
  if (typeof value !== 'string') return undefined;
  const upper = value.toUpperCase();
  return isLevel(upper) ? upper : undefined;
}

/**
 * What a forge access level allows on a resource by role alone (the ROLE_CAPS table).
 * `0` (not a member) gives NONE.
 */
export function roleCapFor(resource: JobTokenResource, accessLevel: number): JobTokenAccessLevel {
  const caps = ROLE_CAPS[resource];
  if (accessLevel >= caps.WRITE) return 'WRITE';
  if (accessLevel >= caps.READ) return 'READ';
  return 'NONE';
}

/** The smallest forge access level whose role cap reaches `level` on `resource` (0 for NONE). */
export function accessLevelNeeded(resource: JobTokenResource, level: JobTokenAccessLevel): number {
  return level === 'NONE' ? 0 : ROLE_CAPS[resource][level];
}

/** Keys of the `job_token_permissions` claim (the job YAML's `permissions:`) per resource. */
export const CLAIM_KEY_OF: Readonly<Record<JobTokenResource, string>> = Object.freeze({
  RELEASES: 'releases',
  TAGS: 'tags',
  CONTAINERS: 'containers',
  MERGE_REQUEST_NOTES: 'merge_request_notes',
});
