/**
 * The demo upstream's in-memory data and the forge's rules for changing it (a release needs a
 * tag, a tag name is unique, ids are resolved inside their project). Tests read it directly to
 * assert what a request did or did not change.
 */
import {
  commitSha,
  DemoApiError,
  notFound,
  type ContainerRepositoryRecord,
  type GroupRecord,
  type MergeRequestRecord,
  type NoteRecord,
  type ProjectData,
  type ProjectRecord,
  type ReleaseRecord,
  type TagRecord,
  type UserRecord,
  type WorldData,
} from './model.js';
import { buildWorld, makeTag } from './sample-data.js';
import type { DemoSeed } from './seed.js';
import { matchesTagPattern } from '../upstream/protected-tags.js';

/** A project, group or user given by numeric id (number or digits) or by full path/username. */
export type DemoRef = number | string;

/** What `createRelease` accepts (the forge's parameters). */
export interface CreateReleaseInput {
  tag_name: string;
  name?: string;
  description?: string;
  /** Commit, branch or tag to create the tag from when it does not exist yet. */
  ref?: string;
  released_at?: string;
  /** Message of the tag created from `ref`. */
  tag_message?: string;
}

/** What `updateRelease` accepts. */
export interface UpdateReleaseInput {
  name?: string;
  description?: string;
  released_at?: string;
}

/** What `createTag` accepts. */
export interface CreateTagInput {
  tag_name: string;
  ref: string;
  message?: string;
}

/** Options of {@link DemoStore}. */
export interface DemoStoreOptions {
  /** Clock for objects created by writes; `() => new Date()` by default. */
  now?: () => Date;
}

const isNumericRef = (ref: DemoRef): boolean => typeof ref === 'number' || /^\d+$/.test(ref);

/** The highest of the access levels given, `undefined` when there is none. */
function highestLevel(levels: readonly (number | undefined)[]): number | undefined {
  const found = levels.filter((l): l is number => l !== undefined);
  return found.length === 0 ? undefined : Math.max(...found);
}

/** The in-memory forge: read and write operations with the forge's validation rules. */
export class DemoStore {
  private readonly world: WorldData;
  private readonly now: () => Date;

  /** Materialises `seed` (generating sample data) into a fresh store. */
  constructor(seed: DemoSeed, options: DemoStoreOptions = {}) {
    this.world = buildWorld(seed);
    this.now = options.now ?? (() => new Date());
  }

  /** Every group, in seed order. */
  get groups(): readonly GroupRecord[] {
    return this.world.groups;
  }

  /** Every project, in seed order. */
  get projects(): readonly ProjectRecord[] {
    return this.world.projects;
  }

  /** Every seeded user, in seed order (the service account is not among them). */
  get users(): readonly UserRecord[] {
    return this.world.users;
  }

  /** The account writes are attributed to when the request names no `Sudo` user. */
  get serviceUser(): UserRecord {
    return this.world.serviceUser;
  }

  /** A project by id or full path, or `undefined`. */
  findProject(ref: DemoRef): ProjectRecord | undefined {
    return isNumericRef(ref)
      ? this.world.projects.find((p) => p.id === Number(ref))
      : this.world.projects.find((p) => p.path_with_namespace === ref);
  }

  /** A project by id or full path; throws the forge's `404 Project Not Found`. */
  project(ref: DemoRef): ProjectRecord {
    const project = this.findProject(ref);
    if (!project) throw notFound('Project');
    return project;
  }

  /** A group by id or full path, or `undefined`. */
  findGroup(ref: DemoRef): GroupRecord | undefined {
    return isNumericRef(ref)
      ? this.world.groups.find((g) => g.id === Number(ref))
      : this.world.groups.find((g) => g.full_path === ref);
  }

  /** A user (or the service account) by id or username, or `undefined`. */
  findUser(ref: DemoRef): UserRecord | undefined {
    const all = [...this.world.users, this.world.serviceUser];
    return isNumericRef(ref)
      ? all.find((u) => u.id === Number(ref))
      : all.find((u) => u.username === ref);
  }

  /** The group a project or group sits in, then its ancestors, nearest first. */
  ancestors(namespaceId: number): GroupRecord[] {
    const chain: GroupRecord[] = [];
    for (
      let g = this.findGroup(namespaceId);
      g;
      g = g.parent_id === null ? undefined : this.findGroup(g.parent_id)
    ) {
      chain.push(g);
    }
    return chain;
  }

  /**
   * A user's effective access level on a project: the highest of the direct membership and
   * the memberships of every ancestor group; `undefined` when the user is no member at all.
   */
  memberAccessLevel(projectRef: DemoRef, userId: number): number | undefined {
    const project = this.project(projectRef);
    return highestLevel([
      this.world.projectMembers.get(project.id)?.get(userId),
      ...this.ancestors(project.namespace_id).map((g) =>
        this.world.groupMembers.get(g.id)?.get(userId),
      ),
    ]);
  }

