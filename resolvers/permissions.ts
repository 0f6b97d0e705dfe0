/**
 * `Project.jobTokenPermissions`: the caller's own effective permissions on a project, with the
 * reason and a sentence for each resource, so a frontend can grey out what a job cannot do.
 * `Query.effectiveJobTokenPermissions`: the same for a hypothetical job of a source project
 * triggered by a given user, computed by the pure engine (Developer+ on the target).
 */
import type { Owned } from '../directives/requires-job-token-permission.js';
import type { JobTokenPrincipal } from '../src/auth/principal.js';
import { toTargetProject, type TargetDecision } from '../src/cache/request-authorizer.js';
import { badUserInputError, notFoundError } from '../src/errors/codes.js';
import { decide } from '../src/policy/engine.js';
import { explainDecision } from '../src/policy/explain.js';
import { RESOURCES } from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';
import { groupAncestors } from '../src/upstream/loaders.js';
import { isProjectFullPath } from '../src/policy/project-path.js';
import { authorizeManagement, canSee, PROJECT_NOT_FOUND, roleIn } from './job-token-scope.js';

/** `EffectivePermission` rows of a decision. */
export function effectivePermissions(ctx: GatewayContext, d: TargetDecision) {
  const explain = ctx.authz.explainContext(d);
  return RESOURCES.map((resource) => {
    const r = d.set.resources[resource];
    return {
      resource,
      level: r.level,
      reason: r.reason,
      auditWouldDeny: r.auditWouldDeny,
      explanation: explainDecision(d.set, resource, explain),
    };
  });
}

/** Arguments of `Query.effectiveJobTokenPermissions`. */
export interface EffectivePermissionsArgs {
  readonly sourcePath: string;
  readonly targetPath: string;
  readonly userId?: string | null;
  readonly refProtected?: boolean | null;
}

const USER_ID = /^[1-9][0-9]{0,15}$/;

/**
 * What a job of `sourcePath` triggered by `userId` could do on `targetPath`. The target must
 * allow the caller to view its permissions; a source the caller cannot see is NOT_FOUND with
 * the same message as a missing one, so the answer never reveals a private project.
 */
export async function hypotheticalPermissions(ctx: GatewayContext, args: EffectivePermissionsArgs) {
  const t = await authorizeManagement(ctx, args.targetPath, 'view');
  if (!isProjectFullPath(args.sourcePath)) throw notFoundError(PROJECT_NOT_FOUND);
  const source = await ctx.loaders.project.load(args.sourcePath);
  if (!source || !canSee(source, await roleIn(ctx, t.actor, source.id), t.actor))
    throw notFoundError(PROJECT_NOT_FOUND);
  let userId = t.actor.userId;
  if (args.userId !== undefined && args.userId !== null) {
    if (!USER_ID.test(args.userId)) throw badUserInputError('userId must be a forge user id');
    userId = Number(args.userId);
  }
  const [member, user, profile, ancestors] = await Promise.all([
    ctx.loaders.member.load({ projectId: t.project.id, userId }),
    ctx.loaders.user.load(userId),
    t.services.store.get(t.project.id),
    groupAncestors(ctx.loaders, source.namespace.id),
  ]);
  const userLabel = user?.username ?? (userId === t.actor.userId ? t.actor.username : undefined);
  // A job token as the auth layer would build it; no token exists, so nothing can leak.
  const principal: JobTokenPrincipal = {
    kind: 'job',
    issuer: 'scopegate:hypothetical',
    jti: 'hypothetical',
    expiresAt: 0,
    projectId: source.id,
    projectPath: source.path_with_namespace,
    namespaceId: source.namespace.id,
    namespacePath: source.namespace.full_path,
    userId,
    userLogin: userLabel ?? `user ${userId}`,
    jobId: 0,
    pipelineId: 0,
    ref: '',
    refType: 'branch',
    refProtected: args.refProtected === true,
  };
  const roleAccessLevel = member?.access_level ?? 0;
  const set = decide({
    principal,
    target: toTargetProject(t.project),
    profile,
    roleAccessLevel,
    source: { id: source.id, fullPath: source.path_with_namespace, ancestorGroupIds: ancestors },
    instance: t.services.instance,
  });
  const explain = {
    targetPath: t.project.path_with_namespace,
    sourcePath: source.path_with_namespace,
    userLabel: userLabel ?? `user ${userId}`,
    roleAccessLevel,
  };
  return RESOURCES.map((resource) => {
    const r = set.resources[resource];
    return {
      resource,
      level: r.level,
      reason: r.reason,
      auditWouldDeny: r.auditWouldDeny,
      explanation: explainDecision(set, resource, explain),
    };
  });
}

/** Resolvers of the permissions domain. */
export const permissionResolvers = {
  Query: {
    effectiveJobTokenPermissions: (
      _: unknown,
      args: EffectivePermissionsArgs,
      ctx: GatewayContext,
    ) => hypotheticalPermissions(ctx, args),
  },
  Project: {
    jobTokenPermissions: async (p: Owned, _: unknown, ctx: GatewayContext) => {
      const d =
        ctx.authz.peek(p.ownerProjectId) ?? (await ctx.authz.forProjectRef(p.ownerProjectId));
      return d ? effectivePermissions(ctx, d) : [];
    },
  },
};
