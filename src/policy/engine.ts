/**
 * The permission engine (DESIGN.md section 2): a pure, synchronous function from
 * (principal, target, profile, role) to a {@link PermissionSet} covering every resource.
 *
 *     effective = max(publicFloor, min(roleCap, scopeCap, jobScope)), then NONE if disabled
 *
 * Every resource carries one reason code, chosen in DESIGN's order. Where a level is below
 * WRITE, the reason is the first constraint (in DESIGN's order) that fixed the level, that is
 * whose cap equals the level before the floor; `UNPROTECTED_REF` is chosen where a protected
 * ref would have been given more. So a denial names something whose change would help.
 */
import { UnreachableCaseError } from '../errors/unreachable.js';
import type { JobTokenPrincipal, Principal } from '../auth/principal.js';
import { maxLevel, minLevel, roleCapFor } from './levels.js';
import { indexProfile, nearestEntry } from './profile-index.js';
import {
  LEVEL_RANK,
  ROLES,
  RESOURCES,
  type AllowlistEntry,
  type FeatureAccessLevel,
  type InstanceSettings,
  type JobTokenAccessLevel,
  type JobTokenEnforcement,
  type JobTokenProfile,
  type JobTokenResource,
  type MatchedEntry,
  type PermissionSet,
  type ReasonCode,
  type ResourceDecision,
  type SourceProject,
  type TargetProject,
} from './types.js';

/** Everything one decision depends on. */
export interface DecisionInput {
  readonly principal: Principal;
  readonly target: TargetProject;
  /** `undefined`: the project has no profile → `instance.defaultEnforcement`, no entries. */
  readonly profile: JobTokenProfile | undefined;
  /** Forge access level of the principal's user in the target (0 = not a member; anonymous: 0). */
  readonly roleAccessLevel: number;
  /**
   * The job's source project with its ancestor groups (nearest first). Needed for job tokens
   * when source ≠ target and {@link needsSourceAncestors} says so. Without it only the job's
   * own namespace (`namespaceId` of the token) is matched, which can only give less.
   */
  readonly source?: SourceProject | undefined;
  readonly instance: InstanceSettings;
}

/** Instance settings when nothing is configured (DESIGN.md section 2). */
export const DEFAULT_INSTANCE_SETTINGS: InstanceSettings = Object.freeze({
  enforceAllowlistEverywhere: false,
  defaultEnforcement: 'ENFORCED',
});

/**
 * The enforcement mode that applies to a target: its profile's (or the instance default when it
 * has none), with `enforceAllowlistEverywhere` turning `DISABLED` and `AUDIT` into `ENFORCED`.
 */
export function effectiveEnforcement(
  profile: JobTokenProfile | undefined,
  instance: InstanceSettings,
): JobTokenEnforcement {
  const mode = profile?.enforcement ?? instance.defaultEnforcement;
  return instance.enforceAllowlistEverywhere ? 'ENFORCED' : mode;
}

/**
 * True when {@link decide} will need `source.ancestorGroupIds`: a job token from another
 * project, an effective mode other than `DISABLED`, group entries in the profile, and neither a
 * project entry for the source nor a group entry for its own namespace (the token names that
 * one). Lets the caller skip the group look-ups otherwise.
 */
export function needsSourceAncestors(
  principal: Principal,
  target: TargetProject,
  profile: JobTokenProfile | undefined,
  instance: InstanceSettings,
): boolean {
  if (principal.kind !== 'job' || principal.projectId === target.id) return false;
  if (profile === undefined || effectiveEnforcement(profile, instance) === 'DISABLED') return false;
  const index = indexProfile(profile);
  if (index.byGroup.size === 0 || index.byProject.has(principal.projectId)) return false;
  return !index.byGroup.has(principal.namespaceId);
}

/** `READ` when anyone (public) or any signed-in principal (internal) may read the feature. */
export function publicFloor(
  feature: FeatureAccessLevel,
  target: TargetProject,
  signedIn: boolean,
): JobTokenAccessLevel {
  switch (feature) {
    case 'disabled':
    case 'private':
      return 'NONE';
    case 'enabled':
      break;
    default:
      throw new UnreachableCaseError(feature);
  }
  switch (target.visibility) {
    case 'public':
      return 'READ';
    case 'internal':
      return signedIn ? 'READ' : 'NONE';
    case 'private':
      return 'NONE';
    default:
      throw new UnreachableCaseError(target.visibility);
  }
}

/** A cap and the reason to give when it is the one that fixed the level. */
type Constraint = readonly [ReasonCode, JobTokenAccessLevel];

/** What an entry (or the legacy rule) allows before the floor. */
interface Inner {
  readonly level: JobTokenAccessLevel;
  /** Reason when the level is WRITE. */
  readonly grant: ReasonCode;
  /** In DESIGN's order; the first one equal to `level` is the reason below WRITE. */
  readonly constraints: readonly Constraint[];
}

