/**
 * GraphQL models built from REST responses. Every model below a project carries
 * `ownerProjectId`, which the permission directive uses as the check's target, so no nested
 * field can reach data of a project other than the one that owns it.
 */
import type { Owned } from '../directives/requires-job-token-permission.js';
import { badUserInputError, notFoundError } from '../src/errors/codes.js';
import type { GatewayContext } from '../src/server/context.js';
import type {
  RestAuthor,
  RestContainerRepository,
  RestContainerTag,
  RestMergeRequest,
  RestNote,
  RestProject,
  RestRelease,
  RestTag,
} from '../src/upstream/types.js';

/** `UserCore`. */
export interface UserCoreModel {
  id: string;
  username: string;
  name: string | null;
}

/** Forge-style global id. */
export function gid(type: string, id: number | string): string {
  return `gid://gitlab/${type}/${id}`;
}

/** `UserCore` from an embedded author block. */
export function toUserCore(a: RestAuthor | null | undefined): UserCoreModel | null {
  return a ? { id: gid('User', a.id), username: a.username, name: a.name ?? null } : null;
}

/** `Project`. */
export function toProject(p: RestProject): Owned & Record<string, unknown> {
  return {
    ownerProjectId: p.id,
    id: gid('Project', p.id),
    fullPath: p.path_with_namespace,
    name: p.name,
    visibility: p.visibility,
  };
}

/** `Release`. */
export function toRelease(owner: number, r: RestRelease): Owned & Record<string, unknown> {
  return {
    ownerProjectId: owner,
    id: gid('Release', `${owner}:${encodeURIComponent(r.tag_name)}`),
    tagName: r.tag_name,
    name: r.name,
    description: r.description,
    createdAt: r.created_at,
    releasedAt: r.released_at,
    upcomingRelease: r.upcoming_release ?? false,
    author: toUserCore(r.author),
  };
}

/** `Tag`. */
export function toTag(owner: number, t: RestTag): Owned & Record<string, unknown> {
  return {
    ownerProjectId: owner,
    name: t.name,
    message: t.message,
    target: t.target,
    protected: t.protected ?? false,
    createdAt: t.created_at ?? null,
  };
}

/** `ContainerRepository`; `repositoryId` feeds its `tags` field. */
export function toContainerRepository(
  owner: number,
  r: RestContainerRepository,
): Owned & { repositoryId: number } & Record<string, unknown> {
  return {
    ownerProjectId: owner,
    repositoryId: r.id,
    id: gid('ContainerRepository', r.id),
    name: r.name,
    path: r.path,
    location: r.location,
    createdAt: r.created_at,
  };
}

/** `ContainerRepositoryTag`. */
export function toContainerTag(
  owner: number,
  t: RestContainerTag,
): Owned & Record<string, unknown> {
  return { ownerProjectId: owner, name: t.name, path: t.path, location: t.location };
}

/** `MergeRequest`; `mergeRequestIid` feeds its `notes` field. */
export function toMergeRequest(
  owner: number,
  m: RestMergeRequest,
): Owned & { mergeRequestIid: number } & Record<string, unknown> {
  return {
    ownerProjectId: owner,
    mergeRequestIid: m.iid,
    id: gid('MergeRequest', m.id),
    iid: String(m.iid),
    title: m.title,
    state: m.state,
  };
}

/** `Note`. */
export function toNote(owner: number, n: RestNote): Owned & Record<string, unknown> {
  return {
    ownerProjectId: owner,
    id: gid('Note', n.id),
    body: n.body,
    author: toUserCore(n.author),
    system: n.system ?? false,
    createdAt: n.created_at ?? null,
  };
}

/**
 * The id of the project a mutation's `input.projectPath` names. The directive has already
 * loaded and checked it, so this is a held value, not another upstream call.
 */
export async function mutationTarget(ctx: GatewayContext, projectPath: string): Promise<number> {
  const d = await ctx.authz.forProjectRef(projectPath);
  if (!d) throw notFoundError('the project was not found');
  return d.project.id;
}

/**
 * A path segment for the REST API: the value URL-encoded as one segment. `.` and `..` are
 * refused: encoding leaves dots as they are, and URL resolution (and the forge's own router)
 * would then walk up, so `releaseDelete(tagName: "..")` became `DELETE /projects/:id`.
 * Neither is a valid git ref or image tag name anyway.
 */
export function seg(value: string | number): string {
  const s = String(value);
  if (s === '.' || s === '..') throw badUserInputError(`"${s}" is not a valid name`);
  return encodeURIComponent(s);
}
