/** One recorded check of a job token for authorization-log tests: job 7 of acme/apps/web reading releases of project 101. */
import type { UsageEvent } from '../../src/audit/auth-log.js';

/** The check at 1_700_000_000_000, with `over` replacing any field. */
export function usageEvent(over: Partial<UsageEvent> = {}): UsageEvent {
  return {
    targetProjectId: 101,
    targetPath: 'acme/platform/registry',
    sourceProjectId: 102,
    sourcePath: 'acme/apps/web',
    sourceNamespaceId: 13,
    sourceNamespacePath: 'acme/apps',
    at: 1_700_000_000_000,
    jobId: 7,
    pipelineId: 70,
    userId: 1,
    resource: 'RELEASES',
    level: 'READ',
    outcome: 'allowed',
    reason: 'ENTRY_GRANTS',
    ...over,
  };
}
