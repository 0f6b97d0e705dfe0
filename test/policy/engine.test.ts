import { describe, expect, it } from 'vitest';
import {
  decide,
  DEFAULT_INSTANCE_SETTINGS,
  effectiveEnforcement,
  needsSourceAncestors,
} from '../../src/policy/engine.js';
import { indexProfile } from '../../src/policy/profile-index.js';
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
  levels,
  reasons,
  all,
  ALL_WRITE,
  everywhere,
} from './builders.js';

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
