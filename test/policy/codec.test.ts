import { describe, expect, it } from 'vitest';
import { decide, decodePermissionSet, encodePermissionSet } from '../../src/policy/engine.js';
import { RESOURCES, type PermissionSet } from '../../src/policy/types.js';
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

  it('carries a would-deny mark of any resource to the set', () => {
    const audited = decide(input({ profile: profile([], 'AUDIT') }));
    for (const marked of RESOURCES) {
      const resources = Object.fromEntries(
        RESOURCES.map((r) => [r, { ...audited.resources[r], auditWouldDeny: r === marked }]),
      ) as PermissionSet['resources'];
      const set: PermissionSet = { ...audited, resources, auditWouldDeny: true };
      const decoded = decodePermissionSet(encodePermissionSet(set));
      expect(decoded).toEqual(set);
      expect(decoded.auditWouldDeny).toBe(true);
    }
    const none = Object.fromEntries(
      RESOURCES.map((r) => [r, { ...audited.resources[r], auditWouldDeny: false }]),
    ) as PermissionSet['resources'];
    const clean = { ...audited, resources: none, auditWouldDeny: false };
    expect(decodePermissionSet(encodePermissionSet(clean)).auditWouldDeny).toBe(false);
  });

  it('stays well under 200 bytes, while plain JSON of the same set does not', () => {
    for (const set of sets) expect(Buffer.byteLength(encodePermissionSet(set))).toBeLessThan(120);
    expect(Math.max(...sets.map((s) => JSON.stringify(s).length))).toBeGreaterThan(200);
  });

  it('rejects strings that are not a permission set of this format', () => {
    const good = encodePermissionSet(sets[0]!);
    // The template the bad ones below are made from decodes.
    expect(
      decodePermissionSet('[1,1,"We0We0We0We0","j","E",["G",9,"001","g"]]').matchedEntry,
    ).toMatchObject({ sourceId: 9, sourceKind: 'GROUP', protectedRefsOnly: true });
    for (const bad of [
      '',
      'null',
      '{}',
      '[2,1,"WS0WS0WS0WS0","j",""]',
      good.replace(/"W/, '"X'),
      good.replace(/"W\w/, '"W?'),
      '[1,1,"WS0","j",""]',
      // A would-deny flag, an entry's flags, kind, source and shape that are not of the format.
      '[1,1,"We0We2We0We0","j",""]',
      '[1,1,"We0We0We0We0","j","E",["G",9,"0a1","g"]]',
      '[1,1,"We0We0We0We0","j","E",["G",9,"01","g"]]',
      '[1,1,"We0We0We0We0","j","E",["G",9,"0011","g"]]',
      '[1,1,"We0We0We0We0","j","E",["G",9,101,"g"]]',
      '[1,1,"We0We0We0We0","j","E",["X",9,"001","g"]]',
      '[1,1,"We0We0We0We0","j","E",["G",1.5,"001","g"]]',
      '[1,1,"We0We0We0We0","j","E",["G",9,"001"]]',
      '[1,1,"We0We0We0We0","x",""]',
      '[1,1,"We0We0We0We0","j","Q"]',
    ]) {
      expect(() => decodePermissionSet(bad)).toThrow(/cannot decode permission set/);
    }
  });
});
