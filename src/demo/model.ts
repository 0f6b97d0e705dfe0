/**
 * The demo upstream's in-memory records, shaped after the forge's own objects, and the error
 * type store operations throw when a request cannot be served (the HTTP layer turns it into
 * the forge's status and JSON body).
 */
import { createHash } from 'node:crypto';
import type { FeatureAccessLevels, Visibility } from './seed.js';

/** A group (namespace). */
export interface GroupRecord {
  id: number;
  name: string;
  path: string;
  full_path: string;
  parent_id: number | null;
  visibility: Visibility;
}

/** A project with its resolved feature access levels. */
export interface ProjectRecord {
  id: number;
  name: string;
  path: string;
  path_with_namespace: string;
  namespace_id: number;
  visibility: Visibility;
  features: FeatureAccessLevels;
  created_at: string;
  default_branch: string;
}

/** A user account; `bot` marks automation. */
export interface UserRecord {
  id: number;
  username: string;
  name: string;
  bot: boolean;
}

/** A commit a tag points at. */
export interface CommitRecord {
  id: string;
  title: string;
  created_at: string;
}

/** A repository tag. */
export interface TagRecord {
  name: string;
  message: string;
  commit: CommitRecord;
  created_at: string;
}

/** A release; `tag_name` names its tag in the same project. */
export interface ReleaseRecord {
  tag_name: string;
  name: string;
  description: string;
  created_at: string;
  released_at: string;
  author_id: number;
  commit: CommitRecord;
}

/** An image tag in a container repository. */
export interface ContainerTagRecord {
  name: string;
  revision: string;
  digest: string;
  created_at: string;
  total_size: number;
}

/** A container repository; `id` is unique across the whole instance. */
export interface ContainerRepositoryRecord {
  id: number;
  project_id: number;
  name: string;
  path: string;
  created_at: string;
  tags: ContainerTagRecord[];
}

/** A merge request; `id` is instance-wide, `iid` per project. */
export interface MergeRequestRecord {
  id: number;
  iid: number;
  project_id: number;
  title: string;
  description: string;
  state: 'opened' | 'closed' | 'merged' | 'locked';
  author_id: number;
  created_at: string;
  updated_at: string;
}

/** A note (comment) on a merge request; `id` is instance-wide. */
export interface NoteRecord {
  id: number;
  body: string;
  author_id: number;
  created_at: string;
  updated_at: string;
  system: boolean;
  /** An internal note: on the forge, only members with Reporter or more see it. */
  internal: boolean;
  noteable_id: number;
  noteable_iid: number;
}

/** Everything one project holds. */
export interface ProjectData {
  releases: ReleaseRecord[];
  tags: TagRecord[];
  containerRepositories: ContainerRepositoryRecord[];
  mergeRequests: MergeRequestRecord[];
  /** Notes by merge request iid. */
  notes: Map<number, NoteRecord[]>;
  /** Protected tag patterns and the level that may create matching tags (0: no one). */
  protectedTags: { name: string; createAccessLevel: number }[];
}

/** The whole materialised world a store starts from. */
export interface WorldData {
  groups: GroupRecord[];
  projects: ProjectRecord[];
  users: UserRecord[];
  /** The account writes are attributed to when no `Sudo` user is given. */
  serviceUser: UserRecord;
  /** Access level by user id, per project id (direct memberships). */
  projectMembers: Map<number, Map<number, number>>;
  /** Access level by user id, per group id. */
  groupMembers: Map<number, Map<number, number>>;
  data: Map<number, ProjectData>;
  /** Next free instance-wide ids. */
  nextIds: { containerRepository: number; mergeRequest: number; note: number };
}

/**
 * A request the forge would refuse: the HTTP status and the JSON body the forge sends
 * (`{ message }` for most errors, `{ error }` for missing or invalid parameters).
 */
export class DemoApiError extends Error {
  /**
   * @param status HTTP status to answer.
   * @param body JSON body to answer, e.g. `{ message: '404 Project Not Found' }`.
   */
  constructor(
    readonly status: number,
    readonly body: Readonly<Record<string, string>>,
  ) {
    super(body.message ?? body.error ?? `HTTP ${status}`);
    this.name = 'DemoApiError';
  }
}

/** `404 <what> Not Found`, the forge's wording for a missing object. */
export function notFound(what: string): DemoApiError {
  return new DemoApiError(404, { message: `404 ${what} Not Found` });
}

/** A deterministic 40-hex commit sha for a ref of a project. */
export function commitSha(projectPath: string, ref: string): string {
  return createHash('sha1').update(`${projectPath}@${ref}`).digest('hex');
}

/** A deterministic 64-hex digest, for image revisions and digests. */
export function sha256Hex(input: string): string {
  return createHash('sha256').update(input).digest('hex');
}

/** The fixed clock of generated data: 2024-01-01T00:00:00Z plus an offset. */
export function fixedTime(days: number, minutes = 0): string {
  return new Date(Date.UTC(2024, 0, 1) + days * 86_400_000 + minutes * 60_000).toISOString();
}
