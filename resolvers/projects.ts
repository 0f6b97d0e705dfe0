/**
 * `Query.project(fullPath)`: null, with no error, both when the project does not exist and
 * when the caller may not see it (DESIGN.md section 4, Visibility), so nothing leaks whether
 * a private project exists.
 */
import type { GatewayContext } from '../src/server/context.js';
import { toProject } from './models.js';

/** Resolvers of `Query.project`. */
export const projectResolvers = {
  Query: {
    project: async (_: unknown, { fullPath }: { fullPath: string }, ctx: GatewayContext) => {
      const d = await ctx.authz.forProjectRef(fullPath);
      return d && d.visible ? toProject(d.project) : null;
    },
  },
};
