/**
 * The forge's JSON representations of the store's records (field names as the forge's REST
 * API v4 documents them). `web` is the origin used for `web_url`s, e.g. `http://127.0.0.1:PORT`.
 */
import type {
  ContainerRepositoryRecord,
  ContainerTagRecord,
  GroupRecord,
  MergeRequestRecord,
  NoteRecord,
  ProjectRecord,
  ReleaseRecord,
  TagRecord,
  UserRecord,
} from './model.js';
import type { DemoStore } from './store.js';

/** Host name used in container registry `location`s. */
export const REGISTRY_HOST = 'registry.demo.test';

/** Render context: the store (to look up authors and namespaces) and the web origin. */
export interface RenderContext {
  store: DemoStore;
  web: string;
}

/** JSON object as sent on the wire. */
export type Json = Record<string, unknown>;

/** `{ id, username, name, state, avatar_url, web_url }`, the forge's basic user. */
export function renderUserBasic(ctx: RenderContext, userId: number): Json {
  const user = ctx.store.findUser(userId);
  const username = user?.username ?? 'ghost';
  return {
    id: userId,
    username,
    name: user?.name ?? 'Ghost User',
    state: 'active',
    avatar_url: null,
    web_url: `${ctx.web}/${username}`,
  };
}

/** `GET /users/:id`. */
export function renderUser(ctx: RenderContext, user: UserRecord): Json {
  return { ...renderUserBasic(ctx, user.id), bot: user.bot, locked: false };
}

/** `GET /projects/:id/members/all/:user_id` and `GET /groups/:id/members/all/:user_id`. */
export function renderMember(ctx: RenderContext, user: UserRecord, accessLevel: number): Json {
  return {
    ...renderUserBasic(ctx, user.id),
    access_level: accessLevel,
    expires_at: null,
    membership_state: 'active',
  };
}

/** `GET /groups/:id`. */
export function renderGroup(ctx: RenderContext, group: GroupRecord): Json {
  const names = ctx.store
    .ancestors(group.id)
    .map((g) => g.name)
    .reverse();
  return {
    id: group.id,
    name: group.name,
    path: group.path,
    full_path: group.full_path,
    full_name: names.join(' / '),
    description: '',
    parent_id: group.parent_id,
    visibility: group.visibility,
    web_url: `${ctx.web}/groups/${group.full_path}`,
  };
}

/** `GET /projects/:id`. */
export function renderProject(ctx: RenderContext, project: ProjectRecord): Json {
  const chain = ctx.store.ancestors(project.namespace_id);
  const ns = chain[0];
  return {
    id: project.id,
    description: '',
    name: project.name,
    name_with_namespace: [...chain.map((g) => g.name).reverse(), project.name].join(' / '),
    path: project.path,
    path_with_namespace: project.path_with_namespace,
    created_at: project.created_at,
    default_branch: project.default_branch,
    web_url: `${ctx.web}/${project.path_with_namespace}`,
    namespace: ns && {
      id: ns.id,
      name: ns.name,
      path: ns.path,
      kind: 'group',
      full_path: ns.full_path,
      parent_id: ns.parent_id,
      web_url: `${ctx.web}/groups/${ns.full_path}`,
    },
    visibility: project.visibility,
    archived: false,
    ...project.features,
  };
}

function renderCommit(commit: TagRecord['commit']): Json {
  return {
    id: commit.id,
    short_id: commit.id.slice(0, 8),
    title: commit.title,
    message: commit.title,
    created_at: commit.created_at,
    committed_date: commit.created_at,
  };
}

/** A release (`GET /projects/:id/releases/:tag_name` and the list). */
export function renderRelease(ctx: RenderContext, release: ReleaseRecord): Json {
  return {
    tag_name: release.tag_name,
    name: release.name,
    description: release.description,
    created_at: release.created_at,
    released_at: release.released_at,
    upcoming_release: Date.parse(release.released_at) > Date.now(),
    author: renderUserBasic(ctx, release.author_id),
    commit: renderCommit(release.commit),
    assets: { count: 0, sources: [], links: [] },
  };
}

