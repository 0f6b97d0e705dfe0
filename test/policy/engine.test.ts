import { describe, expect, it } from 'vitest';
import {
  decide,
  DEFAULT_INSTANCE_SETTINGS,
  effectiveEnforcement,
  needsSourceAncestors,
} from '../../src/policy/engine.js';
import { indexProfile } from '../../src/policy/profile-index.js';
import { RESOURCES, type PermissionSet } from '../../src/policy/types.js';
import {
  anonymous,
  entry,
  groupEntry,
  input,
  job,
  profile,
  SOURCE_ID,
  target,
  TARGET_ID,
  user,
} from './builders.js';

const levels = (set: PermissionSet) =>
  Object.fromEntries(RESOURCES.map((r) => [r, set.resources[r].level]));
const reasons = (set: PermissionSet) =>
  Object.fromEntries(RESOURCES.map((r) => [r, set.resources[r].reason]));
const all = <T>(value: T) => ({
  RELEASES: value,
  TAGS: value,
  CONTAINERS: value,
  MERGE_REQUEST_NOTES: value,
});
const ALL_WRITE = {
  RELEASES: 'WRITE',
  TAGS: 'WRITE',
  CONTAINERS: 'WRITE',
  MERGE_REQUEST_NOTES: 'WRITE',
};
const everywhere = { enforceAllowlistEverywhere: true, defaultEnforcement: 'ENFORCED' } as const;

describe('job tokens on their own project', () => {
  it('get the role cap with reason SAME_PROJECT, whatever the profile says', () => {
    const set = decide(input({ principal: job({ projectId: TARGET_ID }), instance: everywhere }));
    expect(levels(set)).toEqual(ALL_WRITE);
    expect(reasons(set)).toEqual(all('SAME_PROJECT'));
    expect(set.enforcement).toBeUndefined();
  });

  it('are capped by a Reporter role, with ROLE_TOO_LOW where the role is short', () => {
    const set = decide(input({ principal: job({ projectId: TARGET_ID }), roleAccessLevel: 20 }));
    expect(levels(set)).toEqual({
      RELEASES: 'READ',
      TAGS: 'READ',
      CONTAINERS: 'READ',
      MERGE_REQUEST_NOTES: 'WRITE',
    });
    expect(set.resources.TAGS.reason).toBe('ROLE_TOO_LOW');
  });

  it('are narrowed by the job_token_permissions claim', () => {
    const set = decide(
      input({ principal: job({ projectId: TARGET_ID, jobPermissions: { TAGS: 'READ' } }) }),
    );
    expect(levels(set)).toEqual({
      RELEASES: 'NONE',
      TAGS: 'READ',
      CONTAINERS: 'NONE',
      MERGE_REQUEST_NOTES: 'NONE',
    });
    expect(reasons(set)).toEqual(all('JOB_SCOPE'));
  });
});

describe('role caps and the public floor', () => {
  it('gives a non-member of a private project nothing, with ROLE_TOO_LOW', () => {
    const set = decide(
      input({ profile: profile([entry({ defaultPermissions: true })]), roleAccessLevel: 0 }),
    );
    expect(levels(set)).toEqual(all('NONE'));
    expect(reasons(set)).toEqual(all('ROLE_TOO_LOW'));
  });

  it('gives a Guest READ on releases only', () => {
    const set = decide(
      input({ profile: profile([entry({ defaultPermissions: true })]), roleAccessLevel: 10 }),
    );
    expect(levels(set)).toEqual({
      RELEASES: 'READ',
      TAGS: 'NONE',
      CONTAINERS: 'NONE',
      MERGE_REQUEST_NOTES: 'NONE',
    });
  });

  it('lets any job read enabled features of a public project without an entry, as PUBLIC_FEATURE', () => {
    const set = decide(input({ target: target({ visibility: 'public' }), roleAccessLevel: 0 }));
    expect(levels(set)).toEqual(all('READ'));
    expect(reasons(set)).toEqual(all('PUBLIC_FEATURE'));
  });

  it('lets any job read enabled features of an internal project', () => {
    const set = decide(input({ target: target({ visibility: 'internal' }), roleAccessLevel: 0 }));
    expect(levels(set)).toEqual(all('READ'));
  });

  it('gives members-only features no public floor', () => {
    const set = decide(
      input({
        target: target({ visibility: 'public', features: { TAGS: 'private' } }),
        roleAccessLevel: 0,
      }),
    );
    expect(set.resources.TAGS).toEqual({
      level: 'NONE',
      reason: 'NOT_IN_ALLOWLIST',
      auditWouldDeny: false,
    });
  });

  it('makes a disabled feature NONE for everyone, even the job of the project itself', () => {
    const t = target({ visibility: 'public', features: { CONTAINERS: 'disabled' } });
    for (const principal of [job({ projectId: TARGET_ID }), user({ isAdmin: true }), anonymous]) {
      const set = decide(input({ principal, target: t, roleAccessLevel: 50 }));
      expect(set.resources.CONTAINERS).toEqual({
        level: 'NONE',
        reason: 'FEATURE_DISABLED',
        auditWouldDeny: false,
      });
    }
  });
});

