/**
 * Protected tags. The gateway writes with its service credential, which the forge's protected
 * tag rules do not hold back, so the gateway applies them to the caller itself before anything
 * is written: creating a tag that matches a protection (with `tagCreate`, or `releaseCreate`
 * with `ref`), and creating, updating or deleting the release of such a tag, need what the
 * protection's `create_access_levels` name (the forge's rule for releases of protected tags);
 * deleting a protected tag needs Maintainer. The role is the caller's own on the target (a
 * job's user, or the person): a job-token level alone never lifts a tag protection.
 */
import { forbiddenError } from '../src/errors/codes.js';
import { roleName } from '../src/policy/explain.js';
import { ROLES, type JobTokenAccessLevel } from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';
import { mayCreateTag, type RestProtectedTag } from '../src/upstream/protected-tags.js';
import { walkForgePages } from '../src/upstream/pagination.js';
import type { RestTag } from '../src/upstream/types.js';

/** Most protection pages read (100 each); a forge with more is refused, not guessed. */
const MAX_PAGES = 20;

async function protectionsOf(ctx: GatewayContext, projectId: number): Promise<RestProtectedTag[]> {
  const all: RestProtectedTag[] = [];
  const end = await walkForgePages<RestProtectedTag>(
    ctx.upstream,
    `projects/${projectId}/protected_tags`,
    ctx.callOptions,
    MAX_PAGES,
    (items) => (all.push(...items), false),
  );
  if (end === 'limit') {
    throw forbiddenError(
      `the project has more than ${MAX_PAGES * 100} protected tag patterns; the gateway cannot check them`,
    );
  }
  return all;
}

/** The caller's forge role on the target, from the decision the field's guard holds. */
function roleOn(ctx: GatewayContext, projectId: number): number {
  return ctx.authz.peek(projectId)?.roleAccessLevel ?? 0;
}

/**
 * The refusal, reported as a denial of TAGS WRITE (decision log, authorization log, metrics):
 * the token's check had allowed the write, so the decision reported is the held one with TAGS
 * held to at most READ by the caller's role.
 */
function refused(ctx: GatewayContext, projectId: number, what: string): Error {
  const held = ctx.authz.peek(projectId);
  const role = held?.roleAccessLevel ?? 0;
  const who = ctx.principal.kind === 'job' ? "the job's user" : 'the caller';
  const granted: JobTokenAccessLevel =
    held && held.set.resources.TAGS.level !== 'NONE' ? 'READ' : 'NONE';
  if (held) {
    const resources = {
      ...held.set.resources,
      TAGS: { ...held.set.resources.TAGS, level: granted, reason: 'ROLE_TOO_LOW' as const },
    };
    ctx.onDenied?.(
      { ...held, set: { ...held.set, resources } },
      { resource: 'TAGS', level: 'WRITE' },
    );
  }
  return forbiddenError(`${what}; ${who} is ${roleName(role)} on the target project`, {
    resource: 'TAGS',
    requiredLevel: 'WRITE',
    grantedLevel: granted,
    reason: 'ROLE_TOO_LOW',
  });
}

/**
 * Refuses (FORBIDDEN, nothing written) creating tag `name`, or writing its release, when a
 * protection matches it and does not let the caller create it.
 */
export async function requireMayCreateTag(
  ctx: GatewayContext,
  projectId: number,
  name: string,
  action: 'create the tag' | 'write the release of the tag',
): Promise<void> {
  const protections = await protectionsOf(ctx, projectId);
  const userId = ctx.principal.kind === 'anonymous' ? undefined : ctx.principal.userId;
  if (mayCreateTag(protections, name, roleOn(ctx, projectId), userId)) return;
  throw refused(
    ctx,
    projectId,
    `tag "${name}" is protected on the forge, and its protection does not let the caller ${action}`,
  );
}

/** Refuses (FORBIDDEN, nothing written) deleting a protected tag below Maintainer. */
export function requireMayDeleteTag(ctx: GatewayContext, projectId: number, tag: RestTag): void {
  if (tag.protected !== true || roleOn(ctx, projectId) >= ROLES.MAINTAINER) return;
  throw refused(
    ctx,
    projectId,
    `tag "${tag.name}" is protected on the forge: deleting it needs the Maintainer role`,
  );
}
