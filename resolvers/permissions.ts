/**
 * `Project.jobTokenPermissions`: the caller's own effective permissions on a project, with the
 * reason and a sentence for each resource, so a frontend can grey out what a job cannot do.
 */
import type { Owned } from '../directives/requires-job-token-permission.js';
import type { TargetDecision } from '../src/cache/request-authorizer.js';
import { explainDecision } from '../src/policy/explain.js';
import { RESOURCES } from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';

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

/** Resolvers of the permissions domain. */
export const permissionResolvers = {
  Project: {
    jobTokenPermissions: async (p: Owned, _: unknown, ctx: GatewayContext) => {
      const d =
        ctx.authz.peek(p.ownerProjectId) ?? (await ctx.authz.forProjectRef(p.ownerProjectId));
      return d ? effectivePermissions(ctx, d) : [];
    },
  },
};
