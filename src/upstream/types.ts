/**
 * Shapes of the forge's REST API v4 responses that scopegate reads (DESIGN.md section 5).
 * Only the fields the gateway uses are declared; the upstream may send more.
 */
import type { FeatureAccessLevel, Visibility } from '../policy/types.js';

/** `GET /projects/:id`. */
export interface RestProject {
  id: number;
  name: string;
  path: string;
  path_with_namespace: string;
  namespace: { id: number; full_path: string; kind?: string; parent_id?: number | null };
  visibility: Visibility;
  releases_access_level?: FeatureAccessLevel;
  repository_access_level?: FeatureAccessLevel;
  container_registry_access_level?: FeatureAccessLevel;
  merge_requests_access_level?: FeatureAccessLevel;
}

/** `GET /groups/:id`. */
export interface RestGroup {
  id: number;
  full_path: string;
  parent_id: number | null;
  name?: string;
  visibility?: Visibility;
}

/** `GET /projects/:id/members/all/:user_id`. */
export interface RestMember {
  id: number;
  username: string;
  access_level: number;
  state?: string;
}

/** `GET /users/:id`. */
export interface RestUser {
  id: number;
  username: string;
  name?: string;
  bot?: boolean;
  state?: string;
}

/** The author block embedded in releases and notes. */
export interface RestAuthor {
  id: number;
  username: string;
  name?: string;
}

/** `GET /projects/:id/releases[/:tag_name]`. */
export interface RestRelease {
  tag_name: string;
  name: string | null;
  description: string | null;
  created_at: string | null;
  released_at: string | null;
  upcoming_release?: boolean;
  author?: RestAuthor | null;
}

/** `GET /projects/:id/repository/tags[/:tag_name]`. */
export interface RestTag {
  name: string;
  message: string | null;
  target: string | null;
  protected?: boolean;
  created_at?: string | null;
}

/** `GET /projects/:id/registry/repositories`. */
export interface RestContainerRepository {
  id: number;
  name: string;
  path: string;
  project_id: number;
  location: string;
  created_at: string | null;
}

/** `GET /projects/:id/registry/repositories/:id/tags`. */
export interface RestContainerTag {
  name: string;
  path: string;
  location: string;
}

/** `GET /projects/:id/merge_requests/:iid`. */
export interface RestMergeRequest {
  id: number;
  iid: number;
  project_id: number;
  title: string;
  state: string;
}

/** `GET /projects/:id/merge_requests/:iid/notes`. */
export interface RestNote {
  id: number;
  body: string;
  author?: RestAuthor | null;
  system?: boolean;
  created_at?: string | null;
  /** An internal note: the forge shows it to members with Reporter or more only. */
  internal?: boolean;
  /** The older name of `internal`, still sent by the forge. */
  confidential?: boolean;
}