describe('effective enforcement', () => {
  it('gives the role cap with ENFORCEMENT_DISABLED when the profile disables its allowlist', () => {
    const set = decide(input({ profile: profile([], 'DISABLED') }));
    expect(levels(set)).toEqual(ALL_WRITE);
    expect(reasons(set)).toEqual(all('ENFORCEMENT_DISABLED'));
    expect(set.enforcement).toBe('DISABLED');
  });

  it('uses the instance default for a project with no profile (ENFORCED unless configured)', () => {
    expect(reasons(decide(input({ profile: undefined })))).toEqual(all('NOT_IN_ALLOWLIST'));
    const legacy = { ...DEFAULT_INSTANCE_SETTINGS, defaultEnforcement: 'DISABLED' } as const;
    expect(levels(decide(input({ profile: undefined, instance: legacy })))).toEqual(ALL_WRITE);
  });

  it('turns DISABLED and AUDIT into ENFORCED when the allowlist is enforced everywhere', () => {
    for (const mode of ['DISABLED', 'AUDIT'] as const) {
      expect(effectiveEnforcement(profile([], mode), everywhere)).toBe('ENFORCED');
      const set = decide(input({ profile: profile([], mode), instance: everywhere }));
      expect(levels(set)).toEqual(all('NONE'));
      expect(set.auditWouldDeny).toBe(false);
    }
  });
});

describe('the nearest allowlist entry', () => {
  it('is the project entry for the source, which narrows a broader group entry', () => {
    const p = profile([
      groupEntry(10, { defaultPermissions: true }),
      entry({ permissions: { TAGS: 'WRITE' } }),
    ]);
    const set = decide(input({ profile: p }));
    expect(levels(set)).toEqual({
      RELEASES: 'NONE',
      TAGS: 'WRITE',
      CONTAINERS: 'NONE',
      MERGE_REQUEST_NOTES: 'NONE',
    });
    expect(set.resources.TAGS.reason).toBe('ENTRY_GRANTS');
    expect(set.resources.RELEASES.reason).toBe('ENTRY_LEVEL_TOO_LOW');
    expect(set.matchedEntry).toMatchObject({ sourceId: SOURCE_ID, sourceKind: 'PROJECT' });
  });

  it('is the closest ancestor group when there is no project entry', () => {
    const p = profile([
      groupEntry(10, { defaultPermissions: true }),
      groupEntry(11, { permissions: { RELEASES: 'READ' } }),
    ]);
    const set = decide(input({ profile: p }));
    expect(levels(set)).toEqual({
      RELEASES: 'READ',
      TAGS: 'NONE',
      CONTAINERS: 'NONE',
      MERGE_REQUEST_NOTES: 'NONE',
    });
    expect(set.matchedEntry).toMatchObject({
      sourceId: 11,
      sourceKind: 'GROUP',
      sourcePath: 'group-11',
    });
  });

  it('covers projects six groups deep and ignores groups that are not ancestors', () => {
    const deep = [16, 15, 14, 13, 12, 11];
    const p = profile([
      groupEntry(11, { defaultPermissions: true }),
      groupEntry(99, { permissions: { TAGS: 'WRITE' } }),
    ]);
    const set = decide(
      input({
        profile: p,
        principal: job({ namespaceId: 16 }),
        source: { id: SOURCE_ID, fullPath: 'x', ancestorGroupIds: deep },
      }),
    );
    expect(levels(set)).toEqual(ALL_WRITE);
    expect(reasons(set)).toEqual(all('DEFAULT_PERMISSIONS'));
  });

  it('matches a project entry by id, not a group entry that shares the number', () => {
    const p = profile([groupEntry(SOURCE_ID, { defaultPermissions: true })]);
    expect(levels(decide(input({ profile: p })))).toEqual(all('NONE'));
  });

  it('falls back to the namespace from the token when the source ancestors are not given', () => {
    const p = profile([
      groupEntry(12, { defaultPermissions: true }),
      groupEntry(10, { permissions: { TAGS: 'READ' } }),
    ]);
    expect(levels(decide(input({ profile: p, source: undefined })))).toEqual(ALL_WRITE);
    const onlyRoot = profile([groupEntry(10, { defaultPermissions: true })]);
    expect(levels(decide(input({ profile: onlyRoot, source: undefined })))).toEqual(all('NONE'));
  });

  it('never lifts a job above the role of its user', () => {
    const p = profile([entry({ permissions: all('WRITE') })]);
    const set = decide(input({ profile: p, roleAccessLevel: 20 }));
    expect(set.resources.RELEASES).toEqual({
      level: 'READ',
      reason: 'ROLE_TOO_LOW',
      auditWouldDeny: false,
    });
  });

  it('names the role, not the entry, when the role is what holds the level lower', () => {
    const p = profile([entry({ permissions: { TAGS: 'READ' } })]);
    expect(decide(input({ profile: p, roleAccessLevel: 10 })).resources.TAGS.reason).toBe(
      'ROLE_TOO_LOW',
    );
    expect(decide(input({ profile: p, roleAccessLevel: 30 })).resources.TAGS.reason).toBe(
      'ENTRY_LEVEL_TOO_LOW',
    );
  });
});

