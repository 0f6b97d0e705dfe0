import { describe, expect, it } from 'vitest';
import { decide } from '../../src/policy/engine.js';
import {
  denialMessage,
  explainDecision,
  roleName,
  type ExplainContext,
} from '../../src/policy/explain.js';
import { LEVEL_RANK, LEVELS, RESOURCES, type PermissionSet } from '../../src/policy/types.js';
import { loadScenarios, scenarioDecisionInput, type ScenarioCase } from '../helpers/scenarios.js';
import { anonymous, input, target, user } from './builders.js';

const { world, cases } = loadScenarios();
const NOUNS = {
  RELEASES: 'releases',
  TAGS: 'tags',
  CONTAINERS: 'container images',
  MERGE_REQUEST_NOTES: 'merge request notes',
} as const;

function scenario(name: string): { set: PermissionSet; ctx: ExplainContext; c: ScenarioCase } {
  const c = cases.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no scenario "${name}"`);
  const decisionInput = scenarioDecisionInput(world, c);
  const ctx: ExplainContext = {
    targetPath: c.target,
    sourcePath: c.token.project,
    userLabel: c.token.user,
    roleAccessLevel: decisionInput.roleAccessLevel,
  };
  return { set: decide(decisionInput), ctx, c };
}

describe('roleName', () => {
  it('names every forge role and says when there is none', () => {
    expect([0, 5, 10, 20, 30, 40, 50].map(roleName)).toEqual([
      'not a member',
      'Minimal access',
      'Guest',
      'Reporter',
      'Developer',
      'Maintainer',
      'Owner',
    ]);
  });
});

describe('explainDecision', () => {
  it('names the group entry with default permissions and the user role', () => {
    const { set, ctx } = scenario("a group entry with default permissions gives the user's role");
    expect(explainDecision(set, 'RELEASES', ctx)).toBe(
      'acme/apps/web is allowed by the group entry acme/apps with default permissions; alice is a Developer in acme/platform/registry',
    );
  });

  it('names the source that is missing from the allowlist', () => {
    const { set, ctx } = scenario('a project missing from an enforced allowlist gets nothing');
    expect(explainDecision(set, 'TAGS', ctx)).toBe(
      'acme/apps/web is not in the job token allowlist of acme/platform/registry',
    );
  });

  it('says when AUDIT mode let something through that enforcing would deny', () => {
    const { set, ctx } = scenario('audit mode allows at role level but records a would-deny');
    expect(explainDecision(set, 'RELEASES', ctx)).toMatch(
      /^acme\/apps\/web only audits its job token allowlist.*\(audit mode: enforcing the allowlist would deny this\)$/,
    );
  });

  it('explains the public floor and project identities', () => {
    expect(
      explainDecision(
        scenario('public features of a public project are readable without an allowlist entry').set,
        'RELEASES',
        { targetPath: 'acme/oss-lib', roleAccessLevel: 0 },
      ),
    ).toBe('releases of acme/oss-lib are readable by everyone who can see the project');
    const { set, ctx } = scenario(
      "a project-identity entry grants its levels to protected refs without the user's role",
    );
    expect(explainDecision(set, 'MERGE_REQUEST_NOTES', ctx)).toBe(
      "acme/bots/remediator is allowed by the project entry acme/bots/remediator to write merge request notes from protected refs, whatever the user's role",
    );
  });

  it('words every reason of every scenario without a token or claim set', () => {
    for (const c of cases) {
      const { set, ctx } = scenario(c.name);
      for (const r of RESOURCES) {
        const text = explainDecision(set, r, ctx);
        expect(text.length).toBeGreaterThan(10);
        expect(text).not.toMatch(/eyJ|scenario-|jti|\{/);
      }
    }
  });
});

describe('denialMessage', () => {
  it('tells a Maintainer of the target to grant a source that is not allowlisted', () => {
    const { set, ctx } = scenario('a project missing from an enforced allowlist gets nothing');
    expect(denialMessage(set, 'RELEASES', 'WRITE', ctx)).toBe(
      'project acme/platform/registry does not allow job tokens from acme/apps/web to write releases; a Maintainer of acme/platform/registry can grant it',
    );
  });

  it('says which role a write needs when the role is too low', () => {
    const { set, ctx } = scenario("an entry never lifts a job above its user's role in the target");
    expect(denialMessage(set, 'RELEASES', 'WRITE', ctx)).toBe(
      'bob is a Reporter in acme/platform/registry; writing releases needs Developer',
    );
    const nonMember = scenario(
      'a user who is not a member of a private target gets nothing even when allowlisted',
    );
    expect(denialMessage(nonMember.set, 'RELEASES', 'READ', nonMember.ctx)).toBe(
      'remediator-bot is not a member of acme/platform/tools/releaser; reading releases needs Guest',
    );
  });

  it('says a disabled feature is disabled', () => {
    const { set, ctx } = scenario('a disabled feature is NONE whatever the entry says');
    expect(denialMessage(set, 'CONTAINERS', 'READ', ctx)).toBe(
      'container images are disabled in acme/platform/tools/releaser',
    );
  });

  it('points at the job permissions when they are what limits', () => {
    const { set, ctx } = scenario('job-level permissions narrow and make unlisted resources NONE');
    expect(denialMessage(set, 'RELEASES', 'WRITE', ctx)).toBe(
      'the job\'s own permissions limit releases to read; to write releases, add "releases: write" to the job\'s permissions',
    );
  });

  it('asks for a protected ref when only protected refs get the level', () => {
    const { set, ctx } = scenario(
      'a protected-refs-only entry gives READ at most to an unprotected ref',
    );
    expect(denialMessage(set, 'RELEASES', 'WRITE', ctx)).toBe(
      'project acme/platform/registry allows job tokens from acme/apps/web to write releases only from protected refs; run the job on a protected ref',
    );
  });

  it('names the missing allowlist entry even when the public floor gave READ', () => {
    const { set, ctx } = scenario(
      'public features of a public project are readable without an allowlist entry',
    );
    expect(denialMessage(set, 'RELEASES', 'WRITE', ctx)).toBe(
      'project acme/oss-lib does not allow job tokens from globex/portal to write releases; a Maintainer of acme/oss-lib can grant it',
    );
    const allowlisted = scenario(
      'an allowlist entry gives a non-member of a public project no write',
    );
    expect(denialMessage(allowlisted.set, 'RELEASES', 'WRITE', allowlisted.ctx)).toBe(
      'mallory is not a member of acme/oss-lib; writing releases needs Developer',
    );
  });

  it('words denials for users and anonymous callers', () => {
    const pub = target({ visibility: 'public' });
    const u = decide(input({ principal: user(), target: pub, roleAccessLevel: 20 }));
    expect(
      denialMessage(u, 'TAGS', 'WRITE', {
        targetPath: 'acme/target',
        userLabel: 'alice',
        roleAccessLevel: 20,
      }),
    ).toBe('alice is a Reporter in acme/target; writing tags needs Developer');
    const a = decide(input({ principal: anonymous, target: pub, roleAccessLevel: 0 }));
    expect(
      denialMessage(a, 'TAGS', 'WRITE', { targetPath: 'acme/target', roleAccessLevel: 0 }),
    ).toBe(
      'anonymous callers may only read public features of public projects; to write tags in acme/target, sign in',
    );
  });

  it('gives a message for every denied level of every scenario, without a token or claim set', () => {
    for (const c of cases) {
      const { set, ctx } = scenario(c.name);
      for (const r of RESOURCES) {
        for (const required of LEVELS) {
          if (LEVEL_RANK[set.resources[r].level] >= LEVEL_RANK[required]) continue;
          const text = denialMessage(set, r, required, ctx);
          expect(text).toContain(NOUNS[r]);
          expect(text).not.toMatch(/eyJ|scenario-|jti|\{/);
        }
      }
    }
  });
});
