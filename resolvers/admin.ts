/**
 * Instance-admin operations on the gateway's caches: `jobTokenRolesDrop`. Like
 * `jobTokenRevoke`, admin-only and never open to job tokens; the check comes before the input
 * is looked at.
 */
import { auditAdmin } from './admin-audit.js';
import { badUserInputError, forbiddenActionError, notFoundError } from '../src/errors/codes.js';
import type { GatewayContext } from '../src/server/context.js';

const USER_ID = /^(0|[1-9][0-9]{0,15})$/;

/** Resolvers of the admin domain. */
export const adminResolvers = {
  Mutation: {
    jobTokenRolesDrop: async (
      _: unknown,
      { input }: { input: { projectPath: string; userId?: string | null } },
      ctx: GatewayContext,
    ) => {
      if (ctx.principal.kind !== 'user' || !ctx.principal.isAdmin) {
        throw forbiddenActionError('only instance admins can drop cached roles');
      }
      let userId: number | undefined;
      if (input.userId !== null && input.userId !== undefined) {
        if (!USER_ID.test(input.userId)) throw badUserInputError('userId must be a forge user id');
        userId = Number(input.userId);
      }
      const d = await ctx.authz.forProjectRef(input.projectPath);
      if (!d) throw notFoundError('the project was not found');
      // Without a fleet cache (the in-memory demo) roles live only as long as one request.
      await ctx.decisions?.dropRoles(d.project.id, userId);
      await auditAdmin(ctx, 'ROLES_DROPPED', {
        target: { projectId: d.project.id, fullPath: d.project.path_with_namespace },
        ...(userId === undefined ? {} : { userId }),
      });
      return { dropped: true, errors: [] };
    },
  },
};
