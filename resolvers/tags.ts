/**
 * Tags: `Project.tags`, `tagCreate`, `tagDelete` over `/projects/:id/repository/tags`.
 */
import type { Owned } from '../directives/requires-job-token-permission.js';
import type { GatewayContext } from '../src/server/context.js';
import { paginate, type ConnectionArgs } from '../src/upstream/pagination.js';
import type { RestTag } from '../src/upstream/types.js';
import { mutationTarget, seg, toTag } from './models.js';
import { requireMayCreateTag, requireMayDeleteTag } from './tag-protection.js';

/** Resolvers of the tags domain. */
export const tagResolvers = {
  Project: {
    tags: (p: Owned, args: ConnectionArgs & { search?: string | null }, ctx: GatewayContext) =>
      paginate(
        args,
        (page, perPage) =>
          ctx.upstream.list<RestTag>(
            `projects/${p.ownerProjectId}/repository/tags`,
            { page, per_page: perPage, search: args.search ?? undefined },
            ctx.callOptions,
          ),
        (t) => toTag(p.ownerProjectId, t),
        { cursors: ctx.cursors },
      ),
  },
  Mutation: {
    tagCreate: async (
      _: unknown,
      {
        input,
      }: { input: { projectPath: string; name: string; ref: string; message?: string | null } },
      ctx: GatewayContext,
    ) => {
      const id = await mutationTarget(ctx, input.projectPath);
      await requireMayCreateTag(ctx, id, input.name, 'create the tag');
      const body: Record<string, string> = { tag_name: input.name, ref: input.ref };
      if (input.message) body['message'] = input.message;
      const t = await ctx.upstream.send<RestTag>(
        'POST',
        `projects/${id}/repository/tags`,
        body,
        ctx.callOptions,
      );
      return { tag: t ? toTag(id, t) : null, errors: [] };
    },
    tagDelete: async (
      _: unknown,
      { input }: { input: { projectPath: string; name: string } },
      ctx: GatewayContext,
    ) => {
      const id = await mutationTarget(ctx, input.projectPath);
      const opts = { ...ctx.callOptions, what: `tag "${input.name}"` };
      // Read first so the payload can return what was deleted; a missing tag is NOT_FOUND.
      const t = await ctx.upstream.get<RestTag>(
        `projects/${id}/repository/tags/${seg(input.name)}`,
        undefined,
        opts,
      );
      requireMayDeleteTag(ctx, id, t);
      await ctx.upstream.send(
        'DELETE',
        `projects/${id}/repository/tags/${seg(input.name)}`,
        undefined,
        opts,
      );
      return { tag: toTag(id, t), errors: [] };
    },
  },
};
