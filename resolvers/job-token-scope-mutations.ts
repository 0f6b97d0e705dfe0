/**
 * The management mutations (DESIGN.md section 4): add, update and remove allowlist entries and
 * set the enforcement mode. Maintainer+ on the target (admins always); the access check runs
 * before any input is looked at, so a caller who may not change the profile learns nothing
 * from validation messages. Every change is written to the change log with before and after.
 * Writes go through the store's atomic single-entry operations, which bump the profile
 * version and publish the invalidation, so no gateway keeps a stale decision.
 */
import { auditedEntry, type ChangeAction, type ChangeEvent } from '../src/audit/change-events.js';
import { badUserInputError, GatewayError, policyUnavailableError } from '../src/errors/codes.js';
import { isProjectFullPath } from '../src/policy/project-path.js';
import type {
  AllowlistEntry,
  JobTokenAccessLevel,
  JobTokenEnforcement,
  JobTokenResource,
  PermissionMap,
  SourceKind,
} from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';
import {
  EntryExistsError,
  EntryLimitError,
  EntryConflictError,
  EntryNotFoundError,
  createMemoryProfileStore,
  hasProfileMutations,
  profileMoved,
  type ProfileMutations,
} from '../src/store/profile-store.js';
import { groupAncestors } from '../src/upstream/loaders.js';
import type { RestGroup } from '../src/upstream/types.js';
import {
  authorizeManagement,
  canSee,
  entryModel,
  roleIn,
  scopeModel,
  type ManagedTarget,
} from './job-token-scope.js';

/** `JobTokenPermissionInput`. */
export interface PermissionInput {
  readonly resource: JobTokenResource;
  readonly level: JobTokenAccessLevel;
}

/** `JobTokenScopeAddEntryInput` and `JobTokenScopeUpdateEntryInput`. */
export interface EntryInput {
  readonly projectPath: string;
  readonly sourcePath: string;
  readonly defaultPermissions?: boolean | null;
  readonly permissions?: readonly PermissionInput[] | null;
  readonly protectedRefsOnly?: boolean | null;
  readonly boundToUserRole?: boolean | null;
}

/** A source resolved against the forge. */
export interface ResolvedSource {
  readonly kind: SourceKind;
  readonly id: number;
  readonly fullPath: string;
}

/** Entry writes of the store; a store without its own gets a read-modify-write fallback. */
export function mutationsOf(t: ManagedTarget): ProfileMutations {
  const store = t.services.store;
  if (hasProfileMutations(store)) return store;
  // Not atomic across processes; only stores built outside this code base end up here.
  const apply = async (
    fn: (m: ProfileMutations) => Promise<number>,
    expectedVersion?: number | null,
  ): Promise<number> => {
    const current = await store.get(t.project.id);
    if (profileMoved(expectedVersion, current))
      throw new EntryConflictError('the profile changed since it was read');
    const scratch = createMemoryProfileStore(current ? [current] : [], {
      defaultEnforcement: t.services.instance.defaultEnforcement,
    });
    await fn(scratch);
    const next = await scratch.get(t.project.id);
    if (!next) return current?.version ?? 0;
    return (await store.put(next)).version;
  };
  return {
    addEntry: (id, e) => apply((m) => m.addEntry(id, e)),
    updateEntry: (id, e, expectedVersion) => apply((m) => m.updateEntry(id, e), expectedVersion),
    removeEntry: (id, k, s) => apply((m) => m.removeEntry(id, k, s)),
    setEnforcement: (id, mode) => apply((m) => m.setEnforcement(id, mode)),
    addEntries: (id, entries, options = {}) =>
      apply(
        (m) => m.addEntries(id, entries, { enforcement: options.enforcement }),
        options.expectedVersion,
      ),
  };
}

/** The one message for a source that does not exist or that the caller cannot see. */
function sourceNotFound(path: string) {
  return badUserInputError(`no project or group "${path}" was found`);
}

/**
 * Finds the source (a project, else a group) and checks the caller may see it. A private
 * group is visible to admins, when it contains the target, or to its members (the forge's
 * group member look-up, inherited memberships included; the demo forge answers it too).
 */
export async function resolveSource(
  ctx: GatewayContext,
  t: ManagedTarget,
  path: string,
): Promise<ResolvedSource> {
  if (!isProjectFullPath(path) && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(path))
    throw sourceNotFound(path);
  const project = path.includes('/') ? await ctx.loaders.project.load(path) : null;
  if (project) {
    const role = await roleIn(ctx, t.actor, project.id);
    if (!canSee(project, role, t.actor)) throw sourceNotFound(path);
    return { kind: 'PROJECT', id: project.id, fullPath: project.path_with_namespace };
  }
  const group: RestGroup | null = await ctx.loaders.group.load(path);
  if (!group) throw sourceNotFound(path);
  const visible =
    t.actor.isAdmin ||
    (group.visibility !== undefined && group.visibility !== 'private') ||
    (await groupAncestors(ctx.loaders, t.project.namespace.id)).includes(group.id) ||
    (await ctx.upstream.find(
      `groups/${group.id}/members/all/${t.actor.userId}`,
      ctx.callOptions,
    )) !== undefined;
  if (!visible) throw sourceNotFound(path);
  return { kind: 'GROUP', id: group.id, fullPath: group.full_path };
}

