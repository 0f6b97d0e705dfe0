import { describe, expect, it } from 'vitest';
import { decide } from '../../src/policy/engine.js';
import { FEATURE_OF, RESOURCES, ROLE_CAPS } from '../../src/policy/types.js';
import {
  loadScenarios,
  scenarioDecisionInput,
  scenarioPolicyFile,
  worldProfile,
  worldTarget,
} from '../helpers/scenarios.js';

const { world, cases, roleCaps, featureOf } = loadScenarios();

describe('the shared authorization scenarios', () => {
  it('use the same role-cap table and feature mapping as the engine', () => {
    expect(roleCaps).toEqual(ROLE_CAPS);
    expect(featureOf).toEqual(FEATURE_OF);
  });

  it('holds valid profiles in every case, including the profiles that must have no effect', () => {
    for (const c of cases) {
      const file = scenarioPolicyFile(c);
      expect(Object.keys(file.projects)).toContain(c.target);
      for (const [path, spec] of Object.entries(c.otherProfiles ?? {})) {
        expect(worldProfile(world, path, spec).projectId).toBe(worldTarget(world, path).id);
      }
    }
  });

  it('reads the ref_protected string form the forge sends', () => {
    const c = cases[0]!;
    for (const [refProtected, expected] of [
      ['true', true],
      ['false', false],
    ] as const) {
      const input = scenarioDecisionInput(world, { ...c, token: { ...c.token, refProtected } });
      expect(input.principal.kind === 'job' && input.principal.refProtected).toBe(expected);
    }
  });

  it('looks roles up by user id, whatever user_login says', () => {
    const c = cases[0]!;
    const input = scenarioDecisionInput(world, {
      ...c,
      token: { ...c.token, userLoginOverride: 'bob' },
    });
    expect(input.roleAccessLevel).toBe(30);
    expect(input.principal.kind === 'job' && input.principal.userLogin).toBe('bob');
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const set = decide(scenarioDecisionInput(world, c));
    const levels = Object.fromEntries(RESOURCES.map((r) => [r, set.resources[r].level]));
    expect(levels).toEqual(c.expect);
    for (const [resource, reason] of Object.entries(c.reasons ?? {})) {
      expect({ resource, reason: set.resources[resource as keyof typeof c.expect].reason }).toEqual(
        {
          resource,
          reason,
        },
      );
    }
    expect(set.auditWouldDeny).toBe(c.auditWouldDeny ?? false);
  });
});
