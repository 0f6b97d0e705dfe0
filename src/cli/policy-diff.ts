/**
 * What a policy import changes, as the lines `policy import` prints and its audit event keeps:
 * the file diff (`diffPolicies`: a stored policy exported, against the file) and the diff by ids
 * (`diffStoredProfiles`: the stored profiles against the resolved file, with no forge look-up).
 * Pure.
 */
import type { PolicyFile, PolicyFileEntry } from '../policy/policy-file.js';
import { toAllowlistEntry } from '../policy/policy-file.js';
import { RESOURCES, type AllowlistEntry, type JobTokenProfile } from '../policy/types.js';
import type { ProfileWrite } from '../store/profile-store.js';

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

const sourceKey = (e: PolicyFileEntry): string => `${e.kind}:${e.source.toLowerCase()}`;
/** Whether two file entries grant the same: levels compared per resource, in any key order. */
const sameEntry = (a: PolicyFileEntry, b: PolicyFileEntry): boolean =>
  a.source === b.source && sameGrant(toAllowlistEntry(a, 0), toAllowlistEntry(b, 0));

/** How {@link diffProject} reads one kind of profile: its entries' key, sameness and shape. */
interface EntryView<E> {
  readonly key: (e: E) => string;
  readonly same: (a: E, b: E) => boolean;
  readonly show: (e: E) => PolicyFileEntry;
}

/** The changes of one project, from its profile `a` (before) to `b` (after), into `out`. */
function diffProject<E>(
  project: string,
  a: { readonly enforcement: string; readonly entries: readonly E[] } | undefined,
  b: { readonly enforcement: string; readonly entries: readonly E[] } | undefined,
  view: EntryView<E>,
  out: PolicyChange[],
): void {
  if (a?.enforcement !== b?.enforcement)
    out.push({
      kind: 'enforcement',
      project,
      from: a?.enforcement ?? null,
      to: b?.enforcement ?? null,
    });
  const before = new Map((a?.entries ?? []).map((e) => [view.key(e), e]));
  const after = new Map((b?.entries ?? []).map((e) => [view.key(e), e]));
  for (const [key, e] of after) {
    const old = before.get(key);
    if (!old) out.push({ kind: 'added', project, entry: view.show(e) });
    else if (!view.same(old, e))
      out.push({ kind: 'changed', project, from: view.show(old), to: view.show(e) });
  }
  for (const [key, e] of before)
    if (!after.has(key)) out.push({ kind: 'removed', project, entry: view.show(e) });
}

const FILE_ENTRIES: EntryView<PolicyFileEntry> = {
  key: sourceKey,
  same: sameEntry,
  show: (e) => e,
};

/** What importing `next` over `current` would change, project by project. Pure. */
export function diffPolicies(current: PolicyFile, next: PolicyFile): PolicyChange[] {
  const out: PolicyChange[] = [];
  const paths = [
    ...new Set([...Object.keys(current.projects), ...Object.keys(next.projects)]),
  ].sort();
  for (const project of paths)
    diffProject(project, current.projects[project], next.projects[project], FILE_ENTRIES, out);
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

/** Whether two stored entries grant the same (display-only fields aside). */
export function sameGrant(a: AllowlistEntry, b: AllowlistEntry): boolean {
  if (a.defaultPermissions !== b.defaultPermissions) return false;
  if (a.protectedRefsOnly !== b.protectedRefsOnly) return false;
  if (a.boundToUserRole !== b.boundToUserRole) return false;
  if (a.defaultPermissions) return true;
  return RESOURCES.every((r) => (a.permissions[r] ?? 'NONE') === (b.permissions[r] ?? 'NONE'));
}

/**
 * What writing `next` (a resolved policy file, `paths` its target paths in order) over the
 * `stored` profiles changes, compared by ids: a target by its project id, an entry by its
 * source's kind and id, so a source renamed since is the same entry and a different group now
 * holding an old path is a removal and an addition. Names are only for the lines: a target by
 * the file's path (`project <id>` for a profile the file drops), a source by the file's path
 * when the file has its id, else by the path stored with it and its id.
 */
export function diffStoredProfiles(
  stored: readonly JobTokenProfile[],
  next: readonly ProfileWrite[],
  paths: readonly string[],
): PolicyChange[] {
  const before = new Map(stored.map((p) => [p.projectId, p]));
  const after = new Map(next.map((p) => [p.projectId, p]));
  const name = new Map(next.map((p, i) => [p.projectId, paths[i] ?? `project ${p.projectId}`]));
  const key = (e: AllowlistEntry): string => `${e.sourceKind}:${e.sourceId}`;
  const known = new Map<string, string>();
  for (const p of next) for (const e of p.entries) known.set(key(e), e.sourcePath);
  const sourceName = (e: AllowlistEntry): string =>
    known.get(key(e)) ?? `${e.sourcePath} (id ${e.sourceId})`;
  const out: PolicyChange[] = [];
  const ids = [...new Set([...before.keys(), ...after.keys()])];
  const projectName = (id: number): string => name.get(id) ?? `project ${id}`;
  ids.sort((x, y) => projectName(x).localeCompare(projectName(y)) || x - y);
  const view: EntryView<AllowlistEntry> = {
    key,
    same: sameGrant,
    show: (e) => asFileEntry(e, sourceName(e)),
  };
  for (const id of ids) diffProject(projectName(id), before.get(id), after.get(id), view, out);
  return out;
}
