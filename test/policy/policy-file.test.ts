import { describe, expect, it } from 'vitest';
import {
  parsePolicyFile,
  PolicyFileError,
  serializePolicyFile,
  toAllowlistEntry,
} from '../../src/policy/policy-file.js';

function file(projects: Record<string, unknown>, version: unknown = 1): unknown {
  return { version, projects };
}

function problems(json: unknown): readonly string[] {
  try {
    parsePolicyFile(json);
  } catch (err) {
    if (err instanceof PolicyFileError) return err.issues;
    throw err;
  }
  throw new Error('expected a PolicyFileError');
}

describe('parsePolicyFile', () => {
  it('reads the DESIGN example and fills every default', () => {
    const parsed = parsePolicyFile(
      file({
        'acme/b': {
          entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
        },
        'acme/c': {},
      }),
    );
    expect(parsed).toEqual({
      version: 1,
      projects: {
        'acme/b': {
          enforcement: 'ENFORCED',
          entries: [
            {
              source: 'acme/apps',
              kind: 'GROUP',
              defaultPermissions: false,
              permissions: { RELEASES: 'READ' },
              protectedRefsOnly: false,
              boundToUserRole: true,
            },
          ],
        },
        'acme/c': { enforcement: 'ENFORCED', entries: [] },
      },
    });
  });

  it('names the path of an unknown resource and of an unknown level', () => {
    const json = file({
      'acme/b': {
        entries: [
          { source: 'acme/a', kind: 'PROJECT', permissions: { RELEASE: 'READ', TAGS: 'ADMIN' } },
        ],
      },
    });
    expect(problems(json)).toEqual([
      'projects["acme/b"].entries[0].permissions.RELEASE: unknown resource',
      'projects["acme/b"].entries[0].permissions.TAGS: unknown level (expected NONE, READ, WRITE)',
    ]);
    expect(() => parsePolicyFile(json)).toThrow(
      /^invalid policy file: projects\["acme\/b"\]\.entries\[0\]\.permissions\.RELEASE: unknown resource/,
    );
  });

  it('rejects an unknown or missing version before anything else', () => {
    expect(problems(file({ x: 1 }, 2))).toEqual(['version: unsupported version 2 (expected 1)']);
    expect(problems({ projects: {} })).toEqual(['version: missing (expected 1)']);
  });

  it('rejects default permissions together with explicit permissions', () => {
    const json = file({
      'acme/b': {
        entries: [
          {
            source: 'acme/a',
            kind: 'PROJECT',
            defaultPermissions: true,
            permissions: { TAGS: 'READ' },
          },
        ],
      },
    });
    expect(problems(json)).toEqual([
      'projects["acme/b"].entries[0].permissions: cannot be combined with defaultPermissions: true',
    ]);
  });

  it('rejects a project identity with default permissions', () => {
    const json = file({
      'acme/b': {
        entries: [
          { source: 'acme/a', kind: 'PROJECT', defaultPermissions: true, boundToUserRole: false },
        ],
      },
    });
    expect(problems(json)[0]).toMatch(
      /^projects\["acme\/b"\]\.entries\[0\]\.boundToUserRole: false cannot be combined/,
    );
  });

  it('rejects a duplicate source and a project listing itself', () => {
    const json = file({
      'acme/b': {
        entries: [
          { source: 'acme/a', kind: 'PROJECT' },
          { source: 'ACME/a', kind: 'PROJECT' },
          { source: 'acme/b', kind: 'PROJECT' },
        ],
      },
    });
    expect(problems(json)).toEqual([
      'projects["acme/b"].entries[1].source: duplicate source "ACME/a"',
      'projects["acme/b"].entries[2].source: a project cannot list itself',
    ]);
  });

  it('rejects unknown fields, wrong kinds, bad modes and missing sources', () => {
    const json = file({
      'acme/b': { enforcement: 'OFF', entries: [{ kind: 'USER', extra: true }] },
    });
    expect(problems(json)).toEqual([
      'projects["acme/b"].enforcement: expected "ENFORCED" or "AUDIT" or "DISABLED"',
      'projects["acme/b"].entries[0].source: required',
      'projects["acme/b"].entries[0].kind: expected "PROJECT" or "GROUP"',
      'projects["acme/b"].entries[0]: unknown field "extra"',
    ]);
    expect(problems('nope')).toEqual(['(file): expected object']);
  });
});

describe('serializePolicyFile', () => {
  const parsed = parsePolicyFile(
    file({
      'acme/z': {
        enforcement: 'AUDIT',
        entries: [
          { source: 'acme/y', kind: 'PROJECT', permissions: { TAGS: 'WRITE', RELEASES: 'READ' } },
          { source: 'acme/apps', kind: 'GROUP', defaultPermissions: true },
        ],
      },
      'acme/b': {},
    }),
  );

  it('writes projects by path, entries by source and resources in a fixed order, with every default', () => {
    const text = serializePolicyFile(parsed);
    expect(Object.keys((JSON.parse(text) as { projects: object }).projects)).toEqual([
      'acme/b',
      'acme/z',
    ]);
    expect(text.indexOf('"acme/apps"')).toBeLessThan(text.indexOf('"acme/y"'));
    expect(text.indexOf('"RELEASES"')).toBeLessThan(text.indexOf('"TAGS"'));
    expect(text).toContain('"boundToUserRole": true');
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('reads back what it wrote, and writes it the same way again', () => {
    const text = serializePolicyFile(parsed);
    const again = parsePolicyFile(JSON.parse(text));
    expect(serializePolicyFile(again)).toBe(text);
    expect(again.projects['acme/z']?.entries).toHaveLength(2);
  });
});

describe('toAllowlistEntry', () => {
  it('keeps the path for display and matches by the resolved id', () => {
    const entry = parsePolicyFile(
      file({ 'acme/b': { entries: [{ source: 'acme/apps', kind: 'GROUP' }] } }),
    ).projects['acme/b']!.entries[0]!;
    expect(toAllowlistEntry(entry, 13)).toEqual({
      sourceId: 13,
      sourceKind: 'GROUP',
      sourcePath: 'acme/apps',
      defaultPermissions: false,
      permissions: {},
      protectedRefsOnly: false,
      boundToUserRole: true,
    });
  });
});