  /**
   * A user's effective access level on a group, as the forge's `GET /groups/:id/members/all/
   * :user_id` reports it: the highest of the membership of the group itself and of every parent
   * group; `undefined` when the user is no member at all. Throws `404 Group Not Found`.
   */
  groupMemberAccessLevel(groupRef: DemoRef, userId: number): number | undefined {
    const group = this.findGroup(groupRef);
    if (!group) throw notFound('Group');
    return highestLevel(
      this.ancestors(group.id).map((g) => this.world.groupMembers.get(g.id)?.get(userId)),
    );
  }

  /**
   * Changes a user's direct membership of a project, as a forge admin would; `undefined`
   * removes it. For tests of how fast a role change reaches the gateway.
   */
  setProjectMember(projectRef: DemoRef, userId: number, accessLevel: number | undefined): void {
    const project = this.project(projectRef);
    let members = this.world.projectMembers.get(project.id);
    if (!members) {
      members = new Map();
      this.world.projectMembers.set(project.id, members);
    }
    if (accessLevel === undefined) members.delete(userId);
    else members.set(userId, accessLevel);
  }

  private data(projectRef: DemoRef): ProjectData {
    return this.world.data.get(this.project(projectRef).id) as ProjectData;
  }

  /** A project's releases, newest `released_at` first. */
  releases(projectRef: DemoRef): ReleaseRecord[] {
    return [...this.data(projectRef).releases].sort((a, b) =>
      b.released_at.localeCompare(a.released_at),
    );
  }

  /** One release by tag name, or `undefined`. */
  release(projectRef: DemoRef, tagName: string): ReleaseRecord | undefined {
    return this.data(projectRef).releases.find((r) => r.tag_name === tagName);
  }

  /**
   * Creates a release as the forge does: 409 when one exists for the tag; when the tag does
   * not exist, `ref` is required (422) and the tag is created from it.
   */
  createRelease(projectRef: DemoRef, input: CreateReleaseInput, authorId: number): ReleaseRecord {
    const project = this.project(projectRef);
    const data = this.data(project.id);
    if (data.releases.some((r) => r.tag_name === input.tag_name)) {
      throw new DemoApiError(409, { message: 'Release already exists' });
    }
    let tag = data.tags.find((t) => t.name === input.tag_name);
    if (!tag) {
      if (input.ref === undefined || input.ref === '') {
        throw new DemoApiError(422, { message: 'Ref is not specified' });
      }
      tag = this.createTag(
        project.id,
        { tag_name: input.tag_name, ref: input.ref, message: input.tag_message ?? '' },
        422,
      );
    }
    const createdAt = this.now().toISOString();
    const release: ReleaseRecord = {
      tag_name: input.tag_name,
      name: input.name ?? input.tag_name,
      description: input.description ?? '',
      created_at: createdAt,
      released_at: input.released_at ?? createdAt,
      author_id: authorId,
      commit: tag.commit,
    };
    data.releases.push(release);
    return release;
  }

  /** Updates a release's name, description or release date; 404 when there is none. */
  updateRelease(projectRef: DemoRef, tagName: string, patch: UpdateReleaseInput): ReleaseRecord {
    const release = this.release(projectRef, tagName);
    if (!release) throw notFound('Release');
    if (patch.name !== undefined) release.name = patch.name;
    if (patch.description !== undefined) release.description = patch.description;
    if (patch.released_at !== undefined) release.released_at = patch.released_at;
    return release;
  }

  /** Deletes a release (its tag stays) and returns it; 404 when there is none. */
  deleteRelease(projectRef: DemoRef, tagName: string): ReleaseRecord {
    const data = this.data(projectRef);
    const index = data.releases.findIndex((r) => r.tag_name === tagName);
    const [release] = index === -1 ? [] : data.releases.splice(index, 1);
    if (!release) throw notFound('Release');
    return release;
  }

  /**
   * A project's tags, most recently created first, filtered by the forge's `search` syntax:
   * a substring, `^prefix`, `suffix$` or `^exact$`.
   */
  tags(projectRef: DemoRef, search?: string): TagRecord[] {
    const tags = [...this.data(projectRef).tags].sort(
      (a, b) =>
        b.commit.created_at.localeCompare(a.commit.created_at) || b.name.localeCompare(a.name),
    );
    if (search === undefined || search === '') return tags;
    const anchoredStart = search.startsWith('^');
    const anchoredEnd = search.length > (anchoredStart ? 1 : 0) && search.endsWith('$');
    const term = search.slice(anchoredStart ? 1 : 0, anchoredEnd ? -1 : undefined);
    return tags.filter((t) => {
      if (anchoredStart && anchoredEnd) return t.name === term;
      if (anchoredStart) return t.name.startsWith(term);
      if (anchoredEnd) return t.name.endsWith(term);
      return t.name.includes(term);
    });
  }

