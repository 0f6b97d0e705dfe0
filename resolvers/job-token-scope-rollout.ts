/**
 * `jobTokenScopeAutopopulate` (DESIGN.md section 1, rollout): the entries observed usage
 * needs, from the authorization log, planned by the pure `planAutopopulate`. A preview needs
 * Developer+ (it only shows what the log already shows); writing needs Maintainer+. Written
 * entries are marked `autopopulated`; with `enforce: true` the project then switches to
 * ENFORCED, so the jobs that were observed keep working and any other project is denied.
 */
import { auditedEntry } from '../src/audit/change-events.js';
import { planAutopopulate } from '../src/audit/autopopulate.js';
import type { AllowlistEntry } from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';
import { policyUnavailableError } from '../src/errors/codes.js';
import {
  EntryConflictError,
  EntryExistsError,
  EntryLimitError,
} from '../src/store/profile-store.js';
import { audit, beforeRetry, mutationsOf, UPDATE_ATTEMPTS } from './job-token-scope-mutations.js';
import { authorizeManagement, permissionRows, scopeModel, sourceModel } from './job-token-scope.js';

/** `JobTokenScopeAutopopulateInput`. */
export interface AutopopulateInput {
  readonly projectPath: string;
  readonly preview?: boolean | null;
  readonly enforce?: boolean | null;
}

/** Resolvers of the rollout mutation. */
export const jobTokenScopeRolloutResolvers = {
  Mutation: {
    jobTokenScopeAutopopulate: async (
      _: unknown,
      { input }: { input: AutopopulateInput },
      ctx: GatewayContext,
    ) => {
      const preview = input.preview ?? true;
      const t = await authorizeManagement(ctx, input.projectPath, preview ? 'view' : 'change');
      // What this instance saw until now counts too; other instances flush within a second.
      await t.services.authLog.flush();
      const usage = (await t.services.authLog.list(t.project.id)).filter(
        (u) => u.allowed + u.wouldDeny > 0,
      );
      const namespaces = [...new Set(usage.map((u) => u.sourceNamespaceId))];
      const groups = await Promise.all(namespaces.map((id) => ctx.loaders.group.load(id)));
      const groupNamespaces = new Set(
        namespaces.filter((_id, i) => groups[i] !== null && groups[i] !== undefined),
      );
      // Plan on the profile as read, and write only if it is still that profile: all entries
      // (and the switch to ENFORCED) in one store write, or nothing.
      for (let attempt = 1; ; attempt++) {
        const profile = await t.services.store.get(t.project.id);
        const plan = planAutopopulate({
          targetProjectId: t.project.id,
          usage,
          profile,
          groupNamespaces,
        });
        const entries = plan.map((p) => ({
          source: sourceModel(p.sourceKind, p.sourceId, p.sourcePath),
          permissions: permissionRows(p.permissions),
          coveredSources: p.coveredSources,
        }));
        if (preview) return { entries, applied: false, jobTokenScope: null, errors: [] };

        const enforce = input.enforce === true;
        const createdAt = new Date().toISOString();
        const written: AllowlistEntry[] = plan.map((p) => ({
          sourceId: p.sourceId,
          sourceKind: p.sourceKind,
          sourcePath: p.sourcePath,
          defaultPermissions: false,
          permissions: p.permissions,
          protectedRefsOnly: false,
          boundToUserRole: true,
          addedBy: String(t.actor.userId),
          createdAt,
          autopopulated: true,
        }));
        const done = async (errors: string[], applied: boolean) => ({
          entries,
          applied,
          jobTokenScope: await scopeModel(t),
          errors,
        });
        if (written.length === 0 && (!enforce || profile?.enforcement === 'ENFORCED'))
          return done([], true);
        let version: number;
        try {
          version = await mutationsOf(t).addEntries(t.project.id, written, {
            enforcement: enforce ? 'ENFORCED' : undefined,
            expectedVersion: profile ? profile.version : null,
          });
        } catch (err) {
          // Another write came between the read and this one (a conflict, or an entry added
          // for a planned source): plan again on what is there now.
          const moved = err instanceof EntryConflictError || err instanceof EntryExistsError;
          if (moved && attempt < UPDATE_ATTEMPTS) {
            await beforeRetry(attempt);
            continue;
          }
          if (moved)
            throw policyUnavailableError(
              'the allowlist kept changing while autopopulate wrote it; nothing was changed, try again',
            );
          // Nothing was written, so enforcing was not switched on either: the plan's jobs
          // would have been denied.
          if (err instanceof EntryLimitError) {
            const errors = [`${err.message}; nothing was written`];
            if (enforce) errors.push('the project was not switched to ENFORCED');
            return done(errors, false);
          }
          throw err;
        }
        for (const entry of written) {
          await audit(ctx, t, 'ENTRIES_AUTOPOPULATED', version, {
            source: { kind: entry.sourceKind, id: entry.sourceId, fullPath: entry.sourcePath },
            before: { entry: null },
            after: { entry: auditedEntry(entry) },
          });
        }
        if (enforce && profile?.enforcement !== 'ENFORCED') {
          await audit(ctx, t, 'ENFORCEMENT_SET', version, {
            before: { enforcement: profile?.enforcement ?? null },
            after: { enforcement: 'ENFORCED' },
          });
        }
        return done([], true);
      }
    },
  },
};
