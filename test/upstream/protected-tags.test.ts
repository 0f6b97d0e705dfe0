/** Protected tag patterns and who may create a matching tag (`src/upstream/protected-tags.ts`). */
import { describe, expect, it } from 'vitest';
import { matchesTagPattern, mayCreateTag } from '../../src/upstream/protected-tags.js';

describe('matchesTagPattern', () => {
  it.each([
    ['v1.0.0', 'v1.0.0', true],
    ['v1.0.0', 'v1.0.01', false],
    ['v1.*', 'v1.2.3', true],
    ['v1.*', 'v1.', true],
    ['v1.*', 'v10.0', false],
    ['*-final', 'release/2-final', true],
    ['release-*-rc*', 'release-2-rc1', true],
    ['release-*-rc*', 'release-2-beta', false],
    ['a+b(c)', 'a+b(c)', true],
    ['a+b(c)*', 'aab(c)x', false],
    ['*', 'anything/at all', true],
  ])('%s against %s: %s', (pattern, name, expected) => {
    expect(matchesTagPattern(pattern, name)).toBe(expected);
  });
});

describe('mayCreateTag', () => {
  const level = (access_level: number) => ({ access_level });
  it('lets anyone create a tag no protection matches', () => {
    expect(
      mayCreateTag([{ name: 'v*', create_access_levels: [level(40)] }], 'nightly', 0, undefined),
    ).toBe(true);
  });
  it('asks for the level a matching protection names; 0 lets no one', () => {
    const p = [{ name: 'v*', create_access_levels: [level(40)] }];
    expect(mayCreateTag(p, 'v1', 30, 7)).toBe(false);
    expect(mayCreateTag(p, 'v1', 40, 7)).toBe(true);
    expect(mayCreateTag([{ name: 'v*', create_access_levels: [level(0)] }], 'v1', 50, 7)).toBe(
      false,
    );
    expect(mayCreateTag([{ name: 'v*' }], 'v1', 50, 7)).toBe(false);
  });
  it('lets no one through a deploy key entry, whatever level it reads', () => {
    const deployKey = {
      name: 'v*',
      create_access_levels: [{ access_level: 40, user_id: null, group_id: null, deploy_key_id: 1 }],
    };
    expect(mayCreateTag([deployKey], 'v1', 50, 7)).toBe(false);
  });

  it('lets a named user, never resolves a group, and takes the most permissive match', () => {
    expect(mayCreateTag([{ name: 'v*', create_access_levels: [{ user_id: 7 }] }], 'v1', 0, 7)).toBe(
      true,
    );
    expect(
      mayCreateTag([{ name: 'v*', create_access_levels: [{ user_id: 7 }] }], 'v1', 40, 8),
    ).toBe(false);
    expect(
      mayCreateTag([{ name: 'v*', create_access_levels: [{ group_id: 3 }] }], 'v1', 50, 7),
    ).toBe(false);
    const two = [
      { name: 'v*', create_access_levels: [level(40)] },
      { name: 'v1*', create_access_levels: [level(30)] },
    ];
    expect(mayCreateTag(two, 'v1.0', 30, 7)).toBe(true);
    expect(mayCreateTag(two, 'v2.0', 30, 7)).toBe(false);
  });
});

describe('isInternalNote', () => {
  it('reads internal and its older name confidential', async () => {
    const { isInternalNote } = await import('../../resolvers/merge-request-notes.js');
    const note = { id: 1, body: 'b' };
    expect(isInternalNote(note)).toBe(false);
    expect(isInternalNote({ ...note, internal: true })).toBe(true);
    expect(isInternalNote({ ...note, confidential: true })).toBe(true);
    expect(isInternalNote({ ...note, internal: false, confidential: false })).toBe(false);
  });
});