describe('protected refs and project identity', () => {
  const unprotected = job({ refProtected: false });

  it('caps a protected-refs-only entry at READ on an unprotected ref, as UNPROTECTED_REF', () => {
    const p = profile([
      entry({ protectedRefsOnly: true, permissions: { RELEASES: 'WRITE', TAGS: 'READ' } }),
    ]);
    const set = decide(input({ profile: p, principal: unprotected }));
    expect(set.resources.RELEASES).toEqual({
      level: 'READ',
      reason: 'UNPROTECTED_REF',
      auditWouldDeny: false,
    });
    expect(set.resources.TAGS).toEqual({
      level: 'READ',
      reason: 'ENTRY_LEVEL_TOO_LOW',
      auditWouldDeny: false,
    });
    expect(levels(decide(input({ profile: p }))).RELEASES).toBe('WRITE');
  });

  it('caps a protected-refs-only default-permissions entry at READ too', () => {
    const p = profile([entry({ protectedRefsOnly: true, defaultPermissions: true })]);
    const set = decide(input({ profile: p, principal: unprotected }));
    expect(levels(set)).toEqual({
      RELEASES: 'READ',
      TAGS: 'READ',
      CONTAINERS: 'READ',
      MERGE_REQUEST_NOTES: 'READ',
    });
    expect(reasons(set)).toEqual(all('UNPROTECTED_REF'));
  });

  it('grants a project-identity entry its levels on a protected ref without any role, members-only features included', () => {
    const p = profile([
      entry({
        boundToUserRole: false,
        permissions: { MERGE_REQUEST_NOTES: 'WRITE', TAGS: 'READ' },
      }),
    ]);
    const t = target({ features: { MERGE_REQUEST_NOTES: 'private' } });
    const set = decide(input({ profile: p, target: t, roleAccessLevel: 0 }));
    expect(set.resources.MERGE_REQUEST_NOTES).toEqual({
      level: 'WRITE',
      reason: 'PROJECT_IDENTITY',
      auditWouldDeny: false,
    });
    expect(set.resources.TAGS).toEqual({
      level: 'READ',
      reason: 'ENTRY_LEVEL_TOO_LOW',
      auditWouldDeny: false,
    });
  });

  it('still narrows a project identity by the job claim', () => {
    const p = profile([entry({ boundToUserRole: false, permissions: { RELEASES: 'WRITE' } })]);
    const set = decide(
      input({
        profile: p,
        roleAccessLevel: 0,
        principal: job({ jobPermissions: { RELEASES: 'READ' } }),
      }),
    );
    expect(set.resources.RELEASES).toEqual({
      level: 'READ',
      reason: 'JOB_SCOPE',
      auditWouldDeny: false,
    });
  });

  it('makes a project identity user-bound on an unprotected ref, as UNPROTECTED_REF where it would give more', () => {
    const p = profile([entry({ boundToUserRole: false, permissions: { RELEASES: 'WRITE' } })]);
    const nonMember = decide(input({ profile: p, principal: unprotected, roleAccessLevel: 0 }));
    expect(nonMember.resources.RELEASES).toEqual({
      level: 'NONE',
      reason: 'UNPROTECTED_REF',
      auditWouldDeny: false,
    });
    expect(nonMember.resources.TAGS.reason).toBe('ENTRY_LEVEL_TOO_LOW');
    const developer = decide(input({ profile: p, principal: unprotected, roleAccessLevel: 30 }));
    expect(developer.resources.RELEASES).toEqual({
      level: 'WRITE',
      reason: 'ENTRY_GRANTS',
      auditWouldDeny: false,
    });
  });

  it('treats the invalid identity-with-default-permissions entry as user-bound (fail closed)', () => {
    const p = profile([entry({ boundToUserRole: false, defaultPermissions: true })]);
    expect(levels(decide(input({ profile: p, roleAccessLevel: 0 })))).toEqual(all('NONE'));
  });
});

