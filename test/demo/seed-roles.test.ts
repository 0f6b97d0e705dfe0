/**
 * Roles worked out from a seed alone agree with what the demo forge answers: the highest of the
 * direct membership and every group above the project, naming where it comes from. The banner
 * picks its person token with them.
 */
import { describe, expect, it } from 'vitest';
import { seedProfileManager } from '../../src/cli/dev-tokens.js';
import { seedMembership } from '../../src/demo/seed-roles.js';
import { loadSeedFile, parseSeed } from '../../src/demo/seed.js';
import { DEMO_SEED_PATH } from './fixtures.js';

const demo = loadSeedFile(DEMO_SEED_PATH);

describe('seedMembership', () => {
  it('inherits from every group above the project and names the group', () => {
    expect(seedMembership(demo, 'acme/platform/registry', 'carol')).toEqual({
      accessLevel: 50,
      via: { kind: 'GROUP', fullPath: 'acme' },
    });
  });

  it('takes the highest of direct and inherited levels, the direct one on a tie', () => {
    // mallory: Developer of globex/portal directly, Maintainer of globex.
    expect(seedMembership(demo, 'globex/portal', 'mallory')).toEqual({
      accessLevel: 40,
      via: { kind: 'GROUP', fullPath: 'globex' },
    });
    const tie = parseSeed({
      groups: [{ id: 1, full_path: 'g', parent_id: null }],
      projects: [{ id: 2, path_with_namespace: 'g/p', namespace_id: 1, visibility: 'private' }],
      users: [{ id: 3, username: 'u' }],
      members: { 'g/p': { u: 40 } },
      groupMembers: { g: { u: 40 } },
    });
    expect(seedMembership(tie, 'g/p', 'u')?.via).toEqual({ kind: 'PROJECT', fullPath: 'g/p' });
  });

  it('is undefined for no membership, an unknown user or an unknown project', () => {
    expect(seedMembership(demo, 'globex/portal', 'carol')).toBeUndefined();
    expect(seedMembership(demo, 'acme/apps/web', 'nobody')).toBeUndefined();
    expect(seedMembership(demo, 'acme/nope', 'carol')).toBeUndefined();
  });
});

describe('seedProfileManager', () => {
  it("picks a person, not a bot, who is Maintainer or Owner of the policy's first target", () => {
    expect(seedProfileManager(demo)).toMatchObject({
      user: { username: 'carol' },
      targetPath: 'acme/platform/registry',
      membership: { accessLevel: 50 },
    });
  });

  it('finds none when nobody but a bot maintains a project', () => {
    const seed = parseSeed({
      groups: [{ id: 1, full_path: 'g', parent_id: null }],
      projects: [{ id: 2, path_with_namespace: 'g/p', namespace_id: 1, visibility: 'private' }],
      users: [
        { id: 3, username: 'dev' },
        { id: 4, username: 'bot', bot: true },
      ],
      members: { 'g/p': { dev: 30, bot: 50 } },
    });
    expect(seedProfileManager(seed)).toBeUndefined();
  });
});
