/**
 * Checks a resolver makes itself, for permissions that depend on the request's data and so
 * cannot be declared in `schema.graphql` (e.g. `releaseCreate` writes a tag only when the tag
 * does not exist yet). The decision, the denial error and the observers (decision log,
 * authorization log, metrics, AUDIT would-deny) are the directive's, so a denial here is
 * indistinguishable from the same requirement declared with `@requiresJobTokenPermission`.
 */
import { deny, type PermissionRequirement } from '../directives/requires-job-token-permission.js';
import { notFoundError } from '../src/errors/codes.js';
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
const interned = new Map<
  string,
  { readonly req: PermissionRequirement; readonly list: readonly PermissionRequirement[] }
>();

function requirement(resource: JobTokenResource, level: JobTokenAccessLevel) {
  const key = `${resource}:${level}`;
  let found = interned.get(key);
  if (!found) {
    const req = Object.freeze({ resource, level, rank: LEVEL_RANK[level] });
    found = { req, list: Object.freeze([req]) };
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
export async function requireJobTokenPermission(
  ctx: GatewayContext,
  projectRef: number | string,
  resource: JobTokenResource,
  level: Exclude<JobTokenAccessLevel, 'NONE'>,
): Promise<void> {
  const decision = await ctx.authz.forProjectRef(projectRef);
  if (!decision) throw notFoundError('the project was not found');
  const { req, list } = requirement(resource, level);
  if (LEVEL_RANK[decision.set.resources[resource].level] < req.rank) {
    throw deny(ctx, decision, req);
  }
  ctx.onAllowed?.(decision, list);
  ctx.onUsed?.(decision, list);
  if (decision.set.auditWouldDeny) ctx.onAuditWouldDeny?.(decision, list);
}