/** Turns the input list into a map; a resource named twice is a BAD_USER_INPUT. */
export function permissionMap(list: readonly PermissionInput[]): PermissionMap {
  const out: Partial<Record<JobTokenResource, JobTokenAccessLevel>> = {};
  for (const { resource, level } of list) {
    if (out[resource] !== undefined)
      throw badUserInputError(`permissions names ${resource} more than once`);
    out[resource] = level;
  }
  return out;
}

/** Checks the combination of flags and levels of an entry about to be written. */
export function validateEntry(
  e: Pick<AllowlistEntry, 'defaultPermissions' | 'permissions' | 'boundToUserRole'>,
  explicitBoth: boolean,
): void {
  if (explicitBoth || (e.defaultPermissions && Object.keys(e.permissions).length > 0))
    throw badUserInputError(
      'defaultPermissions: true cannot be combined with explicit permissions; give one or the other',
    );
  if (e.defaultPermissions && !e.boundToUserRole)
    throw badUserInputError(
      'boundToUserRole: false cannot be combined with defaultPermissions: true (there is no role to default to)',
    );
  if (!e.defaultPermissions && Object.keys(e.permissions).length === 0)
    throw badUserInputError('give permissions (resource and level) or defaultPermissions: true');
}

/** Records a change; the audit trail never fails a mutation that already took effect. */
export async function audit(
  ctx: GatewayContext,
  t: ManagedTarget,
  action: ChangeAction,
  version: number,
  change: Pick<ChangeEvent, 'before' | 'after'> & { source?: ResolvedSource | undefined },
): Promise<void> {
  const event: ChangeEvent = {
    event: 'jobTokenScope.changed',
    action,
    at: new Date().toISOString(),
    requestId: ctx.requestId,
    actor: { userId: t.actor.userId, username: t.actor.username ?? null, admin: t.actor.isAdmin },
    target: { projectId: t.project.id, fullPath: t.project.path_with_namespace },
    ...(change.source
      ? {
          source: {
            id: change.source.id,
            kind: change.source.kind,
            fullPath: change.source.fullPath,
          },
        }
      : {}),
    before: change.before,
    after: change.after,
    version,
  };
  await t.services.changeLog.record(event);
}

function translate(err: unknown, source: ResolvedSource, target: string): never {
  if (err instanceof EntryExistsError)
    throw badUserInputError(
      `${source.fullPath} already has an entry in the allowlist of ${target}; use jobTokenScopeUpdateEntry`,
    );
  if (err instanceof EntryNotFoundError)
    throw badUserInputError(`${source.fullPath} has no entry in the allowlist of ${target}`);
  if (err instanceof EntryConflictError)
    throw policyUnavailableError(
      `the entry of ${source.fullPath} kept changing while it was updated; nothing was changed, try again`,
    );
  if (err instanceof EntryLimitError)
    throw badUserInputError(`${err.message}; remove unused entries first`);
  if (err instanceof GatewayError) throw err;
  // Anything else is the store failing (Redis away, timed out): the documented answer is
  // POLICY_UNAVAILABLE, not a masked INTERNAL_SERVER_ERROR. The write did not happen: each
  // store write is one script, and one whose answer was lost is settled by its receipt (a
  // write that was made answers as made; one that cannot be settled is a GatewayError above
  // saying it may have been made), so the caller may simply retry.
  throw policyUnavailableError('the permission store is unavailable; nothing was changed');
}

async function currentEntry(t: ManagedTarget, s: ResolvedSource) {
  const profile = await t.services.store.get(t.project.id);
  return profile?.entries.find((e) => e.sourceKind === s.kind && e.sourceId === s.id);
}

async function payload(t: ManagedTarget, entry: AllowlistEntry | undefined) {
  return {
    entry: entry ? entryModel(entry) : null,
    jobTokenScope: await scopeModel(t),
    errors: [],
  };
}

/** Reads and writes of one change before it gives up on a profile that keeps moving. */
export const UPDATE_ATTEMPTS = 5;

/**
 * A short, jittered pause before attempt `attempt + 1` of a change another write overtook, so
 * writers that collided do not collide again at once (about 5-15 ms after the first, growing).
 */
