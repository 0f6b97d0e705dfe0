/**
 * Sentences for people: why a decision is what it is (`EffectivePermission.explanation`) and
 * what to change when a check denies (the `FORBIDDEN` error message).
 *
 * Built only from the permission set and an {@link ExplainContext} of paths, a username and a
 * role: never from a token or a claim set, so no secret can reach a message.
 */
import { UnreachableCaseError } from '../errors/unreachable.js';
import { accessLevelNeeded, CLAIM_KEY_OF, levelCovers, roleCapFor } from './levels.js';
import {
  ROLES,
  type JobTokenAccessLevel,
  type JobTokenResource,
  type PermissionSet,
  type ReasonCode,
} from './types.js';

/** Who and where, for the wording; holds no token and no claims. */
export interface ExplainContext {
  /** Full path of the target project. */
  readonly targetPath: string;
  /** Full path of the job's source project (job tokens). */
  readonly sourcePath?: string | undefined;
  /** The user's name for display, e.g. `alice`. */
  readonly userLabel?: string | undefined;
  /** Forge access level of the user in the target (0: not a member). */
  readonly roleAccessLevel: number;
}

/** Display name of a forge access level: Guest, Reporter, ..., or `not a member` for 0. */
export function roleName(accessLevel: number): string {
  if (accessLevel >= ROLES.OWNER) return 'Owner';
  if (accessLevel >= ROLES.MAINTAINER) return 'Maintainer';
  if (accessLevel >= ROLES.DEVELOPER) return 'Developer';
  if (accessLevel >= ROLES.REPORTER) return 'Reporter';
  if (accessLevel >= ROLES.GUEST) return 'Guest';
  return accessLevel > 0 ? 'Minimal access' : 'not a member';
}

const NOUN: Readonly<Record<JobTokenResource, string>> = {
  RELEASES: 'releases',
  TAGS: 'tags',
  CONTAINERS: 'container images',
  MERGE_REQUEST_NOTES: 'merge request notes',
};

function verb(level: JobTokenAccessLevel): string {
  switch (level) {
    case 'WRITE':
      return 'write';
    case 'READ':
      return 'read';
    case 'NONE':
      return 'access';
    default:
      throw new UnreachableCaseError(level);
  }
}

function gerund(level: JobTokenAccessLevel): string {
  return level === 'WRITE' ? 'writing' : 'reading';
}

function withArticle(role: string): string {
  return /^[AEIOU]/.test(role) ? `an ${role}` : `a ${role}`;
}

/** Names the bits of the context once, with fallbacks for what the caller did not know. */
function words(set: PermissionSet, ctx: ExplainContext) {
  const user = ctx.userLabel ?? 'the user';
  const target = ctx.targetPath;
  const entry = set.matchedEntry;
  return {
    user,
    target,
    source: ctx.sourcePath ?? "the job's project",
    entry:
      entry === undefined
        ? 'its allowlist entry'
        : `the ${entry.sourceKind === 'GROUP' ? 'group' : 'project'} entry ${entry.sourcePath}`,
    role:
      ctx.roleAccessLevel > 0
        ? `${user} is ${withArticle(roleName(ctx.roleAccessLevel))} in ${target}`
        : `${user} is not a member of ${target}`,
  };
}

/** What the role allows and what the next level needs: "…; writing releases needs Developer". */
function roleShortfall(
  resource: JobTokenResource,
  wanted: JobTokenAccessLevel,
  role: string,
): string {
  const needed = roleName(accessLevelNeeded(resource, wanted));
  return `${role}; ${gerund(wanted)} ${NOUN[resource]} needs ${needed}`;
}

/**
 * One sentence on why `resource` has its level in `set`, e.g. "acme/apps/web is allowed by the
 * group entry acme/apps with default permissions; alice is a Developer in acme/platform/registry".
 */
export function explainDecision(
  set: PermissionSet,
  resource: JobTokenResource,
  ctx: ExplainContext,
): string {
  const d = set.resources[resource];
  const w = words(set, ctx);
  const text = explainReason(d.reason, d.level, resource, w);
  return d.auditWouldDeny ? `${text} (audit mode: enforcing the allowlist would deny this)` : text;
}

