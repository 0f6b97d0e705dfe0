/**
 * `Project.jobTokenScope` and `Project.jobTokenAuthLog`, and the access rule every management
 * query and mutation shares (DESIGN.md section 2, last paragraph): user tokens only (a job
 * token can never view or change a profile), Developer+ on the target views, Maintainer+
 * changes, instance admins do everything. Roles come from the forge's member look-up by user
 * id. A target the caller cannot see is NOT_FOUND with the same message as a missing one.
 */
import type { Owned } from '../directives/requires-job-token-permission.js';
import type { UsageRecord } from '../src/audit/auth-log.js';
import type { UserPrincipal } from '../src/auth/principal.js';
import { forbiddenActionError, internalError, notFoundError } from '../src/errors/codes.js';
import { effectiveEnforcement } from '../src/policy/engine.js';
import { roleName } from '../src/policy/explain.js';
import { isProjectFullPath } from '../src/policy/project-path.js';
import {
  RESOURCES,
  ROLES,
  type AllowlistEntry,
  type JobTokenProfile,
  type PermissionMap,
  type SourceKind,
} from '../src/policy/types.js';
import type { GatewayContext, ManagementServices } from '../src/server/context.js';
import {
  paginate,
  type ConnectionArgs,
  type Connection,
  type CursorCodec,
} from '../src/upstream/pagination.js';
import type { RestProject } from '../src/upstream/types.js';
import { gid } from './models.js';

/** What a management action needs on the target. */
export type ManageAction = 'view' | 'change';

/** A target the caller may manage, with what the resolvers need. */
export interface ManagedTarget {
  readonly project: RestProject;
  readonly actor: UserPrincipal;
  /** The caller's forge access level in the target (admins: Owner). */
  readonly role: number;
  readonly services: ManagementServices;
}

/** The message of every target the caller cannot see or that does not exist. */
export const PROJECT_NOT_FOUND = 'the project was not found';

/** The caller as a person, or FORBIDDEN: job tokens and anonymous callers never manage. */
export function requireUser(ctx: GatewayContext): UserPrincipal {
  const p = ctx.principal;
  switch (p.kind) {
    case 'user':
      return p;
    case 'job':
      throw forbiddenActionError(
        'job tokens cannot view or change job token permissions; use a personal sign-in (user token)',
      );
    case 'anonymous':
      throw forbiddenActionError(
        'sign in with a user token to view or change job token permissions',
      );
  }
}

/** The caller's forge access level in a project (admins count as Owner). */
export async function roleIn(
  ctx: GatewayContext,
  actor: UserPrincipal,
  projectId: number,
): Promise<number> {
  if (actor.isAdmin) return ROLES.OWNER;
  return (await ctx.loaders.member.load({ projectId, userId: actor.userId }))?.access_level ?? 0;
}

/** Whether a signed-in person may see a project at all. */
export function canSee(project: RestProject, role: number, actor: UserPrincipal): boolean {
  return actor.isAdmin || role > 0 || project.visibility !== 'private';
}

/**
 * Checks the caller may `action` the target's job token permissions and returns it.
 * Order matters: who the caller is first, then whether they may see the project (NOT_FOUND,
 * uniform), then the role (FORBIDDEN), so a caller who may not see it learns nothing.
 */
export async function authorizeManagement(
  ctx: GatewayContext,
  ref: string | number,
  action: ManageAction,
): Promise<ManagedTarget> {
  const actor = requireUser(ctx);
  const services = ctx.management;
  if (!services) throw internalError();
  if (typeof ref === 'string' && !isProjectFullPath(ref)) throw notFoundError(PROJECT_NOT_FOUND);
  const project = await ctx.loaders.project.load(ref);
  if (!project) throw notFoundError(PROJECT_NOT_FOUND);
  const role = await roleIn(ctx, actor, project.id);
  if (!canSee(project, role, actor)) throw notFoundError(PROJECT_NOT_FOUND);
  const needed = action === 'view' ? ROLES.DEVELOPER : ROLES.MAINTAINER;
  if (role < needed) {
    const what = action === 'view' ? 'viewing' : 'changing';
    throw forbiddenActionError(
      `${what} the job token permissions of ${project.path_with_namespace} needs the ${roleName(needed)} role or higher; you are ${role > 0 ? `a ${roleName(role)}` : 'not a member'} there`,
    );
  }
  return { project, actor, role, services };
}

/** `JobTokenPermission` rows of a permission map, in `RESOURCES` order. */
export function permissionRows(map: PermissionMap) {
  return RESOURCES.flatMap((resource) => {
    const level = map[resource];
    return level === undefined ? [] : [{ resource, level }];
  });
}

/** `JobTokenScopeSource`. */
export function sourceModel(kind: SourceKind, id: number, fullPath: string) {
  return { id: gid(kind === 'PROJECT' ? 'Project' : 'Group', id), fullPath, kind };
}

const entryKey = (kind: SourceKind, id: number): string => `${kind}:${id}`;

/**
 * When each entry last let a job through: the entry that matched the last use of each source,
 * else a project entry for the source itself or a group entry for its namespace.
 */
export function lastUsedByEntry(usage: readonly UsageRecord[]): Map<string, number> {
  const out = new Map<string, number>();
  const bump = (key: string, at: number) => out.set(key, Math.max(out.get(key) ?? 0, at));
  for (const u of usage) {
    if (u.allowed + u.wouldDeny === 0) continue;
    if (u.matchedEntry) bump(entryKey(u.matchedEntry.kind, u.matchedEntry.id), u.lastUsedAt);
    bump(entryKey('PROJECT', u.sourceProjectId), u.lastUsedAt);
    bump(entryKey('GROUP', u.sourceNamespaceId), u.lastUsedAt);
  }
  return out;
}

