/**
 * Claim schemas of job tokens and user tokens (DESIGN.md section 3), and their parsing into
 * principals. Run only on payloads whose signature, issuer, audience and times jose has already
 * verified.
 *
 * A claim that does not fit refuses the whole token (`INVALID_CLAIMS`); the message names the
 * claim from a fixed list, never a value and never a key the token made up.
 */
import { z } from 'zod';
import type { JobTokenAccessLevel, JobTokenResource } from '../policy/types.js';
import type { GatewayError } from '../errors/codes.js';
import type { JobTokenPrincipal, UserPrincipal } from './principal.js';
import { authFailure } from './translate-jose-error.js';

/** Keys of the `job_token_permissions` claim (a job's YAML `permissions:`). */
export type JobPermissionKey = 'releases' | 'tags' | 'containers' | 'merge_request_notes';
/** Values of the `job_token_permissions` claim. */
export type JobPermissionValue = 'none' | 'read' | 'write';
/** The `job_token_permissions` claim as the forge sends it. */
export type JobTokenPermissionsClaim = Partial<Record<JobPermissionKey, JobPermissionValue>>;

/**
 * The job token claims as they travel in the JWT (the forge's CI `id_tokens`), without the
 * registered time/issuer claims. Ids may be numbers or numeric strings; `ref_protected` is the
 * string `"true"`/`"false"` as the forge sends it (booleans are accepted too).
 */
export interface JobTokenClaims {
  jti: string;
  sub: string;
  project_id: number | string;
  project_path: string;
  namespace_id: number | string;
  namespace_path: string;
  user_id: number | string;
  user_login: string;
  pipeline_id: number | string;
  pipeline_source?: string;
  job_id: number | string;
  ref: string;
  ref_type: string;
  ref_protected: 'true' | 'false' | boolean;
  job_token_permissions?: JobTokenPermissionsClaim;
}

/** Maps each `job_token_permissions` key to the resource it scopes. */
export const JOB_PERMISSION_RESOURCES: Readonly<Record<JobPermissionKey, JobTokenResource>> =
  Object.freeze({
    releases: 'RELEASES',
    tags: 'TAGS',
    containers: 'CONTAINERS',
    merge_request_notes: 'MERGE_REQUEST_NOTES',
  });

const LEVEL_OF: Readonly<Record<JobPermissionValue, JobTokenAccessLevel>> = Object.freeze({
  none: 'NONE',
  read: 'READ',
  write: 'WRITE',
});

/** A forge id: a non-negative safe integer, or its canonical decimal string. */
const numericId = z.union([
  z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  z
    .string()
    .regex(/^(0|[1-9][0-9]{0,15})$/)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n)),
]);
const text = z.string().min(1).max(4096);
const refProtected = z.union([
  z.boolean(),
  z.enum(['true', 'false']).transform((v) => v === 'true'),
]);
const permissionValue = z.enum(['none', 'read', 'write']);
// Strict: an unknown key or value refuses the token, so a typo cannot silently widen a scope.
const jobTokenPermissions = z.strictObject({
  releases: permissionValue.optional(),
  tags: permissionValue.optional(),
  containers: permissionValue.optional(),
  merge_request_notes: permissionValue.optional(),
});
const expiry = z.number().finite();

const jobClaimsSchema = z.object({
  exp: expiry,
  jti: text,
  sub: text,
  project_id: numericId,
  project_path: text,
  namespace_id: numericId,
  namespace_path: text,
  user_id: numericId,
  user_login: text,
  pipeline_id: numericId,
  pipeline_source: text.optional(),
  job_id: numericId,
  ref: text,
  ref_type: text,
  ref_protected: refProtected,
  job_token_permissions: jobTokenPermissions.optional(),
});

const userClaimsSchema = z.object({
  exp: expiry,
  sub: z.string().regex(/^(0|[1-9][0-9]{0,15})$/),
  preferred_username: text.optional(),
  username: text.optional(),
  jti: text.optional(),
});