export function beforeRetry(attempt: number): Promise<void> {
  const ms = attempt * (5 + Math.random() * 10);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolvers of the management mutations. */
export const jobTokenScopeMutationResolvers = {
  Mutation: {
    jobTokenScopeAddEntry: async (
      _: unknown,
      { input }: { input: EntryInput },
      ctx: GatewayContext,
    ) => {
      const t = await authorizeManagement(ctx, input.projectPath, 'change');
      const source = await resolveSource(ctx, t, input.sourcePath);
      if (source.kind === 'PROJECT' && source.id === t.project.id)
        throw badUserInputError('a project cannot add itself to its own job token allowlist');
      const entry: AllowlistEntry = {
        sourceId: source.id,
        sourceKind: source.kind,
        sourcePath: source.fullPath,
        defaultPermissions: input.defaultPermissions ?? false,
        permissions: permissionMap(input.permissions ?? []),
        protectedRefsOnly: input.protectedRefsOnly ?? false,
        boundToUserRole: input.boundToUserRole ?? true,
        addedBy: String(t.actor.userId),
        createdAt: new Date().toISOString(),
        autopopulated: false,
      };
      validateEntry(entry, false);
      const version = await mutationsOf(t)
        .addEntry(t.project.id, entry)
        .catch((err: unknown) => translate(err, source, t.project.path_with_namespace));
      await audit(ctx, t, 'ENTRY_ADDED', version, {
        source,
        before: { entry: null },
        after: { entry: auditedEntry(entry) },
      });
      return payload(t, entry);
    },

    jobTokenScopeUpdateEntry: async (
      _: unknown,
      { input }: { input: EntryInput },
      ctx: GatewayContext,
    ) => {
      const t = await authorizeManagement(ctx, input.projectPath, 'change');
      const source = await resolveSource(ctx, t, input.sourcePath);
      const givesLevels = input.permissions !== undefined && input.permissions !== null;
      const givesDefault =
        input.defaultPermissions !== undefined && input.defaultPermissions !== null;
      // Read, merge, write only if nothing was written in between (the profile's version):
      // two people changing different fields of one entry at once must not undo each other.
      for (let attempt = 1; ; attempt++) {
        const profile = await t.services.store
          .get(t.project.id)
          .catch((err: unknown) => translate(err, source, t.project.path_with_namespace));
        const before = profile?.entries.find(
          (e) => e.sourceKind === source.kind && e.sourceId === source.id,
        );
        if (!before) translate(new EntryNotFoundError(), source, t.project.path_with_namespace);
        const defaultPermissions = givesDefault
          ? input.defaultPermissions === true
          : givesLevels
            ? false
            : before.defaultPermissions;
        const entry: AllowlistEntry = {
          ...before,
          sourcePath: source.fullPath,
          defaultPermissions,
          permissions: givesLevels
            ? permissionMap(input.permissions ?? [])
            : defaultPermissions
              ? {}
              : before.permissions,
          protectedRefsOnly: input.protectedRefsOnly ?? before.protectedRefsOnly,
          boundToUserRole: input.boundToUserRole ?? before.boundToUserRole,
          autopopulated: false,
        };
        validateEntry(
          entry,
          givesLevels && input.defaultPermissions === true && (input.permissions ?? []).length > 0,
        );
        let version: number;
        try {
          version = await mutationsOf(t).updateEntry(t.project.id, entry, profile?.version);
        } catch (err) {
          if (err instanceof EntryConflictError && attempt < UPDATE_ATTEMPTS) {
            await beforeRetry(attempt);
            continue;
          }
          return translate(err, source, t.project.path_with_namespace);
        }
        await audit(ctx, t, 'ENTRY_UPDATED', version, {
          source,
          before: { entry: auditedEntry(before) },
          after: { entry: auditedEntry(entry) },
        });
        return payload(t, entry);
      }
    },

    jobTokenScopeRemoveEntry: async (
      _: unknown,
      { input }: { input: Pick<EntryInput, 'projectPath' | 'sourcePath'> },
      ctx: GatewayContext,
    ) => {
      const t = await authorizeManagement(ctx, input.projectPath, 'change');
      const source = await resolveSource(ctx, t, input.sourcePath);
      const before = await currentEntry(t, source);
      const version = await mutationsOf(t)
        .removeEntry(t.project.id, source.kind, source.id)
        .catch((err: unknown) => translate(err, source, t.project.path_with_namespace));
      await audit(ctx, t, 'ENTRY_REMOVED', version, {
        source,
        before: { entry: before ? auditedEntry(before) : null },
        after: { entry: null },
      });
      return payload(t, before);
    },

    jobTokenScopeSetEnforcement: async (
      _: unknown,
      { input }: { input: { projectPath: string; mode: JobTokenEnforcement } },
      ctx: GatewayContext,
    ) => {
      const t = await authorizeManagement(ctx, input.projectPath, 'change');
      const before = (await t.services.store.get(t.project.id))?.enforcement ?? null;
      const version = await mutationsOf(t).setEnforcement(t.project.id, input.mode);
      await audit(ctx, t, 'ENFORCEMENT_SET', version, {
        before: { enforcement: before },
        after: { enforcement: input.mode },
      });
      return { jobTokenScope: await scopeModel(t), errors: [] };
    },
  },
};
