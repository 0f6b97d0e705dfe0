/**
 * Releases: `Project.releases`, `Project.release`, `releaseCreate`, `releaseUpdate`,
 * `releaseDelete` over `/projects/:id/releases`. Guards live in `schema.graphql`.
 */
import type { GatewayContext } from '../src/server/context.js';
import type { RestRelease } from '../src/upstream/types.js';
import { paginate, type ConnectionArgs } from '../src/upstream/pagination.js';
import type { Owned } from '../directives/requires-job-token-permission.js';
import { mutationTarget, seg, toRelease } from './models.js';

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
      const body = strip({
        tag_name: input.tagName,
        ref: input.ref,
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
