/**
 * Decision events of one request, written as JSON log lines: denials, allowed writes, and
 * AUDIT-mode would-denies (each logged once per request, project and resource). Events name
 * projects, users and jobs by id and path; never a token or its claims.
 */
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.js';
import type { TargetDecision } from '../cache/request-authorizer.js';
import type { CheckedRequirement } from '../server/context.js';

/** The observer hooks the directive calls (see `GatewayContext`). */
export interface DecisionHooks {
  onDenied(decision: TargetDecision, requirement: CheckedRequirement): void;
  onAllowed(decision: TargetDecision, requirements: readonly CheckedRequirement[]): void;
  onAuditWouldDeny(decision: TargetDecision, requirements: readonly CheckedRequirement[]): void;
}

function who(principal: Principal): Record<string, unknown> {
  switch (principal.kind) {
    case 'job':
      return {
        principal: 'job',
        sourceProjectId: principal.projectId,
        sourceProject: principal.projectPath,
        userId: principal.userId,
        jobId: principal.jobId,
        pipelineId: principal.pipelineId,
        refProtected: principal.refProtected,
      };
    case 'user':
      return { principal: 'user', userId: principal.userId, admin: principal.isAdmin };
    case 'anonymous':
      return { principal: 'anonymous' };
  }
}

/** Hooks that log the decision events of one request. */
export function createDecisionHooks(
  logger: Logger,
  requestId: string,
  principal: Principal,
): DecisionHooks {
  const auditSeen = new Set<string>();
  const base = (d: TargetDecision) => ({
    requestId,
    ...who(principal),
    targetProjectId: d.project.id,
    targetProject: d.project.path_with_namespace,
  });
  return {
    onDenied(d, req) {
      const r = d.set.resources[req.resource as keyof typeof d.set.resources];
      logger.info(
        {
          event: 'authz.denied',
          ...base(d),
          resource: req.resource,
          requiredLevel: req.level,
          grantedLevel: r?.level,
          reason: r?.reason,
        },
        'job token permission denied',
      );
    },
    onAllowed(d, reqs) {
      if (!reqs.some((r) => r.level === 'WRITE')) return;
      logger.info({ event: 'authz.write_allowed', ...base(d), permissions: reqs }, 'write allowed');
    },
    onAuditWouldDeny(d, reqs) {
      for (const req of reqs) {
        const r = d.set.resources[req.resource as keyof typeof d.set.resources];
        if (!r?.auditWouldDeny) continue;
        const key = `${d.project.id}:${req.resource}`;
        if (auditSeen.has(key)) continue;
        auditSeen.add(key);
        logger.warn(
          {
            event: 'authz.audit_would_deny',
            ...base(d),
            resource: req.resource,
            level: r.level,
            reason: r.reason,
          },
          'AUDIT mode: allowed, but ENFORCED would deny',
        );
      }
    },
  };
}
