/**
 * Audit events of admin actions (`jobTokenRevoke`, `jobTokenRolesDrop`): who did what, on the
 * change stream beside profile changes. A token is named by the SHA-256 of its `jti` only.
 */
import { createHash } from 'node:crypto';
import type { AdminAction, AdminActionEvent } from '../src/audit/change-events.js';
import type { GatewayContext } from '../src/server/context.js';

/** SHA-256 (hex) of a token id, as audit events name a revoked token. */
export const jtiDigest = (jti: string): string => createHash('sha256').update(jti).digest('hex');

/** Records an admin's action (the caller must be a user: every admin action checks it first). */
export async function auditAdmin(
  ctx: GatewayContext,
  action: AdminAction,
  fields: Omit<AdminActionEvent, 'event' | 'action' | 'at' | 'requestId' | 'actor'>,
): Promise<void> {
  const p = ctx.principal;
  if (p.kind !== 'user') return;
  await ctx.management?.changeLog.recordAdmin({
    event: 'jobToken.admin',
    action,
    at: new Date().toISOString(),
    requestId: ctx.requestId,
    actor: { kind: 'user', userId: p.userId, username: p.username ?? null },
    ...fields,
  });
}