/** Claim names that may appear in an `INVALID_CLAIMS` message. */
const NAMEABLE: ReadonlySet<string> = new Set([
  ...Object.keys(jobClaimsSchema.shape),
  ...Object.keys(userClaimsSchema.shape),
]);

/** Builds the `INVALID_CLAIMS` error for the first zod issue, naming keys from fixed lists only. */
function invalidClaims(error: z.ZodError): GatewayError {
  const issue = error.issues[0];
  const [head, second] = issue?.path ?? [];
  if (typeof head !== 'string' || !NAMEABLE.has(head)) return authFailure('INVALID_CLAIMS');
  if (head === 'job_token_permissions') {
    if (issue?.code === 'unrecognized_keys') {
      return authFailure('INVALID_CLAIMS', '"job_token_permissions" has an unknown key');
    }
    if (typeof second === 'string' && second in JOB_PERMISSION_RESOURCES) {
      return authFailure(
        'INVALID_CLAIMS',
        `"job_token_permissions.${second}" must be none, read or write`,
      );
    }
    return authFailure('INVALID_CLAIMS', '"job_token_permissions" must be an object');
  }
  return authFailure('INVALID_CLAIMS', `"${head}" is missing or invalid`);
}

/**
 * Parses a verified payload as a job token. Throws the `INVALID_CLAIMS` `GatewayError` when a
 * claim is missing or malformed.
 */
export function parseJobTokenClaims(payload: unknown, issuer: string): JobTokenPrincipal {
  const parsed = jobClaimsSchema.safeParse(payload);
  if (!parsed.success) throw invalidClaims(parsed.error);
  const c = parsed.data;
  let jobPermissions: Partial<Record<JobTokenResource, JobTokenAccessLevel>> | undefined;
  if (c.job_token_permissions !== undefined) {
    jobPermissions = {};
    for (const [key, value] of Object.entries(c.job_token_permissions)) {
      if (value === undefined) continue;
      jobPermissions[JOB_PERMISSION_RESOURCES[key as JobPermissionKey]] = LEVEL_OF[value];
    }
    Object.freeze(jobPermissions);
  }
  return Object.freeze({
    kind: 'job',
    issuer,
    jti: c.jti,
    expiresAt: c.exp,
    projectId: c.project_id,
    projectPath: c.project_path,
    namespaceId: c.namespace_id,
    namespacePath: c.namespace_path,
    userId: c.user_id,
    userLogin: c.user_login,
    jobId: c.job_id,
    pipelineId: c.pipeline_id,
    pipelineSource: c.pipeline_source,
    ref: c.ref,
    refType: c.ref_type,
    refProtected: c.ref_protected,
    jobPermissions,
  });
}

/**
 * Parses a verified payload as a person's token: `sub` is the forge user id (a numeric string);
 * the principal is an admin when `sub` is listed in `adminUserIds`. Throws `INVALID_CLAIMS`.
 */
export function parseUserClaims(
  payload: unknown,
  issuer: string,
  adminUserIds: readonly string[],
): UserPrincipal {
  const parsed = userClaimsSchema.safeParse(payload);
  if (!parsed.success) throw invalidClaims(parsed.error);
  const c = parsed.data;
  const userId = Number(c.sub);
  if (!Number.isSafeInteger(userId))
    throw authFailure('INVALID_CLAIMS', '"sub" is missing or invalid');
  return Object.freeze({
    kind: 'user',
    issuer,
    userId,
    username: c.preferred_username ?? c.username,
    isAdmin: adminUserIds.includes(String(userId)),
    expiresAt: c.exp,
    jti: c.jti,
  });
}

/** Whether an `any`-kind issuer's payload is a job token: it carries both `job_id` and `project_id`. */
export function looksLikeJobToken(payload: object): boolean {
  return Object.hasOwn(payload, 'job_id') && Object.hasOwn(payload, 'project_id');
}
