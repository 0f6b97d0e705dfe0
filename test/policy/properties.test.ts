import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JobTokenPrincipal } from '../../src/auth/principal.js';
import {
  decide,
  effectiveEnforcement,
  publicFloor,
  type DecisionInput,
} from '../../src/policy/engine.js';
import { maxLevel, minLevel, roleCapFor } from '../../src/policy/levels.js';
import {
  ENFORCEMENT_MODES,
  LEVEL_RANK,
  LEVELS,
  RESOURCES,
  type AllowlistEntry,
  type JobTokenAccessLevel,
  type JobTokenResource,
} from '../../src/policy/types.js';
import { entry, input, job, profile, SOURCE_ID, target, TARGET_ID } from './builders.js';

const RUNS = { numRuns: 1000 };
const GROUP_IDS = [1, 2, 3, 4, 5, 6, 7, 8];

const level = fc.constantFrom(...LEVELS);
const permissions = fc.dictionary(fc.constantFrom(...RESOURCES), level, {
  maxKeys: 4,
}) as fc.Arbitrary<Partial<Record<JobTokenResource, JobTokenAccessLevel>>>;

const entryArb: fc.Arbitrary<AllowlistEntry> = fc
  .record({
    kind: fc.constantFrom('PROJECT' as const, 'GROUP' as const),
    projectId: fc.constantFrom(SOURCE_ID, 101, 102),
    groupId: fc.constantFrom(...GROUP_IDS),
    defaultPermissions: fc.boolean(),
    permissions,
    protectedRefsOnly: fc.boolean(),
    boundToUserRole: fc.boolean(),
  })
  .map(({ kind, projectId, groupId, defaultPermissions, ...rest }) => {
    const sourceId = kind === 'PROJECT' ? projectId : groupId;
    return entry({
      ...rest,
      sourceId,
      sourceKind: kind,
      sourcePath: `${kind}-${sourceId}`,
      defaultPermissions,
      permissions: defaultPermissions ? {} : rest.permissions,
    });
  });

const feature = fc.constantFrom('enabled' as const, 'private' as const, 'disabled' as const);

const inputArb: fc.Arbitrary<DecisionInput> = fc
  .record({
    sameProject: fc.boolean(),
    refProtected: fc.boolean(),
    jobPermissions: fc.option(permissions, { nil: undefined }),
    visibility: fc.constantFrom('public' as const, 'internal' as const, 'private' as const),
    features: fc.record({
      RELEASES: feature,
      TAGS: feature,
      CONTAINERS: feature,
      MERGE_REQUEST_NOTES: feature,
    }),
    role: fc.constantFrom(0, 10, 20, 30, 40, 50),
    ancestors: fc.shuffledSubarray(GROUP_IDS, { maxLength: 6 }),
    // One entry per source, as every writer guarantees; duplicates get their own property.
    entries: fc.option(
      fc.uniqueArray(entryArb, { maxLength: 8, selector: (e) => `${e.sourceKind}:${e.sourceId}` }),
      { nil: undefined },
    ),
    enforcement: fc.constantFrom(...ENFORCEMENT_MODES),
    everywhere: fc.boolean(),
    defaultEnforcement: fc.constantFrom(...ENFORCEMENT_MODES),
  })
  .map((w) =>
    input({
      principal: job({
        projectId: w.sameProject ? TARGET_ID : SOURCE_ID,
        namespaceId: w.ancestors[0] ?? 99,
        refProtected: w.refProtected,
        jobPermissions: w.jobPermissions,
      }),
      target: target({ visibility: w.visibility, features: w.features }),
      roleAccessLevel: w.role,
      source: { id: SOURCE_ID, fullPath: 'src', ancestorGroupIds: w.ancestors },
      profile: w.entries === undefined ? undefined : profile(w.entries, w.enforcement),
      instance: {
        enforceAllowlistEverywhere: w.everywhere,
        defaultEnforcement: w.defaultEnforcement,
      },
    }),
  );

const rank = (l: JobTokenAccessLevel) => LEVEL_RANK[l];

/** The nearest entry by a plain scan, independent of the profile index. */
function nearestByScan(i: DecisionInput): AllowlistEntry | undefined {
  const entries = i.profile?.entries ?? [];
  const own = entries.find((e) => e.sourceKind === 'PROJECT' && e.sourceId === SOURCE_ID);
  if (own) return own;
  for (const g of i.source?.ancestorGroupIds ?? []) {
    const hit = entries.find((e) => e.sourceKind === 'GROUP' && e.sourceId === g);
    if (hit) return hit;
  }
  return undefined;
}