/** A protected tag pattern (`GET /projects/:id/protected_tags`). */
export function renderProtectedTag(p: { name: string; createAccessLevel: number }): Json {
  const description: Record<number, string> = {
    0: 'No one',
    30: 'Developers + Maintainers',
    40: 'Maintainers',
  };
  return {
    name: p.name,
    create_access_levels: [
      {
        id: 1,
        access_level: p.createAccessLevel,
        access_level_description: description[p.createAccessLevel] ?? 'Maintainers',
        user_id: null,
        group_id: null,
      },
    ],
  };
}

/** A repository tag; `release` is the release of this tag, if any. */
export function renderTag(
  tag: TagRecord,
  release: ReleaseRecord | undefined,
  isProtected = false,
): Json {
  return {
    name: tag.name,
    message: tag.message,
    target: tag.commit.id,
    commit: renderCommit(tag.commit),
    release: release ? { tag_name: release.tag_name, description: release.description } : null,
    protected: isProtected,
    created_at: tag.created_at,
  };
}

/** A container repository; `tags` are included when the caller asked for them. */
export function renderContainerRepository(
  repository: ContainerRepositoryRecord,
  include: { tags: boolean; tagsCount: boolean },
): Json {
  return {
    id: repository.id,
    name: repository.name,
    path: repository.path,
    project_id: repository.project_id,
    location: `${REGISTRY_HOST}/${repository.path}`,
    created_at: repository.created_at,
    cleanup_policy_started_at: null,
    ...(include.tagsCount ? { tags_count: repository.tags.length } : {}),
    ...(include.tags
      ? { tags: repository.tags.map((t) => renderContainerTag(repository, t)) }
      : {}),
  };
}

/** An image tag as listed: `{ name, path, location }`. */
export function renderContainerTag(
  repository: ContainerRepositoryRecord,
  tag: ContainerTagRecord,
): Json {
  return {
    name: tag.name,
    path: `${repository.path}:${tag.name}`,
    location: `${REGISTRY_HOST}/${repository.path}:${tag.name}`,
  };
}

/** An image tag's details (`GET .../tags/:tag_name`). */
export function renderContainerTagDetails(
  repository: ContainerRepositoryRecord,
  tag: ContainerTagRecord,
): Json {
  return {
    ...renderContainerTag(repository, tag),
    revision: tag.revision,
    short_revision: tag.revision.slice(0, 9),
    digest: tag.digest,
    created_at: tag.created_at,
    total_size: tag.total_size,
  };
}

/** A merge request. */
export function renderMergeRequest(
  ctx: RenderContext,
  project: ProjectRecord,
  mr: MergeRequestRecord,
): Json {
  return {
    id: mr.id,
    iid: mr.iid,
    project_id: mr.project_id,
    title: mr.title,
    description: mr.description,
    state: mr.state,
    created_at: mr.created_at,
    updated_at: mr.updated_at,
    source_branch: `feature-${mr.iid}`,
    target_branch: project.default_branch,
    author: renderUserBasic(ctx, mr.author_id),
    web_url: `${ctx.web}/${project.path_with_namespace}/-/merge_requests/${mr.iid}`,
  };
}

/** A note on a merge request. */
export function renderNote(ctx: RenderContext, note: NoteRecord): Json {
  return {
    id: note.id,
    type: null,
    body: note.body,
    author: renderUserBasic(ctx, note.author_id),
    created_at: note.created_at,
    updated_at: note.updated_at,
    system: note.system,
    noteable_id: note.noteable_id,
    noteable_type: 'MergeRequest',
    noteable_iid: note.noteable_iid,
    resolvable: false,
    confidential: note.internal,
    internal: note.internal,
  };
}
