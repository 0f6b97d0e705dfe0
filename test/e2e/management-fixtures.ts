/**
 * Shared pieces of the management end-to-end tests: a world with every role on one public
 * target (`acme/oss-lib`), the GraphQL documents of every management query and mutation,
 * and small assertions.
 */
import { expect } from 'vitest';
import { loadSeedFile, type DemoSeed } from '../../src/demo/seed.js';
import type { ProfileWrite } from '../../src/store/profile-store.js';
import type { GqlResponse } from '../helpers/gateway.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

/** The target every role test manages: public, so anonymous callers and other jobs see it. */
export const TARGET = 'acme/oss-lib';
/** Forge id of {@link TARGET} in the scenario world. */
export const TARGET_ID = 106;
/** An internal project: visible to every signed-in person, a fine source for any caller. */
export const SOURCE = 'globex/shared-ci';
export const SOURCE_ID = 202;
/** The admin's forge user id (listed in `adminUserIds`). */
export const ADMIN_ID = '90';

/** {@link TARGET}'s profile at the start of a test: one entry, {@link SOURCE} reading releases. */
export function startProfile(enforcement: ProfileWrite['enforcement'] = 'AUDIT'): ProfileWrite {
  return {
    projectId: TARGET_ID,
    enforcement,
    entries: [
      {
        sourceId: SOURCE_ID,
        sourceKind: 'PROJECT',
        sourcePath: SOURCE,
        defaultPermissions: false,
        permissions: { RELEASES: 'READ' },
        protectedRefsOnly: false,
        boundToUserRole: true,
      },
    ],
  };
}

/** The scenario world plus one user per role on {@link TARGET} and an admin. */
export function roleWorld(): DemoSeed {
  const seed = loadSeedFile(SCENARIOS_PATH);
  const extra = [
    { id: 91, username: 'gina' },
    { id: 92, username: 'rita' },
    { id: 93, username: 'dave' },
    { id: 94, username: 'mia' },
    { id: 90, username: 'adam' },
  ];
  return {
    ...seed,
    users: [...seed.users, ...extra],
    members: {
      ...seed.members,
      [TARGET]: { ...seed.members[TARGET], gina: 10, rita: 20, dave: 30, mia: 40 },
    },
  };
}

/** Every management query and mutation, with variables for {@link TARGET}. */
export const OPERATIONS = {
  scope: {
    query: `query($p: ID!) { project(fullPath: $p) { jobTokenScope { enforcement entries { source { fullPath kind } } } } }`,
    variables: { p: TARGET },
    needs: 'view',
  },
  authLog: {
    query: `query($p: ID!) { project(fullPath: $p) { jobTokenAuthLog(first: 5) { nodes { lastUsedAt } } } }`,
    variables: { p: TARGET },
    needs: 'view',
  },
  effective: {
    query: `query($s: ID!, $t: ID!) { effectiveJobTokenPermissions(sourcePath: $s, targetPath: $t) { resource level reason } }`,
    variables: { s: SOURCE, t: TARGET },
    needs: 'view',
  },
  compliance: {
    query: `{ jobTokenComplianceReport(first: 5) { nodes { kind } } }`,
    variables: {},
    needs: 'admin',
  },
  addEntry: {
    query: `mutation($i: JobTokenScopeAddEntryInput!) { jobTokenScopeAddEntry(input: $i) { entry { source { fullPath kind } } errors } }`,
    variables: {
      i: {
        projectPath: TARGET,
        sourcePath: 'acme',
        permissions: [{ resource: 'TAGS', level: 'READ' }],
      },
    },
    needs: 'change',
  },
  updateEntry: {
    query: `mutation($i: JobTokenScopeUpdateEntryInput!) { jobTokenScopeUpdateEntry(input: $i) { entry { permissions { resource level } } errors } }`,
    variables: {
      i: {
        projectPath: TARGET,
        sourcePath: SOURCE,
        permissions: [{ resource: 'RELEASES', level: 'WRITE' }],
      },
    },
    needs: 'change',
  },
  removeEntry: {
    query: `mutation($i: JobTokenScopeRemoveEntryInput!) { jobTokenScopeRemoveEntry(input: $i) { errors } }`,
    variables: { i: { projectPath: TARGET, sourcePath: SOURCE } },
    needs: 'change',
  },
  setEnforcement: {
    query: `mutation($i: JobTokenScopeSetEnforcementInput!) { jobTokenScopeSetEnforcement(input: $i) { jobTokenScope { enforcement } errors } }`,
    variables: { i: { projectPath: TARGET, mode: 'ENFORCED' } },
    needs: 'change',
  },
  autopopulatePreview: {
    query: `mutation($i: JobTokenScopeAutopopulateInput!) { jobTokenScopeAutopopulate(input: $i) { applied errors } }`,
    variables: { i: { projectPath: TARGET, preview: true } },
    needs: 'view',
  },
  autopopulateApply: {
    query: `mutation($i: JobTokenScopeAutopopulateInput!) { jobTokenScopeAutopopulate(input: $i) { applied errors } }`,
    variables: { i: { projectPath: TARGET, preview: false } },
    needs: 'change',
  },
} as const;

/** Name of one of {@link OPERATIONS}. */
export type OperationName = keyof typeof OPERATIONS;

/** The `extensions.code` of each error of a response. */
export function codes(res: GqlResponse): string[] {
  return (res.body.errors ?? []).map((e) => String(e.extensions?.code));
}

/** Asserts a response has no errors and returns its data. */
export function ok<T = Record<string, unknown>>(res: GqlResponse): T {
  expect(res.body.errors ?? [], res.text).toEqual([]);
  expect(res.status).toBe(200);
  const data = res.body.data;
  if (data === null || data === undefined) throw new Error(`no data: ${res.text}`);
  return data as T;
}