describe('the job_token_permissions claim', () => {
  const p = profile([entry({ defaultPermissions: true })]);

  it('narrows nothing when absent', () => {
    expect(levels(decide(input({ profile: p })))).toEqual(ALL_WRITE);
  });

  it('leaves only the public floor when it is empty', () => {
    const set = decide(
      input({
        profile: p,
        target: target({ visibility: 'internal' }),
        principal: job({ jobPermissions: {} }),
      }),
    );
    expect(levels(set)).toEqual(all('READ'));
    expect(reasons(set)).toEqual(all('PUBLIC_FEATURE'));
  });

  it('makes unlisted resources NONE with JOB_SCOPE and never widens an entry', () => {
    const narrow = profile([entry({ permissions: { TAGS: 'READ' } })]);
    const set = decide(
      input({ profile: narrow, principal: job({ jobPermissions: { TAGS: 'WRITE' } }) }),
    );
    expect(set.resources.TAGS).toEqual({
      level: 'READ',
      reason: 'ENTRY_LEVEL_TOO_LOW',
      auditWouldDeny: false,
    });
    expect(set.resources.RELEASES.reason).toBe('ENTRY_LEVEL_TOO_LOW');
    const byClaim = decide(
      input({ profile: p, principal: job({ jobPermissions: { TAGS: 'WRITE' } }) }),
    );
    expect(byClaim.resources.RELEASES.reason).toBe('JOB_SCOPE');
  });
});

describe('AUDIT mode', () => {
  it('allows a missing source at the role level, marked AUDIT_WOULD_DENY', () => {
    const set = decide(input({ profile: profile([], 'AUDIT') }));
    expect(levels(set)).toEqual(ALL_WRITE);
    expect(reasons(set)).toEqual(all('AUDIT_WOULD_DENY'));
    expect(set.auditWouldDeny).toBe(true);
    expect(set.enforcement).toBe('AUDIT');
  });

  it('keeps the legacy reason below WRITE and marks the resource', () => {
    const set = decide(input({ profile: profile([], 'AUDIT'), roleAccessLevel: 20 }));
    expect(set.resources.TAGS).toEqual({
      level: 'READ',
      reason: 'ROLE_TOO_LOW',
      auditWouldDeny: true,
    });
    expect(set.resources.MERGE_REQUEST_NOTES).toEqual({
      level: 'WRITE',
      reason: 'AUDIT_WOULD_DENY',
      auditWouldDeny: true,
    });
  });

  it('marks nothing where the entry already gives what the legacy rule would', () => {
    const set = decide(
      input({ profile: profile([entry({ permissions: { TAGS: 'WRITE' } })], 'AUDIT') }),
    );
    expect(set.resources.TAGS).toEqual({
      level: 'WRITE',
      reason: 'ENTRY_GRANTS',
      auditWouldDeny: false,
    });
    expect(set.resources.RELEASES).toEqual({
      level: 'WRITE',
      reason: 'AUDIT_WOULD_DENY',
      auditWouldDeny: true,
    });
  });

  it('keeps a project identity grant above the role', () => {
    const p = profile([entry({ boundToUserRole: false, permissions: { TAGS: 'WRITE' } })], 'AUDIT');
    const set = decide(input({ profile: p, roleAccessLevel: 0 }));
    expect(set.resources.TAGS).toEqual({
      level: 'WRITE',
      reason: 'PROJECT_IDENTITY',
      auditWouldDeny: false,
    });
    expect(set.auditWouldDeny).toBe(false);
  });

  it('marks nothing that the legacy rule would deny as well', () => {
    const set = decide(input({ profile: profile([], 'AUDIT'), roleAccessLevel: 0 }));
    expect(levels(set)).toEqual(all('NONE'));
    expect(set.auditWouldDeny).toBe(false);
  });
});

