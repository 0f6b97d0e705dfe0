/**
 * Routes for the container registry and merge request notes. Repository ids and merge
 * request iids are always resolved inside the project of the URL, so an id from another
 * project is not found.
 */
import { flag, requiredString } from './http-io.js';
import { DemoApiError, notFound, type ContainerRepositoryRecord } from './model.js';
import {
  renderContainerRepository,
  renderContainerTag,
  renderContainerTagDetails,
  renderMergeRequest,
  renderNote,
} from './render.js';
import type { Route, RouteContext } from './router.js';

const projectOf = (ctx: RouteContext) => ctx.store.project(ctx.path.id ?? '');

function repositoryOf(ctx: RouteContext): ContainerRepositoryRecord {
  const project = projectOf(ctx);
  const raw = ctx.path.repository_id ?? '';
  const repository = /^\d+$/.test(raw)
    ? ctx.store.containerRepository(project.id, Number(raw))
    : undefined;
  if (!repository) throw notFound('Repository');
  return repository;
}

function iidOf(ctx: RouteContext): number {
  const raw = ctx.path.iid ?? '';
  if (!/^\d+$/.test(raw)) throw new DemoApiError(400, { error: 'merge_request_iid is invalid' });
  return Number(raw);
}

/** The container registry routes. */
export const registryRoutes: readonly Route[] = [
  {
    method: 'GET',
    pattern: '/projects/:id/registry/repositories',
    handler: (ctx) => {
      const include = { tags: flag(ctx.params, 'tags'), tagsCount: flag(ctx.params, 'tags_count') };
      ctx.sendPage(ctx.store.containerRepositories(projectOf(ctx).id), (r) =>
        renderContainerRepository(r, include),
      );
    },
  },
  {
    method: 'GET',
    pattern: '/projects/:id/registry/repositories/:repository_id/tags',
    handler: (ctx) => {
      const repository = repositoryOf(ctx);
      const tags = [...repository.tags].sort((a, b) => a.name.localeCompare(b.name));
      ctx.sendPage(tags, (t) => renderContainerTag(repository, t));
    },
  },
  {
    method: 'GET',
    pattern: '/projects/:id/registry/repositories/:repository_id/tags/:tag_name',
    handler: (ctx) => {
      const repository = repositoryOf(ctx);
      const tag = repository.tags.find((t) => t.name === ctx.path.tag_name);
      if (!tag) throw notFound('Tag');
      ctx.send(200, renderContainerTagDetails(repository, tag));
    },
  },
  {
    method: 'DELETE',
    pattern: '/projects/:id/registry/repositories/:repository_id/tags/:tag_name',
    handler: (ctx) => {
      const repository = repositoryOf(ctx);
      ctx.store.deleteContainerTag(repository.project_id, repository.id, ctx.path.tag_name ?? '');
      // The forge really answers 200 with the JSON number 200 as the body.
      ctx.send(200, 200);
    },
  },
];

/** The merge request and note routes. */
export const mergeRequestRoutes: readonly Route[] = [
  {
    method: 'GET',
    pattern: '/projects/:id/merge_requests/:iid',
    handler: (ctx) => {
      const project = projectOf(ctx);
      const mr = ctx.store.mergeRequest(project.id, iidOf(ctx));
      if (!mr) throw new DemoApiError(404, { message: '404 Not found' });
      ctx.send(200, renderMergeRequest(ctx.render, project, mr));
    },
  },
  {
    method: 'GET',
    pattern: '/projects/:id/merge_requests/:iid/notes',
    handler: (ctx) => {
      const notes = ctx.store.notes(projectOf(ctx).id, iidOf(ctx));
      // The forge's default order is `desc`; this demo defaults to oldest first (the
      // gateway's contract) and honours `sort` and `order_by` like the forge.
      const key = ctx.query.get('order_by') === 'updated_at' ? 'updated_at' : 'created_at';
      const direction = ctx.query.get('sort') === 'desc' ? -1 : 1;
      const ordered = [...notes].sort(
        (a, b) => direction * (a[key].localeCompare(b[key]) || a.id - b.id),
      );
      ctx.sendPage(ordered, (n) => renderNote(ctx.render, n));
    },
  },
  {
    method: 'POST',
    pattern: '/projects/:id/merge_requests/:iid/notes',
    handler: (ctx) => {
      const project = projectOf(ctx);
      const iid = iidOf(ctx);
      let body: string;
      try {
        body = requiredString(ctx.params, 'body');
      } catch {
        throw new DemoApiError(400, { message: '400 Bad request - body is missing' });
      }
      const note = ctx.store.createNote(project.id, iid, body, ctx.actorId);
      ctx.send(201, renderNote(ctx.render, note));
    },
  },
];
