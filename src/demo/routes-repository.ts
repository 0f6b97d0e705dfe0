/** Routes for releases and repository tags (`/projects/:id/releases`, `/repository/tags`). */
import { optionalString, optionalTimestamp, requiredString } from './http-io.js';
import { notFound, type ReleaseRecord, type TagRecord } from './model.js';
import { renderProtectedTag, renderRelease, renderTag } from './render.js';
import type { Route, RouteContext } from './router.js';

const projectOf = (ctx: RouteContext) => ctx.store.project(ctx.path.id ?? '');

/** Sorts releases as `order_by` (`released_at` | `created_at`) and `sort` (`desc` | `asc`) ask. */
function orderReleases(releases: ReleaseRecord[], query: URLSearchParams): ReleaseRecord[] {
  const key = query.get('order_by') === 'created_at' ? 'created_at' : 'released_at';
  const direction = query.get('sort') === 'asc' ? 1 : -1;
  return [...releases].sort((a, b) => direction * a[key].localeCompare(b[key]));
}

/** The release and tag routes, reads and writes. */
/** A tag as the forge answers it: with its release, and whether a protection matches it. */
function tagJson(ctx: RouteContext, projectId: number, tag: TagRecord): unknown {
  return renderTag(
    tag,
    ctx.store.release(projectId, tag.name),
    ctx.store.isProtectedTag(projectId, tag.name),
  );
}

export const repositoryRoutes: readonly Route[] = [
  {
    method: 'GET',
    pattern: '/projects/:id/releases',
    handler: (ctx) => {
      const releases = orderReleases(ctx.store.releases(projectOf(ctx).id), ctx.query);
      ctx.sendPage(releases, (r) => renderRelease(ctx.render, r));
    },
  },
  {
    method: 'GET',
    pattern: '/projects/:id/releases/:tag_name',
    handler: (ctx) => {
      const release = ctx.store.release(projectOf(ctx).id, ctx.path.tag_name ?? '');
      if (!release) throw notFound('Release');
      ctx.send(200, renderRelease(ctx.render, release));
    },
  },
  {
    method: 'POST',
    pattern: '/projects/:id/releases',
    handler: (ctx) => {
      const project = projectOf(ctx);
      const input = {
        tag_name: requiredString(ctx.params, 'tag_name'),
        name: optionalString(ctx.params, 'name'),
        description: optionalString(ctx.params, 'description'),
        ref: optionalString(ctx.params, 'ref'),
        released_at: optionalTimestamp(ctx.params, 'released_at'),
        tag_message: optionalString(ctx.params, 'tag_message'),
      };
      const release = ctx.store.createRelease(project.id, input, ctx.actorId);
      ctx.send(201, renderRelease(ctx.render, release));
    },
  },
  {
    method: 'PUT',
    pattern: '/projects/:id/releases/:tag_name',
    handler: (ctx) => {
      const release = ctx.store.updateRelease(projectOf(ctx).id, ctx.path.tag_name ?? '', {
        name: optionalString(ctx.params, 'name'),
        description: optionalString(ctx.params, 'description'),
        released_at: optionalTimestamp(ctx.params, 'released_at'),
      });
      ctx.send(200, renderRelease(ctx.render, release));
    },
  },
  {
    method: 'DELETE',
    pattern: '/projects/:id/releases/:tag_name',
    handler: (ctx) => {
      const release = ctx.store.deleteRelease(projectOf(ctx).id, ctx.path.tag_name ?? '');
      ctx.send(200, renderRelease(ctx.render, release));
    },
  },
  {
    method: 'GET',
    pattern: '/projects/:id/repository/tags',
    handler: (ctx) => {
      const project = projectOf(ctx);
      const tags = ctx.store.tags(project.id, ctx.query.get('search') ?? undefined);
      ctx.sendPage(tags, (t) => tagJson(ctx, project.id, t));
    },
  },
  {
    method: 'GET',
    pattern: '/projects/:id/repository/tags/:tag_name',
    handler: (ctx) => {
      const project = projectOf(ctx);
      const tag = ctx.store.tag(project.id, ctx.path.tag_name ?? '');
      if (!tag) throw notFound('Tag');
      ctx.send(200, tagJson(ctx, project.id, tag));
    },
  },
  {
    method: 'POST',
    pattern: '/projects/:id/repository/tags',
    handler: (ctx) => {
      const project = projectOf(ctx);
      const tag = ctx.store.createTag(project.id, {
        tag_name: requiredString(ctx.params, 'tag_name'),
        ref: requiredString(ctx.params, 'ref'),
        message: optionalString(ctx.params, 'message'),
      });
      ctx.send(201, tagJson(ctx, project.id, tag));
    },
  },
  {
    method: 'GET',
    pattern: '/projects/:id/protected_tags',
    handler: (ctx) => {
      ctx.sendPage(ctx.store.protectedTags(projectOf(ctx).id), renderProtectedTag);
    },
  },
  {
    method: 'DELETE',
    pattern: '/projects/:id/repository/tags/:tag_name',
    handler: (ctx) => {
      ctx.store.deleteTag(projectOf(ctx).id, ctx.path.tag_name ?? '');
      ctx.send(204, undefined);
    },
  },
];
