/**
 * Builders for policy engine inputs: every test states only what matters to it.
 */
import type {
  AnonymousPrincipal,
  JobTokenPrincipal,
  UserPrincipal,
} from '../../src/auth/principal.js';
import { DEFAULT_INSTANCE_SETTINGS, type DecisionInput } from '../../src/policy/engine.js';
import {
  RESOURCES,
  type AllowlistEntry,
  type FeatureAccessLevel,
  type JobTokenEnforcement,
  type JobTokenProfile,
  type JobTokenResource,
  type PermissionSet,
  type TargetProject,
} from '../../src/policy/types.js';

/** Ids of the default world: the job runs in project 100, in group 12 ⊂ 11 ⊂ 10. */
export const SOURCE_ID = 100;
export const TARGET_ID = 200;
export const SOURCE_GROUPS = [12, 11, 10] as const;

/** A private target project with every feature enabled. */
export function target(
  overrides: Partial<Omit<TargetProject, 'features'>> & {
    features?: Partial<Record<JobTokenResource, FeatureAccessLevel>>;
  } = {},
): TargetProject {
  return {
    id: TARGET_ID,
    fullPath: 'acme/target',
    visibility: 'private',
    ...overrides,
    features: {
      RELEASES: 'enabled',
      TAGS: 'enabled',
      CONTAINERS: 'enabled',
      MERGE_REQUEST_NOTES: 'enabled',
      ...overrides.features,
    },
  };
}

/** A job token from project 100 on a protected ref, with no `job_token_permissions` claim. */
export function job(overrides: Partial<JobTokenPrincipal> = {}): JobTokenPrincipal {
  return {
    kind: 'job',
    issuer: 'https://forge.test',
    jti: 'jti-1',
    expiresAt: 4_102_444_800,
    projectId: SOURCE_ID,
    projectPath: 'acme/platform/tools/source',
    namespaceId: SOURCE_GROUPS[0],
    namespacePath: 'acme/platform/tools',
    userId: 1,
    userLogin: 'alice',
    jobId: 7,
    pipelineId: 3,
    ref: 'main',
    refType: 'branch',
    refProtected: true,
    ...overrides,
  };
}

/** A signed-in person who is not an admin. */
export function user(overrides: Partial<UserPrincipal> = {}): UserPrincipal {
  return {
    kind: 'user',
    issuer: 'https://idp.test',
    userId: 1,
    username: 'alice',
    isAdmin: false,
    expiresAt: 4_102_444_800,
    ...overrides,
  };
}

/** The anonymous principal. */
export const anonymous: AnonymousPrincipal = { kind: 'anonymous' };

/** A user-bound project entry for the job's project with no levels. */
export function entry(overrides: Partial<AllowlistEntry> = {}): AllowlistEntry {
  return {
    sourceId: SOURCE_ID,
    sourceKind: 'PROJECT',
    sourcePath: 'acme/platform/tools/source',
    defaultPermissions: false,
    permissions: {},
    protectedRefsOnly: false,
    boundToUserRole: true,
    ...overrides,
  };
}

/** A group entry for group `id`. */
export function groupEntry(id: number, overrides: Partial<AllowlistEntry> = {}): AllowlistEntry {
  return entry({ sourceId: id, sourceKind: 'GROUP', sourcePath: `group-${id}`, ...overrides });
}

/** The target's profile. */
export function profile(
  entries: readonly AllowlistEntry[],
  enforcement: JobTokenEnforcement = 'ENFORCED',
): JobTokenProfile {
  return { projectId: TARGET_ID, enforcement, entries, version: 1 };
}

/** A decision input: a Developer's job, from project 100 in groups 12 ⊂ 11 ⊂ 10, empty ENFORCED profile. */
export function input(overrides: Partial<DecisionInput> = {}): DecisionInput {
  return {
    principal: job(),
    target: target(),
    profile: profile([]),
    roleAccessLevel: 30,
    source: {
      id: SOURCE_ID,
      fullPath: 'acme/platform/tools/source',
      ancestorGroupIds: SOURCE_GROUPS,
    },
    instance: DEFAULT_INSTANCE_SETTINGS,
    ...overrides,
  };
}

/** Levels of a set by resource, for whole-set assertions. */
export const levels = (set: PermissionSet) =>
  Object.fromEntries(RESOURCES.map((r) => [r, set.resources[r].level]));
/** Reasons of a set by resource. */
export const reasons = (set: PermissionSet) =>
  Object.fromEntries(RESOURCES.map((r) => [r, set.resources[r].reason]));
/** The same value for every resource. */
export const all = <T>(value: T) => ({
  RELEASES: value,
  TAGS: value,
  CONTAINERS: value,
  MERGE_REQUEST_NOTES: value,
});
/** WRITE on every resource. */
export const ALL_WRITE = all('WRITE');
/** Instance settings with the allowlist enforced everywhere. */
export const everywhere = {
  enforceAllowlistEverywhere: true,
  defaultEnforcement: 'ENFORCED',
} as const;
