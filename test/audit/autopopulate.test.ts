/**
 * The pure rollout planner: the smallest set of entries that keeps every observed use working,
 * at the levels used and no more.
 */
import { describe, expect, it } from 'vitest';
import { planAutopopulate, type ObservedUsage } from '../../src/audit/autopopulate.js';
import type { JobTokenProfile, PermissionMap } from '../../src/policy/types.js';

const TARGET = 101;

function usage(
  id: number,
  path: string,
  ns: number,
  nsPath: string,
  used: PermissionMap,
): ObservedUsage {
  return {
    sourceProjectId: id,
    sourcePath: path,
    sourceNamespaceId: ns,
    sourceNamespacePath: nsPath,
    used,
  };
}

const web = usage(102, 'acme/apps/web', 13, 'acme/apps', { RELEASES: 'READ' });
const api = usage(105, 'acme/apps/api', 13, 'acme/apps', { RELEASES: 'READ' });
const releaser = usage(103, 'acme/platform/tools/releaser', 12, 'acme/platform/tools', {
  RELEASES: 'WRITE',
  TAGS: 'READ',
});
const groups = new Set([12, 13, 14]);

describe('planAutopopulate', () => {
  it('proposes one project entry per source at the highest level it used', () => {
    const plan = planAutopopulate({
      targetProjectId: TARGET,
      usage: [web, releaser, { ...web, used: { RELEASES: 'WRITE', TAGS: 'NONE' } }],
      groupNamespaces: groups,
    });
    expect(plan).toEqual([
      {
        sourceKind: 'PROJECT',
        sourceId: 102,
        sourcePath: 'acme/apps/web',
        permissions: { RELEASES: 'WRITE' },
        coveredSources: ['acme/apps/web'],
      },
      {
        sourceKind: 'PROJECT',
        sourceId: 103,
        sourcePath: 'acme/platform/tools/releaser',
        permissions: { RELEASES: 'WRITE', TAGS: 'READ' },
        coveredSources: ['acme/platform/tools/releaser'],
      },
    ]);
  });

  it('merges siblings that used the same levels into one entry for their group', () => {
    const plan = planAutopopulate({
      targetProjectId: TARGET,
      usage: [web, api],
      groupNamespaces: groups,
    });
    expect(plan).toEqual([
      {
        sourceKind: 'GROUP',
        sourceId: 13,
        sourcePath: 'acme/apps',
        permissions: { RELEASES: 'READ' },
        coveredSources: ['acme/apps/api', 'acme/apps/web'],
      },
    ]);
  });

  it('keeps siblings apart when a group entry would give one of them more than it used', () => {
    const plan = planAutopopulate({
      targetProjectId: TARGET,
      usage: [web, { ...api, used: { RELEASES: 'WRITE' } }],
      groupNamespaces: groups,
    });
    expect(plan.map((p) => [p.sourceKind, p.sourcePath])).toEqual([
      ['PROJECT', 'acme/apps/api'],
      ['PROJECT', 'acme/apps/web'],
    ]);
  });

  it('never proposes a group entry for a user namespace', () => {
    const plan = planAutopopulate({
      targetProjectId: TARGET,
      usage: [web, api],
      groupNamespaces: new Set(),
    });
    expect(plan.map((p) => p.sourceKind)).toEqual(['PROJECT', 'PROJECT']);
  });

  it('leaves sources alone that already have an entry, or whose group has one', () => {
    const profile: JobTokenProfile = {
      projectId: TARGET,
      enforcement: 'AUDIT',
      version: 3,
      entries: [
        {
          sourceId: 13,
          sourceKind: 'GROUP',
          sourcePath: 'acme/apps',
          defaultPermissions: true,
          permissions: {},
          protectedRefsOnly: false,
          boundToUserRole: true,
        },
      ],
    };
    const plan = planAutopopulate({
      targetProjectId: TARGET,
      usage: [web, api, releaser],
      profile,
      groupNamespaces: groups,
    });
    expect(plan.map((p) => p.sourcePath)).toEqual(['acme/platform/tools/releaser']);
  });

  it('ignores the target itself and sources that used nothing', () => {
    const plan = planAutopopulate({
      targetProjectId: TARGET,
      usage: [
        usage(TARGET, 'acme/platform/registry', 11, 'acme/platform', { RELEASES: 'WRITE' }),
        { ...web, used: {} },
      ],
      groupNamespaces: groups,
    });
    expect(plan).toEqual([]);
  });
});
