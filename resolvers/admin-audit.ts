/**
 * Audit events of admin actions (`jobTokenRevoke`, `jobTokenRolesDrop`): who did what, on the
 * change stream beside profile changes. A token is named by the SHA-256 of its `jti` only.
 */
import {
  adminActionEvent,
  type AdminAction,
  type AdminActionEvent,
} from '../src/audit/change-events.js';
import type { GatewayContext } from '../src/server/context.js';

/** Records an admin's action (the caller must be a user: every admin action checks it first). */
export async function auditAdmin(
  ctx: GatewayContext,
  action: AdminAction,
  fields: Omit<AdminActionEvent, 'event' | 'action' | 'at' | 'requestId' | 'actor'>,
): Promise<void> {
  const p = ctx.principal;
  if (p.kind !== 'user') return;
  const actor = { kind: 'user', userId: p.userId, username: p.username ?? null } as const;
  await ctx.management?.changeLog.recordAdmin(
    adminActionEvent(action, actor, { requestId: ctx.requestId, ...fields }),
  );
}