function bindingReason(inner: Inner): ReasonCode {
  for (const [reason, cap] of inner.constraints) {
    if (cap === inner.level) return reason;
  }
  // Unreachable when `level` is the min of the constraints; stay on the safe side anyway.
  return 'ROLE_TOO_LOW';
}

function decision(
  level: JobTokenAccessLevel,
  reason: ReasonCode,
  auditWouldDeny = false,
): ResourceDecision {
  return { level, reason, auditWouldDeny };
}

/** Applies the floor and picks the reason for a level computed from `inner`. */
function withFloor(floor: JobTokenAccessLevel, inner: Inner): ResourceDecision {
  const level = maxLevel(floor, inner.level);
  if (level !== 'NONE' && level === floor) return decision(level, 'PUBLIC_FEATURE');
  if (level === 'WRITE') return decision(level, inner.grant);
  return decision(level, bindingReason(inner));
}

/** Per-resource inputs of a job token decision. */
interface JobResource {
  readonly floor: JobTokenAccessLevel;
  readonly roleCap: JobTokenAccessLevel;
  readonly jobScope: JobTokenAccessLevel;
}

function legacyInner(r: JobResource, grant: ReasonCode): Inner {
  return {
    level: minLevel(r.roleCap, r.jobScope),
    grant,
    constraints: [
      ['JOB_SCOPE', r.jobScope],
      ['ROLE_TOO_LOW', r.roleCap],
    ],
  };
}

function entryInner(
  r: JobResource,
  entry: AllowlistEntry,
  resource: JobTokenResource,
  refProtected: boolean,
): Inner {
  const refCap: JobTokenAccessLevel = entry.protectedRefsOnly && !refProtected ? 'READ' : 'WRITE';
  if (entry.defaultPermissions) {
    // A default-permissions entry is never "entry level too low"; it follows the role. The
    // invalid combination with `boundToUserRole: false` is treated as user-bound (fail closed).
    return {
      level: minLevel(minLevel(r.roleCap, refCap), r.jobScope),
      grant: 'DEFAULT_PERMISSIONS',
      constraints: [
        ['JOB_SCOPE', r.jobScope],
        ['ROLE_TOO_LOW', r.roleCap],
      ],
    };
  }
  const entryCap = entry.permissions[resource] ?? 'NONE';
  if (!entry.boundToUserRole && refProtected) {
    // Project identity: the entry's levels with no role cap; members-only features count.
    return {
      level: minLevel(entryCap, r.jobScope),
      grant: 'PROJECT_IDENTITY',
      constraints: [
        ['ENTRY_LEVEL_TOO_LOW', entryCap],
        ['JOB_SCOPE', r.jobScope],
      ],
    };
  }
  return {
    level: minLevel(minLevel(r.roleCap, entryCap), minLevel(refCap, r.jobScope)),
    grant: 'ENTRY_GRANTS',
    constraints: [
      ['ENTRY_LEVEL_TOO_LOW', entryCap],
      ['JOB_SCOPE', r.jobScope],
      ['ROLE_TOO_LOW', r.roleCap],
    ],
  };
}

/** The decision as if `ENFORCED`, for a cross-project job token. */
function enforcedDecision(
  r: JobResource,
  resource: JobTokenResource,
  entry: AllowlistEntry | undefined,
  refProtected: boolean,
): ResourceDecision {
  if (entry === undefined) {
    return r.floor === 'NONE'
      ? decision('NONE', 'NOT_IN_ALLOWLIST')
      : decision(r.floor, 'PUBLIC_FEATURE');
  }
  const result = withFloor(r.floor, entryInner(r, entry, resource, refProtected));
  if (refProtected || result.level === 'WRITE' || result.reason === 'PUBLIC_FEATURE') {
    return result;
  }
  const onProtectedRef = maxLevel(r.floor, entryInner(r, entry, resource, true).level);
  return LEVEL_RANK[onProtectedRef] > LEVEL_RANK[result.level]
    ? decision(result.level, 'UNPROTECTED_REF')
    : result;
}

function decideJobResource(
  principal: JobTokenPrincipal,
  input: DecisionInput,
  mode: JobTokenEnforcement | 'SAME_PROJECT',
  entry: AllowlistEntry | undefined,
  resource: JobTokenResource,
): ResourceDecision {
  const feature = input.target.features[resource];
  if (feature === 'disabled') return decision('NONE', 'FEATURE_DISABLED');
  const r: JobResource = {
    floor: publicFloor(feature, input.target, true),
    roleCap: roleCapFor(resource, input.roleAccessLevel),
    jobScope:
      principal.jobPermissions === undefined
        ? 'WRITE'
        : (principal.jobPermissions[resource] ?? 'NONE'),
  };
  switch (mode) {
    case 'SAME_PROJECT':
    case 'DISABLED':
      return withFloor(
        r.floor,
        legacyInner(r, mode === 'DISABLED' ? 'ENFORCEMENT_DISABLED' : 'SAME_PROJECT'),
      );
    case 'ENFORCED':
      return enforcedDecision(r, resource, entry, principal.refProtected);
    case 'AUDIT': {
      // A dry run: never deny what DISABLED would allow, but mark where ENFORCED would.
      const enforced = enforcedDecision(r, resource, entry, principal.refProtected);
      const legacy = withFloor(r.floor, legacyInner(r, 'AUDIT_WOULD_DENY'));
      return LEVEL_RANK[enforced.level] < LEVEL_RANK[legacy.level]
        ? decision(legacy.level, legacy.reason, true)
        : enforced;
    }
    default:
      throw new UnreachableCaseError(mode);
  }
}

