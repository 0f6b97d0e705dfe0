/**
 * Contract types of the permission model (DESIGN.md section 2).
 *
 * Everything here is plain data: the engine in `engine.ts` is a pure function of these types,
 * so it can be tested exhaustively and its result cached anywhere.
 */

/** Resources a job token permission can name (GraphQL enum `JobTokenResource`). */
export const RESOURCES = ['RELEASES', 'TAGS', 'CONTAINERS', 'MERGE_REQUEST_NOTES'] as const;
/** One of {@link RESOURCES}. */
export type JobTokenResource = (typeof RESOURCES)[number];

/** Levels, ordered: `NONE < READ < WRITE`; WRITE implies READ (GraphQL enum `JobTokenAccessLevel`). */
export const LEVELS = ['NONE', 'READ', 'WRITE'] as const;
/** One of {@link LEVELS}. */
export type JobTokenAccessLevel = (typeof LEVELS)[number];

/** Numeric rank of a level, for comparisons: NONE 0, READ 1, WRITE 2. */
export const LEVEL_RANK: Readonly<Record<JobTokenAccessLevel, 0 | 1 | 2>> = Object.freeze({
  NONE: 0,
  READ: 1,
  WRITE: 2,
});

/** Enforcement mode of a target project's inbound allowlist (GraphQL enum `JobTokenEnforcement`). */
export const ENFORCEMENT_MODES = ['ENFORCED', 'AUDIT', 'DISABLED'] as const;
/** One of {@link ENFORCEMENT_MODES}. */
export type JobTokenEnforcement = (typeof ENFORCEMENT_MODES)[number];

/** The forge's feature access levels. */
export type FeatureAccessLevel = 'enabled' | 'private' | 'disabled';
/** The forge's project visibility. */
export type Visibility = 'public' | 'internal' | 'private';

/** The forge feature (REST field name) each resource belongs to. */
export const FEATURE_OF: Readonly<Record<JobTokenResource, string>> = Object.freeze({
  RELEASES: 'releases_access_level',
  TAGS: 'repository_access_level',
  CONTAINERS: 'container_registry_access_level',
  MERGE_REQUEST_NOTES: 'merge_requests_access_level',
});

/** Forge access levels of project roles. */
export const ROLES = Object.freeze({
  GUEST: 10,
  REPORTER: 20,
  DEVELOPER: 30,
  MAINTAINER: 40,
  OWNER: 50,
} as const);

/**
 * The role-cap table: the minimum forge access level a user needs in the target project for
 * READ and for WRITE on each resource. The one place this table lives (shown in the README).
 */
export const ROLE_CAPS: Readonly<
  Record<JobTokenResource, Readonly<{ READ: number; WRITE: number }>>
> = Object.freeze({
  RELEASES: Object.freeze({ READ: ROLES.GUEST, WRITE: ROLES.DEVELOPER }),
  TAGS: Object.freeze({ READ: ROLES.REPORTER, WRITE: ROLES.DEVELOPER }),
  CONTAINERS: Object.freeze({ READ: ROLES.REPORTER, WRITE: ROLES.DEVELOPER }),
  MERGE_REQUEST_NOTES: Object.freeze({ READ: ROLES.REPORTER, WRITE: ROLES.REPORTER }),
});

/**
 * Reason codes, one per resource in a decision: the rule that fixed the level (DESIGN.md
 * section 2 gives the order). `USER_ROLE` and `ANONYMOUS` are scopegate's additions for
 * principals that are not job tokens.
 */
export type ReasonCode =
  | 'FEATURE_DISABLED'
  | 'PUBLIC_FEATURE'
  | 'SAME_PROJECT'
  | 'ENFORCEMENT_DISABLED'
  | 'AUDIT_WOULD_DENY'
  | 'DEFAULT_PERMISSIONS'
  | 'ENTRY_GRANTS'
  | 'PROJECT_IDENTITY'
  | 'NOT_IN_ALLOWLIST'
  | 'UNPROTECTED_REF'
  | 'ENTRY_LEVEL_TOO_LOW'
  | 'JOB_SCOPE'
  | 'ROLE_TOO_LOW'
  | 'USER_ROLE'
  | 'ANONYMOUS';

