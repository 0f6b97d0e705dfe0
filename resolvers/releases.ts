/**
 * Releases: `Project.releases`, `Project.release`, `releaseCreate`, `releaseUpdate`,
 * `releaseDelete` over `/projects/:id/releases`. Guards live in `schema.graphql`, except the
 * TAGS WRITE that `releaseCreate` needs when it makes the forge create the tag (see there).
 */
import type { GatewayContext } from '../src/server/context.js';
import type { RestRelease, RestTag } from '../src/upstream/types.js';
import { paginate, type ConnectionArgs } from '../src/upstream/pagination.js';
import type { Owned } from '../directives/requires-job-token-permission.js';
import { mutationTarget, seg, toRelease } from './models.js';
import { requireJobTokenPermission } from './require-permission.js';
import { requireMayCreateTag } from './tag-protection.js';

interface ReleaseInput {
  projectPath: string;
  tagName: string;
  ref?: string | null;
  name?: string | null;
  description?: string | null;
  releasedAt?: string | null;
}

const strip = (o: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));

/** Resolvers of the releases domain. */
export const releaseResolvers = {
  Project: {
    releases: (p: Owned, args: ConnectionArgs, ctx: GatewayContext) =>
      paginate(
        args,
        (page, perPage) =>
          ctx.upstream.list<RestRelease>(
            `projects/${p.ownerProjectId}/releases`,
            { page, per_page: perPage },
            ctx.callOptions,
          ),
        (r) => toRelease(p.ownerProjectId, r),
        { cursors: ctx.cursors },
      ),
    release: async (p: Owned, { tagName }: { tagName: string }, ctx: GatewayContext) => {
      const r = await ctx.upstream.find<RestRelease>(
        `projects/${p.ownerProjectId}/releases/${seg(tagName)}`,
        ctx.callOptions,
      );
      return r ? toRelease(p.ownerProjectId, r) : null;
    },
  },
  Mutation: {
    releaseCreate: async (_: unknown, { input }: { input: ReleaseInput }, ctx: GatewayContext) => {
      const id = await mutationTarget(ctx, input.projectPath);
      // With `ref`, the forge creates the tag when it does not exist: that is a tag write, and
      // `tagCreate` needs TAGS WRITE for it. A tag that exists is released without `ref`, so if
      // it is deleted before the POST arrives the forge refuses ("Ref is not specified")
      // instead of creating it; only a job holding TAGS WRITE ever sends `ref` upstream.
      let ref = input.ref ?? undefined;
      if (ref !== undefined) {
        const tag = await ctx.upstream.find<RestTag>(
          `projects/${id}/repository/tags/${seg(input.tagName)}`,
          ctx.callOptions,
        );
        if (tag) ref = undefined;
        else await requireJobTokenPermission(ctx, id, 'TAGS', 'WRITE');
      }
      await requireMayCreateTag(ctx, id, input.tagName, 'write the release of the tag');
      const body = strip({
        tag_name: input.tagName,
        ref,
        name: input.name,
        description: input.description,
        released_at: input.releasedAt,
      });
      const r = await ctx.upstream.send<RestRelease>(
        'POST',
        `projects/${id}/releases`,
        body,
        ctx.callOptions,
      );
      return { release: r ? toRelease(id, r) : null, errors: [] };
    },
    releaseUpdate: async (_: unknown, { input }: { input: ReleaseInput }, ctx: GatewayContext) => {
      const id = await mutationTarget(ctx, input.projectPath);
      await requireMayCreateTag(ctx, id, input.tagName, 'write the release of the tag');
      const body = strip({
        name: input.name,
        description: input.description,
        released_at: input.releasedAt,
      });
      const r = await ctx.upstream.send<RestRelease>(
        'PUT',
        `projects/${id}/releases/${seg(input.tagName)}`,
        body,
        {
          ...ctx.callOptions,
          what: `release "${input.tagName}"`,
        },
      );
      return { release: r ? toRelease(id, r) : null, errors: [] };
    },
    releaseDelete: async (_: unknown, { input }: { input: ReleaseInput }, ctx: GatewayContext) => {
      const id = await mutationTarget(ctx, input.projectPath);
      await requireMayCreateTag(ctx, id, input.tagName, 'write the release of the tag');
      const r = await ctx.upstream.send<RestRelease>(
        'DELETE',
        `projects/${id}/releases/${seg(input.tagName)}`,
        undefined,
        {
          ...ctx.callOptions,
          what: `release "${input.tagName}"`,
        },
      );
      return { release: r ? toRelease(id, r) : null, errors: [] };
    },
  },
};
