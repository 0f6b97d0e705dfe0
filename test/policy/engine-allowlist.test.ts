import { describe, expect, it } from 'vitest';
import { decide } from '../../src/policy/engine.js';
import {
  entry,
  groupEntry,
  input,
  job,
  profile,
  SOURCE_ID,
  target,
  levels,
  reasons,
  all,
  ALL_WRITE,
} from './builders.js';

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