/** `JobTokenScopeEntry`. */
export function entryModel(e: AllowlistEntry, lastUsed?: ReadonlyMap<string, number>) {
  const used = lastUsed?.get(entryKey(e.sourceKind, e.sourceId));
  return {
    source: sourceModel(e.sourceKind, e.sourceId, e.sourcePath),
    defaultPermissions: e.defaultPermissions,
    permissions: e.defaultPermissions ? [] : permissionRows(e.permissions),
    protectedRefsOnly: e.protectedRefsOnly,
    boundToUserRole: e.boundToUserRole,
    addedBy: e.addedBy ?? null,
    createdAt: e.createdAt ?? null,
    autopopulated: e.autopopulated === true,
    lastUsedAt: used === undefined ? null : new Date(used).toISOString(),
  };
}

/** `JobTokenScope` of a target (its profile, or the instance default when it has none). */
export async function scopeModel(t: ManagedTarget, profile?: JobTokenProfile) {
  const p = profile ?? (await t.services.store.get(t.project.id));
  const usage = await t.services.authLog.list(t.project.id);
  const lastUsed = lastUsedByEntry(usage);
  return {
    enforcement: p?.enforcement ?? t.services.instance.defaultEnforcement,
    effectiveEnforcement: effectiveEnforcement(p, t.services.instance),
    entries: (p?.entries ?? []).map((e) => entryModel(e, lastUsed)),
    version: p?.version ?? 0,
  };
}

/**
 * `JobTokenAuthLogEntry`. The matched entry's `fullPath` is looked up only when asked for
 * (`entryPath`): usage records keep the entry's kind and id, not its path.
 */
export function authLogModel(u: UsageRecord, entryPath: (u: UsageRecord) => Promise<string>) {
  return {
    sourceProject: sourceModel('PROJECT', u.sourceProjectId, u.sourcePath),
    lastUsedAt: new Date(u.lastUsedAt).toISOString(),
    lastJobId: String(u.lastJobId),
    lastPipelineId: String(u.lastPipelineId),
    lastUserId: String(u.lastUserId),
    lastUserIsBot: u.lastUserIsBot,
    permissionsUsed: permissionRows(u.used),
    allowedCount: u.allowed,
    deniedCount: u.denied,
    auditWouldDenyCount: u.wouldDeny,
    matchedEntry: u.matchedEntry
      ? { ...sourceModel(u.matchedEntry.kind, u.matchedEntry.id, ''), fullPath: () => entryPath(u) }
      : null,
  };
}

/**
 * A connection over a list computed in memory (opaque offset cursors, as everywhere). `load`
 * runs once, and only when the window asks for an item: `paginate` refuses a bad `first` or
 * `after` and answers `first: 0` before fetching, so those cost none of the list's reads.
 */
export function listConnection<T, M>(
  load: () => Promise<readonly T[]>,
  args: ConnectionArgs,
  map: (item: T) => M,
  cursors?: CursorCodec,
): Promise<Connection<M>> {
  let items: Promise<readonly T[]> | undefined;
  return paginate(
    args,
    async (page, perPage) => {
      const all = await (items ??= load());
      const start = (page - 1) * perPage;
      return {
        items: all.slice(start, start + perPage),
        nextPage: start + perPage < all.length ? page + 1 : undefined,
      };
    },
    map,
    { cursors },
  );
}

/** Resolvers of the job token scope domain (queries on `Project`). */
export const jobTokenScopeResolvers = {
  Project: {
    jobTokenScope: async (p: Owned, _: unknown, ctx: GatewayContext) =>
      scopeModel(await authorizeManagement(ctx, p.ownerProjectId, 'view')),
    jobTokenAuthLog: async (p: Owned, args: ConnectionArgs, ctx: GatewayContext) => {
      const t = await authorizeManagement(ctx, p.ownerProjectId, 'view');
      const usage = async () =>
        (await t.services.authLog.list(t.project.id)).sort(
          (a, b) => b.lastUsedAt - a.lastUsedAt || a.sourceProjectId - b.sourceProjectId,
        );
      // The entry's path as the profile has it; an entry removed since is named by the usage
      // record when it was the source project or its group, else by the forge ("" when gone).
      let profile: Promise<JobTokenProfile | undefined> | undefined;
      const entryPath = async (u: UsageRecord): Promise<string> => {
        const m = u.matchedEntry;
        if (!m) return '';
        const p = await (profile ??= t.services.store.get(t.project.id));
        const e = p?.entries.find((x) => x.sourceKind === m.kind && x.sourceId === m.id);
        if (e) return e.sourcePath;
        if (m.kind === 'PROJECT' && m.id === u.sourceProjectId) return u.sourcePath;
        if (m.kind === 'GROUP' && m.id === u.sourceNamespaceId) return u.sourceNamespacePath;
        if (m.kind === 'PROJECT')
          return (await ctx.loaders.project.load(m.id))?.path_with_namespace ?? '';
        return (await ctx.loaders.group.load(m.id))?.full_path ?? '';
      };
      return listConnection(usage, args, (u) => authLogModel(u, entryPath), ctx.cursors);
    },
  },
};