function explainReason(
  reason: ReasonCode,
  level: JobTokenAccessLevel,
  resource: JobTokenResource,
  w: ReturnType<typeof words>,
): string {
  const noun = NOUN[resource];
  switch (reason) {
    case 'FEATURE_DISABLED':
      return `${noun} are disabled in ${w.target}`;
    case 'PUBLIC_FEATURE':
      return `${noun} of ${w.target} are readable by everyone who can see the project`;
    case 'SAME_PROJECT':
      return `the job runs in ${w.target} itself, so no allowlist applies; ${w.role}`;
    case 'ENFORCEMENT_DISABLED':
      return `${w.target} does not enforce its job token allowlist; ${w.role}`;
    case 'AUDIT_WOULD_DENY':
      return `${w.target} only audits its job token allowlist, so ${w.source} gets the user's role for now; ${w.role}`;
    case 'DEFAULT_PERMISSIONS':
      return `${w.source} is allowed by ${w.entry} with default permissions; ${w.role}`;
    case 'ENTRY_GRANTS':
      return `${w.source} is allowed by ${w.entry} to ${verb(level)} ${noun}; ${w.role}`;
    case 'PROJECT_IDENTITY':
      return `${w.source} is allowed by ${w.entry} to ${verb(level)} ${noun} from protected refs, whatever the user's role`;
    case 'NOT_IN_ALLOWLIST':
      return `${w.source} is not in the job token allowlist of ${w.target}`;
    case 'UNPROTECTED_REF':
      return `${w.entry} grants more to jobs on protected refs only, and this job runs on an unprotected ref`;
    case 'ENTRY_LEVEL_TOO_LOW':
      return level === 'NONE'
        ? `${w.entry} does not allow ${w.source} to access ${noun}`
        : `${w.entry} allows ${w.source} to ${verb(level)} ${noun} only`;
    case 'JOB_SCOPE':
      return `the job's own permissions limit ${noun} to ${levelWords(level)}`;
    case 'ROLE_TOO_LOW':
      return roleShortfall(resource, level === 'NONE' ? 'READ' : 'WRITE', w.role);
    case 'USER_ROLE':
      return w.role;
    case 'ANONYMOUS':
      return 'anonymous callers may only read public features of public projects';
    default:
      throw new UnreachableCaseError(reason);
  }
}

/** A level in a sentence: `read`, `write`, `no access`. */
function levelWords(level: JobTokenAccessLevel): string {
  return level === 'NONE' ? 'no access' : level.toLowerCase();
}

/**
 * What a person should change when `required` is denied on `resource`, e.g. "project acme/b
 * does not allow job tokens from acme/app to write releases; a Maintainer of acme/b can grant
 * it", "alice is a Reporter in acme/b; writing releases needs Developer", "releases are
 * disabled in acme/b", "the job's own permissions limit releases to read; to write releases,
 * add "releases: write" to the job's permissions".
 */
export function denialMessage(
  set: PermissionSet,
  resource: JobTokenResource,
  required: JobTokenAccessLevel,
  ctx: ExplainContext,
): string {
  const d = set.resources[resource];
  if (levelCovers(d.level, required)) return explainDecision(set, resource, ctx);
  const w = words(set, ctx);
  const noun = NOUN[resource];
  const notAllowed = `project ${w.target} does not allow job tokens from ${w.source} to ${verb(required)} ${noun}; a Maintainer of ${w.target} can grant it`;
  switch (d.reason) {
    case 'NOT_IN_ALLOWLIST':
    case 'ENTRY_LEVEL_TOO_LOW':
      return notAllowed;
    case 'UNPROTECTED_REF':
      return `project ${w.target} allows job tokens from ${w.source} to ${verb(required)} ${noun} only from protected refs; run the job on a protected ref`;
    case 'JOB_SCOPE':
      return `the job's own permissions limit ${noun} to ${levelWords(d.level)}; to ${verb(required)} ${noun}, add "${CLAIM_KEY_OF[resource]}: ${required.toLowerCase()}" to the job's permissions`;
    case 'ROLE_TOO_LOW':
    case 'USER_ROLE':
      return roleShortfall(resource, required, w.role);
    case 'ANONYMOUS':
      return `anonymous callers may only read public features of public projects; to ${verb(required)} ${noun} in ${w.target}, sign in`;
    case 'PUBLIC_FEATURE':
      return publicFloorDenial(set, resource, required, ctx, notAllowed);
    case 'FEATURE_DISABLED':
    case 'SAME_PROJECT':
    case 'ENFORCEMENT_DISABLED':
    case 'AUDIT_WOULD_DENY':
    case 'DEFAULT_PERMISSIONS':
    case 'ENTRY_GRANTS':
    case 'PROJECT_IDENTITY':
      // Only FEATURE_DISABLED can be below the required level; the grants are all WRITE.
      return `${noun} are disabled in ${w.target}`;
    default:
      throw new UnreachableCaseError(d.reason);
  }
}

/**
 * The public floor gave READ and WRITE was asked: the set keeps only the floor's reason, so
 * name the first rule that is known to be short (allowlist, then role), else all candidates.
 */
function publicFloorDenial(
  set: PermissionSet,
  resource: JobTokenResource,
  required: JobTokenAccessLevel,
  ctx: ExplainContext,
  notAllowed: string,
): string {
  const w = words(set, ctx);
  const noun = NOUN[resource];
  if (set.principalKind === 'anonymous') {
    return `anonymous callers may only read public features of public projects; to ${verb(required)} ${noun} in ${w.target}, sign in`;
  }
  const scoped = set.enforcement !== undefined && set.enforcement !== 'DISABLED';
  if (set.principalKind === 'job' && scoped && set.matchedEntry === undefined) return notAllowed;
  if (!levelCovers(roleCapFor(resource, ctx.roleAccessLevel), required)) {
    if (set.matchedEntry?.boundToUserRole !== false) {
      return roleShortfall(resource, required, w.role);
    }
  }
  if (set.principalKind !== 'job') return roleShortfall(resource, required, w.role);
  return `${noun} of ${w.target} are public to read, but ${gerund(required)} them needs more than ${w.entry}, the job's own permissions or its ref allow`;
}
