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
import { EntryExistsError, EntryLimitError } from '../src/store/profile-store.js';
import { audit, mutationsOf } from './job-token-scope-mutations.js';
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

      const errors: string[] = [];
      const store = mutationsOf(t);
      for (const p of plan) {
        const entry: AllowlistEntry = {
          sourceId: p.sourceId,
          sourceKind: p.sourceKind,
          sourcePath: p.sourcePath,
          defaultPermissions: false,
          permissions: p.permissions,
          protectedRefsOnly: false,
          boundToUserRole: true,
          addedBy: String(t.actor.userId),
          createdAt: new Date().toISOString(),
          autopopulated: true,
        };
        try {
          const version = await store.addEntry(t.project.id, entry);
          await audit(ctx, t, 'ENTRIES_AUTOPOPULATED', version, {
            source: { kind: p.sourceKind, id: p.sourceId, fullPath: p.sourcePath },
            before: { entry: null },
            after: { entry: auditedEntry(entry) },
          });
        } catch (err) {
          if (err instanceof EntryExistsError) errors.push(`${p.sourcePath} already has an entry`);
          else if (err instanceof EntryLimitError) errors.push(`${p.sourcePath}: ${err.message}`);
          else throw err;
        }
      }
      // Enforcing with entries missing would break the very jobs the plan was for.
      if (input.enforce === true && errors.length === 0) {
        const before = (await t.services.store.get(t.project.id))?.enforcement ?? null;
        const version = await store.setEnforcement(t.project.id, 'ENFORCED');
        await audit(ctx, t, 'ENFORCEMENT_SET', version, {
          before: { enforcement: before },
          after: { enforcement: 'ENFORCED' },
        });
      } else if (input.enforce === true) {
        errors.push(
          'the project was not switched to ENFORCED because some entries were not written',
        );
      }
      return { entries, applied: true, jobTokenScope: await scopeModel(t), errors };
    },
  },
};
