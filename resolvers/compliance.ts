/**
 * `jobTokenComplianceReport` (DESIGN.md section 4): for instance admins, what an auditor
 * should look at across every profile and the authorization log: projects not enforcing their
 * allowlist, entries with default permissions, entries unused for N days, AUDIT-mode
 * would-denies, and usage an enforced allowlist denied. Filterable by kind and project,
 * paginated like every list.
 */
import type { UsageRecord } from '../src/audit/auth-log.js';
import { badUserInputError, forbiddenActionError, internalError } from '../src/errors/codes.js';
import { effectiveEnforcement } from '../src/policy/engine.js';
import type { JobTokenEnforcement, JobTokenProfile } from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';
import type { ConnectionArgs } from '../src/upstream/pagination.js';
import { lastUsedByEntry, listConnection, requireUser, sourceModel } from './job-token-scope.js';

/** `JobTokenComplianceFindingKind`. */
export type FindingKind =
  'NOT_ENFORCING' | 'DEFAULT_PERMISSIONS' | 'UNUSED_ENTRY' | 'AUDIT_WOULD_DENY' | 'ENFORCED_DENIAL';

/** `JobTokenComplianceFinding`. */
export interface Finding {
  readonly kind: FindingKind;
  readonly projectPath: string;
  readonly source: ReturnType<typeof sourceModel> | null;
  readonly enforcement: JobTokenEnforcement | null;
  readonly count: number | null;
  readonly lastUsedAt: string | null;
  readonly detail: string;
}

/** Arguments of the report. */
export interface ComplianceArgs extends ConnectionArgs {
  readonly filter?: {
    readonly kinds?: readonly FindingKind[] | null;
    readonly projectPath?: string | null;
  } | null;
  readonly unusedForDays?: number | null;
}

const DAY_MS = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** Findings of one target project. */
export function projectFindings(
  projectPath: string,
  profile: JobTokenProfile | undefined,
  usage: readonly UsageRecord[],
  mode: JobTokenEnforcement,
  unusedBefore: number,
): Finding[] {
  const out: Finding[] = [];
  const base = { projectPath, enforcement: mode };
  if (mode !== 'ENFORCED') {
    out.push({
      ...base,
      kind: 'NOT_ENFORCING',
      source: null,
      count: null,
      lastUsedAt: null,
      detail: `${projectPath} does not enforce its job token allowlist (mode ${mode})`,
    });
  }
  const lastUsed = lastUsedByEntry(usage);
  for (const e of profile?.entries ?? []) {
    const source = sourceModel(e.sourceKind, e.sourceId, e.sourcePath);
    if (e.defaultPermissions) {
      out.push({
        ...base,
        kind: 'DEFAULT_PERMISSIONS',
        source,
        count: null,
        lastUsedAt: null,
        detail: `the entry ${e.sourcePath} grants jobs whatever their user's role allows in ${projectPath}`,
      });
    }
    const used = lastUsed.get(`${e.sourceKind}:${e.sourceId}`);
    const created = e.createdAt === undefined ? 0 : Date.parse(e.createdAt);
    if ((used ?? 0) < unusedBefore && created < unusedBefore) {
      out.push({
        ...base,
        kind: 'UNUSED_ENTRY',
        source,
        count: null,
        lastUsedAt: used === undefined ? null : iso(used),
        detail:
          used === undefined
            ? `no job used the entry ${e.sourcePath} of ${projectPath} since it was recorded`
            : `no job used the entry ${e.sourcePath} of ${projectPath} since ${iso(used)}`,
      });
    }
  }
  for (const u of usage) {
    const source = sourceModel('PROJECT', u.sourceProjectId, u.sourcePath);
    if (u.wouldDeny > 0)
      out.push({
        ...base,
        kind: 'AUDIT_WOULD_DENY',
        source,
        count: u.wouldDeny,
        lastUsedAt: iso(u.lastUsedAt),
        detail: `enforcing the allowlist of ${projectPath} would deny ${u.wouldDeny} check(s) of jobs from ${u.sourcePath}`,
      });
    if (u.deniedByAllowlist > 0)
      out.push({
        ...base,
        kind: 'ENFORCED_DENIAL',
        source,
        count: u.deniedByAllowlist,
        lastUsedAt: iso(u.lastUsedAt),
        detail: `the allowlist of ${projectPath} denied ${u.deniedByAllowlist} check(s) of jobs from ${u.sourcePath}`,
      });
  }
  return out;
}

/** Every finding of the report, sorted by project, kind and source. */
async function complianceFindings(
  ctx: GatewayContext,
  services: NonNullable<GatewayContext['management']>,
  filter: ComplianceArgs['filter'],
  unusedBefore: number,
): Promise<Finding[]> {
  await services.authLog.flush();
  const profiles = new Map((await services.store.list()).map((p) => [p.projectId, p]));
  const ids = [...new Set([...profiles.keys(), ...(await services.authLog.targets())])];
  const projects = await Promise.all(ids.map((id) => ctx.loaders.project.load(id)));
  const kinds = filter?.kinds ? new Set(filter.kinds) : undefined;
  const onlyPath = filter?.projectPath ?? undefined;
  const findings: Finding[] = [];
  for (const [i, id] of ids.entries()) {
    const path = projects[i]?.path_with_namespace ?? `project ${id}`;
    if (onlyPath !== undefined && path !== onlyPath) continue;
    const profile = profiles.get(id);
    const usage = await services.authLog.list(id);
    const mode = effectiveEnforcement(profile, services.instance);
    for (const f of projectFindings(path, profile, usage, mode, unusedBefore))
      if (!kinds || kinds.has(f.kind)) findings.push(f);
  }
  return findings.sort(
    (a, b) =>
      a.projectPath.localeCompare(b.projectPath) ||
      a.kind.localeCompare(b.kind) ||
      (a.source?.fullPath ?? '').localeCompare(b.source?.fullPath ?? ''),
  );
}

/** Resolvers of the compliance report. */
export const complianceResolvers = {
  Query: {
    jobTokenComplianceReport: async (_: unknown, args: ComplianceArgs, ctx: GatewayContext) => {
      const actor = requireUser(ctx);
      if (!actor.isAdmin)
        throw forbiddenActionError('only instance administrators can read the compliance report');
      const services = ctx.management;
      if (!services) throw internalError();
      const days = args.unusedForDays ?? 90;
      if (!Number.isInteger(days) || days < 0 || days > 36_500)
        throw badUserInputError('unusedForDays must be between 0 and 36500');
      const unusedBefore = Date.now() - days * DAY_MS;
      // Every profile and target is read only when the window asks for an item.
      return listConnection(
        () => complianceFindings(ctx, services, args.filter, unusedBefore),
        args,
        (f) => f,
        ctx.cursors,
      );
    },
  },
};