  /** A project's protected tag patterns, in the order they were added. */
  protectedTags(projectRef: DemoRef): { name: string; createAccessLevel: number }[] {
    return [...this.data(projectRef).protectedTags];
  }

  /** Whether a tag name matches one of the project's protected tag patterns. */
  isProtectedTag(projectRef: DemoRef, name: string): boolean {
    return this.data(projectRef).protectedTags.some((p) => matchesTagPattern(p.name, name));
  }

  /** One tag by name, or `undefined`. */
  tag(projectRef: DemoRef, name: string): TagRecord | undefined {
    return this.data(projectRef).tags.find((t) => t.name === name);
  }

  /** The commit sha a ref (the default branch, a tag or a sha) points at, or `undefined`. */
  resolveRef(projectRef: DemoRef, ref: string): string | undefined {
    const project = this.project(projectRef);
    if (ref === project.default_branch) return commitSha(project.path_with_namespace, ref);
    const tag = this.tag(project.id, ref);
    if (tag) return tag.commit.id;
    if (/^[0-9a-f]{40}$/.test(ref)) return ref;
    // A short sha resolves when it abbreviates a commit some tag points at.
    if (/^[0-9a-f]{7,39}$/.test(ref))
      return this.data(project.id).tags.find((t) => t.commit.id.startsWith(ref))?.commit.id;
    return undefined;
  }

  /**
   * Creates a tag from a ref: 400 when the name is taken or the ref does not resolve
   * (`invalidRefStatus` lets release creation answer 422 instead, as the forge does).
   */
  createTag(projectRef: DemoRef, input: CreateTagInput, invalidRefStatus = 400): TagRecord {
    const project = this.project(projectRef);
    const data = this.data(project.id);
    if (data.tags.some((t) => t.name === input.tag_name)) {
      throw new DemoApiError(400, { message: `Tag ${input.tag_name} already exists` });
    }
    const target = this.resolveRef(project.id, input.ref);
    if (target === undefined) {
      throw new DemoApiError(invalidRefStatus, { message: `Target ${input.ref} is invalid` });
    }
    const tag = makeTag(
      project.path_with_namespace,
      input.tag_name,
      input.message ?? '',
      target,
      this.now().toISOString(),
    );
    data.tags.push(tag);
    return tag;
  }

  /** Deletes a tag; 404 when there is none. */
  deleteTag(projectRef: DemoRef, name: string): TagRecord {
    const data = this.data(projectRef);
    const index = data.tags.findIndex((t) => t.name === name);
    const [tag] = index === -1 ? [] : data.tags.splice(index, 1);
    if (!tag) throw notFound('Tag');
    return tag;
  }

  /** A project's container repositories, in creation order. */
  containerRepositories(projectRef: DemoRef): ContainerRepositoryRecord[] {
    return [...this.data(projectRef).containerRepositories];
  }

  /** A container repository by id *within* a project (another project's id is not found). */
  containerRepository(
    projectRef: DemoRef,
    repositoryId: number,
  ): ContainerRepositoryRecord | undefined {
    return this.data(projectRef).containerRepositories.find((r) => r.id === repositoryId);
  }

  /** Deletes an image tag of a project's repository; 404 for an unknown repository or tag. */
  deleteContainerTag(projectRef: DemoRef, repositoryId: number, tagName: string): void {
    const repository = this.containerRepository(projectRef, repositoryId);
    if (!repository) throw notFound('Repository');
    const index = repository.tags.findIndex((t) => t.name === tagName);
    if (index === -1) throw notFound('Tag');
    repository.tags.splice(index, 1);
  }

  /** A merge request by iid, or `undefined`. */
  mergeRequest(projectRef: DemoRef, iid: number): MergeRequestRecord | undefined {
    return this.data(projectRef).mergeRequests.find((m) => m.iid === iid);
  }

  /** The notes of a merge request, oldest first; 404 when the merge request does not exist. */
  notes(projectRef: DemoRef, iid: number): NoteRecord[] {
    if (!this.mergeRequest(projectRef, iid))
      throw new DemoApiError(404, { message: '404 Not found' });
    return [...(this.data(projectRef).notes.get(iid) ?? [])].sort(
      (a, b) => a.created_at.localeCompare(b.created_at) || a.id - b.id,
    );
  }

  /** Adds a note to a merge request; 404 when the merge request does not exist. */
  createNote(projectRef: DemoRef, iid: number, body: string, authorId: number): NoteRecord {
    const mr = this.mergeRequest(projectRef, iid);
    if (!mr) throw new DemoApiError(404, { message: '404 Not found' });
    const now = this.now().toISOString();
    const note: NoteRecord = {
      id: this.world.nextIds.note++,
      body,
      author_id: authorId,
      created_at: now,
      updated_at: now,
      system: false,
      internal: false,
      noteable_id: mr.id,
      noteable_iid: mr.iid,
    };
    const data = this.data(projectRef);
    data.notes.set(iid, [...(data.notes.get(iid) ?? []), note]);
    return note;
  }
}
