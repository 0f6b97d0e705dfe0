import { describe, expect, it } from 'vitest';
import { decide } from '../../src/policy/engine.js';
import { FEATURE_OF, RESOURCES, ROLE_CAPS } from '../../src/policy/types.js';
import { loadScenarios, scenarioDecisionInput, worldProfile } from '../helpers/scenarios.js';

const { world, cases, roleCaps, featureOf } = loadScenarios();

describe('the shared authorization scenarios', () => {
  it('use the same role-cap table and feature mapping as the engine', () => {
    expect(roleCaps).toEqual(ROLE_CAPS);
    expect(featureOf).toEqual(FEATURE_OF);
  });

  it('holds every case as a valid profile, including the profiles that must have no effect', () => {
    for (const c of cases) {
      for (const [path, spec] of Object.entries(c.otherProfiles ?? {})) {
        expect(worldProfile(world, path, spec).entries.length).toBeGreaterThanOrEqual(0);
      }
    }
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