/** DESIGN's bound, `max(publicFloor, min(roleCap, scopeCap, jobScope))`, with AUDIT's allowance. */
function upperBound(i: DecisionInput, r: JobTokenResource): JobTokenAccessLevel {
  const principal = i.principal as JobTokenPrincipal;
  const floor = publicFloor(i.target.features[r], i.target, true);
  const roleCap = roleCapFor(r, i.roleAccessLevel);
  const jobScope =
    principal.jobPermissions === undefined ? 'WRITE' : (principal.jobPermissions[r] ?? 'NONE');
  const legacy = maxLevel(floor, minLevel(roleCap, jobScope));
  const mode = effectiveEnforcement(i.profile, i.instance);
  if (principal.projectId === i.target.id || mode === 'DISABLED') return legacy;
  const e = nearestByScan(i);
  let scoped: JobTokenAccessLevel = 'NONE';
  if (e !== undefined) {
    let scopeCap: JobTokenAccessLevel = e.defaultPermissions
      ? 'WRITE'
      : (e.permissions[r] ?? 'NONE');
    if (e.protectedRefsOnly && !principal.refProtected) scopeCap = minLevel(scopeCap, 'READ');
    const identity = !e.boundToUserRole && !e.defaultPermissions && principal.refProtected;
    scoped = minLevel(identity ? 'WRITE' : roleCap, minLevel(scopeCap, jobScope));
  }
  const enforced = maxLevel(floor, scoped);
  return mode === 'AUDIT' ? maxLevel(enforced, legacy) : enforced;
}

function withMode(i: DecisionInput, mode: (typeof ENFORCEMENT_MODES)[number]): DecisionInput {
  return {
    ...i,
    profile: profile(i.profile?.entries ?? [], mode),
    instance: { ...i.instance, enforceAllowlistEverywhere: false },
  };
}

describe('engine properties over random worlds', () => {
  it('never gives more than max(publicFloor, min(roleCap, scopeCap, jobScope))', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const set = decide(i);
        for (const r of RESOURCES)
          expect(rank(set.resources[r].level)).toBeLessThanOrEqual(rank(upperBound(i, r)));
      }),
      RUNS,
    );
  });

  it('always gives NONE on a disabled feature', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const set = decide(i);
        for (const r of RESOURCES) {
          if (i.target.features[r] === 'disabled') expect(set.resources[r].level).toBe('NONE');
        }
      }),
      RUNS,
    );
  });

  it('never raises a level because a job_token_permissions claim is present', () => {
    fc.assert(
      fc.property(inputArb, permissions, (i, claim) => {
        const principal = i.principal as JobTokenPrincipal;
        const without = decide({ ...i, principal: { ...principal, jobPermissions: undefined } });
        const withClaim = decide({ ...i, principal: { ...principal, jobPermissions: claim } });
        for (const r of RESOURCES) {
          expect(rank(withClaim.resources[r].level)).toBeLessThanOrEqual(
            rank(without.resources[r].level),
          );
        }
      }),
      RUNS,
    );
  });

  it('does not depend on the order of the entries, even with duplicate sources', () => {
    const arb = fc.tuple(inputArb, fc.array(entryArb, { maxLength: 4 })).chain(([i, extra]) => {
      const entries = [...(i.profile?.entries ?? []), ...extra];
      return fc.tuple(
        fc.constant(i),
        fc.shuffledSubarray([...entries], { minLength: entries.length, maxLength: entries.length }),
      );
    });
    fc.assert(
      fc.property(arb, ([i, shuffled]) => {
        const original = i.profile ?? profile([]);
        const a = decide({ ...i, profile: { ...original, entries: shuffled } });
        const b = decide({ ...i, profile: { ...original, entries: [...shuffled].reverse() } });
        expect(a).toEqual(b);
      }),
      RUNS,
    );
  });

  it('never gives less in AUDIT than DISABLED would, nor more in ENFORCED than AUDIT', () => {
    fc.assert(
      fc.property(inputArb, (i) => {
        const disabled = decide(withMode(i, 'DISABLED'));
        const audit = decide(withMode(i, 'AUDIT'));
        const enforced = decide(withMode(i, 'ENFORCED'));
        for (const r of RESOURCES) {
          expect(rank(audit.resources[r].level)).toBeGreaterThanOrEqual(
            rank(disabled.resources[r].level),
          );
          expect(rank(enforced.resources[r].level)).toBeLessThanOrEqual(
            rank(audit.resources[r].level),
          );
          const marked = audit.resources[r].auditWouldDeny;
          expect(marked).toBe(rank(enforced.resources[r].level) < rank(audit.resources[r].level));
        }
      }),
      RUNS,
    );
  });
});
