/**
 * Allowlist entries for store tests: project `acme/p<sourceId>` with `RELEASES: READ`, bound to
 * the user's role, unless `over` says otherwise.
 */
import type { AllowlistEntry } from '../../src/policy/types.js';

/** A project entry for source `sourceId`. */
export const projectEntry = (
  sourceId: number,
  over: Partial<AllowlistEntry> = {},
): AllowlistEntry => ({
  sourceId,
  sourceKind: 'PROJECT',
  sourcePath: `acme/p${sourceId}`,
  defaultPermissions: false,
  permissions: { RELEASES: 'READ' },
  protectedRefsOnly: false,
  boundToUserRole: true,
  ...over,
});