/** Whether an allowlist entry names a project or a group (a group covers all its subgroups). */
export type SourceKind = 'PROJECT' | 'GROUP';

/** Per-resource levels granted by an allowlist entry; a resource it does not list is NONE. */
export type PermissionMap = Partial<Record<JobTokenResource, JobTokenAccessLevel>>;

/** One entry of a target project's inbound allowlist, with the source resolved to its id. */
export interface AllowlistEntry {
  /** Forge id of the source project or group; matching is by id, never by path. */
  readonly sourceId: number;
  readonly sourceKind: SourceKind;
  /** Full path of the source at the time the entry was written (for display only). */
  readonly sourcePath: string;
  /** `true`: the entry grants what the user's role allows (no per-resource levels). */
  readonly defaultPermissions: boolean;
  /** Per-resource levels; ignored when `defaultPermissions` is true. */
  readonly permissions: PermissionMap;
  /** `true`: at most READ for jobs running on unprotected refs. */
  readonly protectedRefsOnly: boolean;
  /** `false`: a project-identity entry (levels granted without the user's role, protected refs only). */
  readonly boundToUserRole: boolean;
  /** Forge user id of who added it, when known. */
  readonly addedBy?: string | undefined;
  /** ISO timestamp of creation, when known. */
  readonly createdAt?: string | undefined;
  /** `true` when written by `jobTokenScopeAutopopulate`. */
  readonly autopopulated?: boolean | undefined;
}

/** A target project's job token profile. */
export interface JobTokenProfile {
  /** Forge id of the target project. */
  readonly projectId: number;
  readonly enforcement: JobTokenEnforcement;
  readonly entries: readonly AllowlistEntry[];
  /** Incremented on every change; part of every decision cache key. */
  readonly version: number;
}

/** The target project as the engine needs it (from the upstream's `GET /projects/:id`). */
export interface TargetProject {
  readonly id: number;
  readonly fullPath: string;
  readonly visibility: Visibility;
  /** Access level of each resource's feature. */
  readonly features: Readonly<Record<JobTokenResource, FeatureAccessLevel>>;
}

/** The source project of a job as the engine needs it. */
export interface SourceProject {
  readonly id: number;
  readonly fullPath: string;
  /** Ids of the groups that contain the source project, nearest (its namespace) first. */
  readonly ancestorGroupIds: readonly number[];
}

/** Instance-wide settings that the engine honours. */
export interface InstanceSettings {
  /** Turns `DISABLED` and `AUDIT` into `ENFORCED` for every project. Default false. */
  readonly enforceAllowlistEverywhere: boolean;
  /** Enforcement of projects that have no profile. Default `ENFORCED`. */
  readonly defaultEnforcement: JobTokenEnforcement;
}

/** The decision for one resource. */
export interface ResourceDecision {
  readonly level: JobTokenAccessLevel;
  readonly reason: ReasonCode;
  /** AUDIT mode only: `ENFORCED` would have given less than this level. */
  readonly auditWouldDeny: boolean;
}

/** The allowlist entry that decided a job token's access, as explanations need it. */
export interface MatchedEntry {
  readonly sourceId: number;
  readonly sourceKind: SourceKind;
  readonly sourcePath: string;
  readonly defaultPermissions: boolean;
  readonly boundToUserRole: boolean;
  readonly protectedRefsOnly: boolean;
}

/**
 * The whole decision for (principal, target): a level and a reason for every resource.
 * Computed once per principal and target, cached, and consulted synchronously by every field.
 */
export interface PermissionSet {
  readonly targetProjectId: number;
  readonly resources: Readonly<Record<JobTokenResource, ResourceDecision>>;
  /** True when any resource's decision is marked `auditWouldDeny`. */
  readonly auditWouldDeny: boolean;
  /** The kind of principal the decision is for (explanations word themselves by it). */
  readonly principalKind?: 'job' | 'user' | 'anonymous' | undefined;
  /**
   * Job tokens from another project only: the effective enforcement mode (the profile's, or
   * the instance default, after `enforceAllowlistEverywhere`).
   */
  readonly enforcement?: JobTokenEnforcement | undefined;
  /** Job tokens from another project, when not `DISABLED`: the nearest entry, if any matched. */
  readonly matchedEntry?: MatchedEntry | undefined;
}