describe('users and anonymous callers', () => {
  it('gives users their role with USER_ROLE and no allowlist scoping', () => {
    const set = decide(input({ principal: user(), roleAccessLevel: 20 }));
    expect(levels(set)).toEqual({
      RELEASES: 'READ',
      TAGS: 'READ',
      CONTAINERS: 'READ',
      MERGE_REQUEST_NOTES: 'WRITE',
    });
    expect(reasons(set)).toEqual(all('USER_ROLE'));
    expect(set.principalKind).toBe('user');
    expect(set.enforcement).toBeUndefined();
  });

  it('gives a non-member user nothing on a private project and READ on an internal one', () => {
    expect(reasons(decide(input({ principal: user(), roleAccessLevel: 0 })))).toEqual(
      all('ROLE_TOO_LOW'),
    );
    const internal = decide(
      input({ principal: user(), roleAccessLevel: 0, target: target({ visibility: 'internal' }) }),
    );
    expect(reasons(internal)).toEqual(all('PUBLIC_FEATURE'));
  });

  it('treats instance admins as Owners', () => {
    const set = decide(input({ principal: user({ isAdmin: true }), roleAccessLevel: 0 }));
    expect(levels(set)).toEqual(ALL_WRITE);
    expect(reasons(set)).toEqual(all('USER_ROLE'));
  });

  it('lets anonymous callers read only enabled features of public projects', () => {
    const pub = decide(
      input({
        principal: anonymous,
        roleAccessLevel: 0,
        target: target({ visibility: 'public', features: { TAGS: 'private' } }),
      }),
    );
    expect(levels(pub)).toEqual({
      RELEASES: 'READ',
      TAGS: 'NONE',
      CONTAINERS: 'READ',
      MERGE_REQUEST_NOTES: 'READ',
    });
    expect(pub.resources.TAGS.reason).toBe('ANONYMOUS');
    const internal = decide(
      input({
        principal: anonymous,
        roleAccessLevel: 0,
        target: target({ visibility: 'internal' }),
      }),
    );
    expect(reasons(internal)).toEqual(all('ANONYMOUS'));
  });
});

describe('needsSourceAncestors', () => {
  const groups = profile([groupEntry(10, { defaultPermissions: true })]);
  const t = target();

  it('is true for a cross-project job whose profile has group entries and no project entry for it', () => {
    expect(needsSourceAncestors(job(), t, groups, DEFAULT_INSTANCE_SETTINGS)).toBe(true);
  });

  it('is false when the ancestors cannot matter', () => {
    const d = DEFAULT_INSTANCE_SETTINGS;
    expect(needsSourceAncestors(job({ projectId: TARGET_ID }), t, groups, d)).toBe(false);
    expect(needsSourceAncestors(user(), t, groups, d)).toBe(false);
    expect(needsSourceAncestors(anonymous, t, groups, d)).toBe(false);
    expect(needsSourceAncestors(job(), t, undefined, d)).toBe(false);
    expect(needsSourceAncestors(job(), t, profile([entry()]), d)).toBe(false);
    expect(needsSourceAncestors(job(), t, profile([entry(), groupEntry(10)]), d)).toBe(false);
    expect(needsSourceAncestors(job(), t, profile([groupEntry(12), groupEntry(10)]), d)).toBe(
      false,
    );
    expect(needsSourceAncestors(job(), t, profile([groupEntry(10)], 'DISABLED'), d)).toBe(false);
  });

  it('is true for a DISABLED profile when the instance enforces the allowlist everywhere', () => {
    expect(needsSourceAncestors(job(), t, profile([groupEntry(10)], 'DISABLED'), everywhere)).toBe(
      true,
    );
  });
});

describe('the hot path', () => {
  it('indexes a profile once and decides with 400 entries and six nested groups quickly', () => {
    const entries = [
      ...Array.from({ length: 200 }, (_, i) => entry({ sourceId: 10_000 + i })),
      ...Array.from({ length: 200 }, (_, i) =>
        groupEntry(20_000 + i, { defaultPermissions: true }),
      ),
    ];
    const p = profile(entries);
    expect(indexProfile(p)).toBe(indexProfile(p));
    const source = { id: SOURCE_ID, fullPath: 'x', ancestorGroupIds: [1, 2, 3, 4, 5, 20_199] };
    const started = performance.now();
    for (let i = 0; i < 20_000; i += 1) decide(input({ profile: p, source }));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(decide(input({ profile: p, source })).matchedEntry?.sourceId).toBe(20_199);
  });
});
