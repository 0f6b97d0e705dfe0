/**
 * Checks a resolver makes itself, for permissions that depend on the request's data and so
 * cannot be declared in `schema.graphql` (e.g. `releaseCreate` writes a tag only when the tag
 * does not exist yet). The check is the directive's own (`requireOnProjectRef`), so a denial
 * here is indistinguishable from the same requirement declared with `@requiresJobTokenPermission`.
 */
import {
  requireOnProjectRef,
  type PermissionRequirement,
} from '../directives/requires-job-token-permission.js';
import {
  LEVEL_RANK,
  type JobTokenAccessLevel,
  type JobTokenResource,
} from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';

/**
 * One frozen requirement list per (resource, level): the authorization log tells "already
 * logged in this request" by the list's identity, as it does for the directive's lists.
 */
const interned = new Map<string, readonly PermissionRequirement[]>();

function requirements(
  resource: JobTokenResource,
  level: JobTokenAccessLevel,
): readonly PermissionRequirement[] {
  const key = `${resource}:${level}`;
  let found = interned.get(key);
  if (!found) {
    found = Object.freeze([Object.freeze({ resource, level, rank: LEVEL_RANK[level] })]);
    interned.set(key, found);
  }
  return found;
}

/**
 * Requires `level` on `resource` of the project `projectRef` (id or path) for the caller,
 * exactly as the directive does for a root field: throws `FORBIDDEN` (or `NOT_FOUND` for a
 * project the caller cannot see) and reports the denial, or reports the allowed use. Call it
 * before any upstream write it guards.
 */
export function requireJobTokenPermission(
  ctx: GatewayContext,
  projectRef: number | string,
  resource: JobTokenResource,
  level: Exclude<JobTokenAccessLevel, 'NONE'>,
): Promise<void> {
  return requireOnProjectRef(ctx, projectRef, requirements(resource, level));
}
