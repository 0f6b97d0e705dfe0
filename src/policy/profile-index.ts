/**
 * Lookup maps over a profile's allowlist entries, built once per profile object.
 *
 * `decide` runs on every decision-cache miss, and a profile may hold 400 entries; with these
 * maps finding the nearest entry costs one lookup per ancestor group (O(depth)), never a scan.
 * Profiles are immutable values (a change makes a new object with a new version), so the
 * index is memoised in a WeakMap keyed by the profile object and dies with it.
 */
import type { AllowlistEntry, JobTokenProfile } from './types.js';

/** Entries of one profile by source id, split by kind (project and group ids may collide). */
export interface ProfileIndex {
  readonly byProject: ReadonlyMap<number, AllowlistEntry>;
  readonly byGroup: ReadonlyMap<number, AllowlistEntry>;
}

const cache = new WeakMap<JobTokenProfile, ProfileIndex>();

/**
 * A stable key for choosing between duplicate entries for one source. Writers reject
 * duplicates; if one slips through, the choice must still not depend on the entries' order,
 * and it leans restrictive: the smallest key wins, and each flag sorts its narrower value
 * first (per-resource levels before default permissions, protected refs only before all
 * refs, user-bound before project identity), then by the levels as text.
 */
function entryKey(entry: AllowlistEntry): string {
  const levels = Object.entries(entry.permissions)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([resource, level]) => `${resource}=${level === 'WRITE' ? 2 : level === 'READ' ? 1 : 0}`)
    .join(',');
  const flags = [!entry.defaultPermissions, entry.protectedRefsOnly, entry.boundToUserRole]
    .map((narrow) => (narrow ? '0' : '1'))
    .join('');
  return `${flags}|${levels}`;
}

function put(map: Map<number, AllowlistEntry>, entry: AllowlistEntry): void {
  const existing = map.get(entry.sourceId);
  if (existing === undefined || entryKey(entry) < entryKey(existing)) {
    map.set(entry.sourceId, entry);
  }
}

/** Builds (or returns the memoised) index of a profile's entries. */
export function indexProfile(profile: JobTokenProfile): ProfileIndex {
  const hit = cache.get(profile);
  if (hit !== undefined) return hit;
  const byProject = new Map<number, AllowlistEntry>();
  const byGroup = new Map<number, AllowlistEntry>();
  for (const entry of profile.entries) {
    put(entry.sourceKind === 'PROJECT' ? byProject : byGroup, entry);
  }
  const index: ProfileIndex = { byProject, byGroup };
  cache.set(profile, index);
  return index;
}

/**
 * The nearest entry for a source project: its own project entry, else the entry of its
 * closest ancestor group (`ancestorGroupIds` nearest first). The nearest entry decides alone.
 */
export function nearestEntry(
  index: ProfileIndex,
  sourceProjectId: number,
  ancestorGroupIds: readonly number[],
): AllowlistEntry | undefined {
  const own = index.byProject.get(sourceProjectId);
  if (own !== undefined) return own;
  for (const groupId of ancestorGroupIds) {
    const entry = index.byGroup.get(groupId);
    if (entry !== undefined) return entry;
  }
  return undefined;
}
