/**
 * Rollout planning (DESIGN.md section 1: "an allowlist suggested from observed usage"): the
 * smallest set of allowlist entries that lets every observed cross-project use keep working
 * once the target enforces its allowlist. Pure: no I/O.
 *
 * - One entry per source project that used the target, at the highest level it used per
 *   resource (no more).
 * - Sibling projects (same parent group) merge into one entry for that group when there are at
 *   least two and all of them used exactly the same levels, so the group entry grants none of
 *   them more than it used.
 * - A source that already has its own entry, or whose parent group has one, is left alone:
 *   autopopulate adds entries, it never rewrites what a person wrote.
 */
import {
  LEVEL_RANK,
  RESOURCES,
  type JobTokenAccessLevel,
  type JobTokenProfile,
  type JobTokenResource,
  type PermissionMap,
  type SourceKind,
} from '../policy/types.js';
import type { UsageRecord } from './auth-log.js';

/** What the planner reads of each usage record. */
export type ObservedUsage = Pick<
  UsageRecord,
  'sourceProjectId' | 'sourcePath' | 'sourceNamespaceId' | 'sourceNamespacePath' | 'used'
>;

/** An entry the plan proposes. */
export interface PlannedEntry {
  readonly sourceKind: SourceKind;
  readonly sourceId: number;
  readonly sourcePath: string;
  /** Only levels above NONE, in `RESOURCES` order. */
  readonly permissions: PermissionMap;
  /** The observed source projects the entry lets through. */
  readonly coveredSources: readonly string[];
}

/** Input of {@link planAutopopulate}. */
export interface AutopopulateInput {
  readonly targetProjectId: number;
  readonly usage: readonly ObservedUsage[];
  /** The target's current profile, if any. */
  readonly profile?: JobTokenProfile | undefined;
  /** Namespace ids known to be groups (a user namespace cannot get a group entry). */
  readonly groupNamespaces: ReadonlySet<number>;
}

/** The used levels in a canonical form (RESOURCES order, NONE left out). */
export function normalizeLevels(used: PermissionMap): PermissionMap {
  const out: Partial<Record<JobTokenResource, JobTokenAccessLevel>> = {};
  for (const r of RESOURCES) {
    const l = used[r];
    if (l !== undefined && LEVEL_RANK[l] > 0) out[r] = l;
  }
  return out;
}

const levelsKey = (m: PermissionMap): string => JSON.stringify(normalizeLevels(m));

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The smallest set of entries that keeps every observed use working, sorted by source path. */
export function planAutopopulate(input: AutopopulateInput): PlannedEntry[] {
  const existingProjects = new Set<number>();
  const existingGroups = new Set<number>();
  for (const e of input.profile?.entries ?? [])
    (e.sourceKind === 'PROJECT' ? existingProjects : existingGroups).add(e.sourceId);

  // One record per source (the backend aggregates already; merge defensively anyway).
  const bySource = new Map<number, ObservedUsage>();
  for (const u of input.usage) {
    if (u.sourceProjectId === input.targetProjectId) continue;
    if (existingProjects.has(u.sourceProjectId) || existingGroups.has(u.sourceNamespaceId))
      continue;
    const prev = bySource.get(u.sourceProjectId);
    const used: Partial<Record<JobTokenResource, JobTokenAccessLevel>> = { ...prev?.used };
    for (const r of RESOURCES) {
      const l = u.used[r];
      if (l !== undefined && (used[r] === undefined || LEVEL_RANK[l] > LEVEL_RANK[used[r]]))
        used[r] = l;
    }
    bySource.set(u.sourceProjectId, { ...u, used });
  }

  const byNamespace = new Map<number, ObservedUsage[]>();
  for (const u of bySource.values()) {
    if (Object.keys(normalizeLevels(u.used)).length === 0) continue; // nothing was used
    const list = byNamespace.get(u.sourceNamespaceId) ?? [];
    list.push(u);
    byNamespace.set(u.sourceNamespaceId, list);
  }

  const plan: PlannedEntry[] = [];
  for (const [namespaceId, list] of byNamespace) {
    const first = list[0];
    if (!first) continue;
    const same = list.every((u) => levelsKey(u.used) === levelsKey(first.used));
    if (list.length >= 2 && same && input.groupNamespaces.has(namespaceId)) {
      plan.push({
        sourceKind: 'GROUP',
        sourceId: namespaceId,
        sourcePath: first.sourceNamespacePath,
        permissions: normalizeLevels(first.used),
        coveredSources: list.map((u) => u.sourcePath).sort(compare),
      });
      continue;
    }
    for (const u of list) {
      plan.push({
        sourceKind: 'PROJECT',
        sourceId: u.sourceProjectId,
        sourcePath: u.sourcePath,
        permissions: normalizeLevels(u.used),
        coveredSources: [u.sourcePath],
      });
    }
  }
  return plan.sort((a, b) => compare(a.sourcePath, b.sourcePath));
}
