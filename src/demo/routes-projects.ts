/**
 * Routes for projects, groups, users and memberships: what the gateway reads to make a
 * decision (visibility, feature levels, namespaces, roles by user id, the bot flag).
 */
import { DemoApiError, notFound } from './model.js';
import { renderGroup, renderMember, renderProject, renderUser } from './render.js';
import type { Route } from './router.js';

const isId = (value: string): boolean => /^\d+$/.test(value);

/**
 * `GET /projects/:id`, `GET /groups/:id`, the project and group `members/all/:user_id`,
 * `GET /users/:id`, `GET /users?username=`.
 */
export const projectRoutes: readonly Route[] = [
  {
    method: 'GET',
    pattern: '/projects/:id',
    handler: (ctx) =>
      ctx.send(200, renderProject(ctx.render, ctx.store.project(ctx.path.id ?? ''))),
  },
  {
    method: 'GET',
    pattern: '/groups/:id',
    handler: (ctx) => {
      const group = ctx.store.findGroup(ctx.path.id ?? '');
      if (!group) throw notFound('Group');
      ctx.send(200, renderGroup(ctx.render, group));
    },
  },
  {
    method: 'GET',
    pattern: '/groups/:id/members/all/:user_id',
    handler: (ctx) => {
      const group = ctx.store.findGroup(ctx.path.id ?? '');
      if (!group) throw notFound('Group');
      const userId = ctx.path.user_id ?? '';
      const user = isId(userId) ? ctx.store.findUser(Number(userId)) : undefined;
      const level = user && ctx.store.groupMemberAccessLevel(group.id, user.id);
      if (!user || level === undefined) throw new DemoApiError(404, { message: '404 Not found' });
      ctx.send(200, renderMember(ctx.render, user, level));
    },
  },
  {
    method: 'GET',
    pattern: '/projects/:id/members/all/:user_id',
    handler: (ctx) => {
      const project = ctx.store.project(ctx.path.id ?? '');
      const userId = ctx.path.user_id ?? '';
      const user = isId(userId) ? ctx.store.findUser(Number(userId)) : undefined;
      const level = user && ctx.store.memberAccessLevel(project.id, user.id);
      if (!user || level === undefined) throw new DemoApiError(404, { message: '404 Not found' });
      ctx.send(200, renderMember(ctx.render, user, level));
    },
  },
  {
    method: 'GET',
    pattern: '/users/:id',
    handler: (ctx) => {
      const id = ctx.path.id ?? '';
      const user = isId(id) ? ctx.store.findUser(Number(id)) : undefined;
      if (!user) throw notFound('User');
      ctx.send(200, renderUser(ctx.render, user));
    },
  },
  {
    method: 'GET',
    pattern: '/users',
    handler: (ctx) => {
      const username = ctx.query.get('username');
      const users =
        username === null
          ? [...ctx.store.users]
          : ctx.store.users.filter((u) => u.username.toLowerCase() === username.toLowerCase());
      ctx.sendPage(users, (u) => renderUser(ctx.render, u));
    },
  },
];