function matchedEntryOf(entry: AllowlistEntry): MatchedEntry {
  return {
    sourceId: entry.sourceId,
    sourceKind: entry.sourceKind,
    sourcePath: entry.sourcePath,
    defaultPermissions: entry.defaultPermissions,
    boundToUserRole: entry.boundToUserRole,
    protectedRefsOnly: entry.protectedRefsOnly,
  };
}

function mapResources(
  fn: (resource: JobTokenResource) => ResourceDecision,
): Record<JobTokenResource, ResourceDecision> {
  return {
    RELEASES: fn(RESOURCES[0]),
    TAGS: fn(RESOURCES[1]),
    CONTAINERS: fn(RESOURCES[2]),
    MERGE_REQUEST_NOTES: fn(RESOURCES[3]),
  };
}

function anyAuditWouldDeny(resources: Record<JobTokenResource, ResourceDecision>): boolean {
  return RESOURCES.some((resource) => resources[resource].auditWouldDeny);
}

function decideJob(principal: JobTokenPrincipal, input: DecisionInput): PermissionSet {
  const { target, profile, instance, source } = input;
  if (principal.projectId === target.id) {
    const resources = mapResources((res) =>
      decideJobResource(principal, input, 'SAME_PROJECT', undefined, res),
    );
    return { targetProjectId: target.id, resources, auditWouldDeny: false, principalKind: 'job' };
  }
  const mode = effectiveEnforcement(profile, instance);
  let entry: AllowlistEntry | undefined;
  if (mode !== 'DISABLED' && profile !== undefined) {
    const ancestors =
      source !== undefined && source.id === principal.projectId
        ? source.ancestorGroupIds
        : [principal.namespaceId];
    entry = nearestEntry(indexProfile(profile), principal.projectId, ancestors);
  }
  const resources = mapResources((res) => decideJobResource(principal, input, mode, entry, res));
  const set: PermissionSet = {
    targetProjectId: target.id,
    resources,
    auditWouldDeny: anyAuditWouldDeny(resources),
    principalKind: 'job',
    enforcement: mode,
  };
  return entry === undefined ? set : { ...set, matchedEntry: matchedEntryOf(entry) };
}

function decideUser(isAdmin: boolean, input: DecisionInput): PermissionSet {
  const accessLevel = isAdmin
    ? Math.max(ROLES.OWNER, input.roleAccessLevel)
    : input.roleAccessLevel;
  const resources = mapResources((resource) => {
    const feature = input.target.features[resource];
    if (feature === 'disabled') return decision('NONE', 'FEATURE_DISABLED');
    const floor = publicFloor(feature, input.target, true);
    const roleCap = roleCapFor(resource, accessLevel);
    const level = maxLevel(floor, roleCap);
    if (level !== 'NONE' && level === floor) return decision(level, 'PUBLIC_FEATURE');
    return decision(level, level === 'NONE' ? 'ROLE_TOO_LOW' : 'USER_ROLE');
  });
  return {
    targetProjectId: input.target.id,
    resources,
    auditWouldDeny: false,
    principalKind: 'user',
  };
}

function decideAnonymous(input: DecisionInput): PermissionSet {
  const resources = mapResources((resource) => {
    const feature = input.target.features[resource];
    if (feature === 'disabled') return decision('NONE', 'FEATURE_DISABLED');
    const floor = publicFloor(feature, input.target, false);
    return floor === 'NONE' ? decision('NONE', 'ANONYMOUS') : decision(floor, 'PUBLIC_FEATURE');
  });
  return {
    targetProjectId: input.target.id,
    resources,
    auditWouldDeny: false,
    principalKind: 'anonymous',
  };
}

/**
 * The whole decision for (principal, target): a level and a reason for every resource.
 * Job tokens get allowlist scoping; users get their role (admins act as Owner) plus the public
 * floor; anonymous callers get the public floor of public projects only.
 */
export function decide(input: DecisionInput): PermissionSet {
  const { principal } = input;
  switch (principal.kind) {
    case 'job':
      return decideJob(principal, input);
    case 'user':
      return decideUser(principal.isAdmin, input);
    case 'anonymous':
      return decideAnonymous(input);
    default:
      throw new UnreachableCaseError(principal);
  }
}

// The cache codec lives in codec.ts; re-exported here because callers think of it as part of
// the decision's contract.
export { decodePermissionSet, encodePermissionSet } from './codec.js';
