import { describe, expect, it } from 'vitest';
import { decide, decodePermissionSet, encodePermissionSet } from '../../src/policy/engine.js';
import { entry, input, profile, user } from './builders.js';
import { loadScenarios, scenarioDecisionInput } from '../helpers/scenarios.js';

describe('the permission set cache encoding', () => {
  const { world, cases } = loadScenarios();
  const sets = [
    ...cases.map((c) => decide(scenarioDecisionInput(world, c))),
    decide(input({ principal: user({ isAdmin: true }) })),
    decide(input({ principal: { kind: 'anonymous' } })),
    decide(
      input({
        profile: profile(
          [entry({ sourcePath: 'we|ird "path"\\', protectedRefsOnly: true })],
          'AUDIT',
        ),
      }),
    ),
  ];

  it('decodes exactly what it encoded, for every scenario and principal kind', () => {
    for (const set of sets) expect(decodePermissionSet(encodePermissionSet(set))).toEqual(set);
  });

  it('stays well under 200 bytes, while plain JSON of the same set does not', () => {
    for (const set of sets) expect(Buffer.byteLength(encodePermissionSet(set))).toBeLessThan(120);
    expect(Math.max(...sets.map((s) => JSON.stringify(s).length))).toBeGreaterThan(200);
  });

  it('rejects strings that are not a permission set of this format', () => {
    const good = encodePermissionSet(sets[0]!);
    for (const bad of [
      '',
      'null',
      '{}',
      '[2,1,"WS0WS0WS0WS0","j",""]',
      good.replace(/"W/, '"X'),
      good.replace(/"W\w/, '"W?'),
      '[1,1,"WS0","j",""]',
    ]) {
      expect(() => decodePermissionSet(bad)).toThrow(/cannot decode permission set/);
    }
  });
});
