/**
 * Input validation of the management mutations, end to end: every mistake is a BAD_USER_INPUT
 * with a sentence that says what to change, and nothing is written. A source the caller cannot
 * see reads exactly like one that does not exist.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryProfileStore } from '../../src/store/profile-store.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  ADMIN_ID,
  codes,
  ok,
  OPERATIONS,
  roleWorld,
  SOURCE,
  TARGET,
  TARGET_ID,
} from './management-fixtures.js';

const ADD = OPERATIONS.addEntry.query;
const UPDATE = OPERATIONS.updateEntry.query;

let t: TestGateway;
let maintainer: string;

beforeAll(async () => {
  t = await createTestGateway({
    seed: roleWorld(),
    adminUserIds: [ADMIN_ID],
    store: createMemoryProfileStore([], { maxProjectEntries: 2 }),
  });
  maintainer = await t.userToken('mia');
});
afterAll(async () => t.close());
beforeEach(async () => t.store.replaceAll([]));

const add = (input: Record<string, unknown>) =>
  t.gql(ADD, { i: { projectPath: TARGET, ...input } }, { token: maintainer });

async function expectBadInput(input: Record<string, unknown>, message: string | RegExp) {
  const res = await add(input);
  expect(codes(res), res.text).toEqual(['BAD_USER_INPUT']);
  const text = res.body.errors?.[0]?.message ?? '';
  if (typeof message === 'string') expect(text).toBe(message);
  else expect(text).toMatch(message);
}

describe('management input validation', () => {
  it('adds a project entry with the caller as addedBy and a creation time', async () => {
    const res = await t.gql(
      `mutation($i: JobTokenScopeAddEntryInput!) { jobTokenScopeAddEntry(input: $i) {
        entry { source { fullPath kind } permissions { resource level } addedBy createdAt autopopulated }
        jobTokenScope { enforcement version } errors } }`,
      {
        i: {
          projectPath: TARGET,
          sourcePath: SOURCE,
          permissions: [{ resource: 'RELEASES', level: 'READ' }],
        },
      },
      { token: maintainer },
    );
    const data = ok<{
      jobTokenScopeAddEntry: {
        entry: Record<string, unknown>;
        jobTokenScope: { enforcement: string };
      };
    }>(res);
    expect(data.jobTokenScopeAddEntry.entry).toMatchObject({
      source: { fullPath: SOURCE, kind: 'PROJECT' },
      permissions: [{ resource: 'RELEASES', level: 'READ' }],
      addedBy: '94',
      autopopulated: false,
    });
    expect(Date.parse(String(data.jobTokenScopeAddEntry.entry['createdAt']))).not.toBeNaN();
    expect(data.jobTokenScopeAddEntry.jobTokenScope.enforcement).toBe('ENFORCED');
  });

  it('finds a group source from the forge and records it as a GROUP entry', async () => {
    const res = await add({ sourcePath: 'acme', defaultPermissions: true });
    const data = ok<{ jobTokenScopeAddEntry: { entry: { source: { kind: string } } } }>(res);
    expect(data.jobTokenScopeAddEntry.entry.source.kind).toBe('GROUP');
  });

  it('rejects an unknown source path', async () => {
    await expectBadInput(
      { sourcePath: 'acme/nope', defaultPermissions: true },
      'no project or group "acme/nope" was found',
    );
  });

  it('rejects a private source the caller cannot see with the same message as a missing one', async () => {
    await expectBadInput(
      { sourcePath: 'acme/apps/web', defaultPermissions: true },
      'no project or group "acme/apps/web" was found',
    );
  });

  it('rejects a project adding itself', async () => {
    await expectBadInput(
      { sourcePath: TARGET, defaultPermissions: true },
      'a project cannot add itself to its own job token allowlist',
    );
  });

  it('rejects a duplicate entry and points at the update mutation', async () => {
    ok(await add({ sourcePath: SOURCE, defaultPermissions: true }));
    await expectBadInput(
      { sourcePath: SOURCE, defaultPermissions: true },
      /already has an entry .*use jobTokenScopeUpdateEntry$/,
    );
  });

  it('rejects an entry over the entry limit', async () => {
    const admin = await t.userToken('adam');
    const byAdmin = (sourcePath: string) =>
      t.gql(
        ADD,
        { i: { projectPath: TARGET, sourcePath, defaultPermissions: true } },
        { token: admin },
      );
    ok(await byAdmin(SOURCE));
    ok(await byAdmin('acme/apps/web'));
    const res = await byAdmin('acme/apps/api');
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors?.[0]?.message).toBe(
      'a project may have at most 2 project entries; remove unused entries first',
    );
    expect((await t.store.get(TARGET_ID))?.entries).toHaveLength(2);
  });

  it('rejects defaultPermissions together with explicit levels', async () => {
    await expectBadInput(
      {
        sourcePath: SOURCE,
        defaultPermissions: true,
        permissions: [{ resource: 'TAGS', level: 'READ' }],
      },
      /^defaultPermissions: true cannot be combined with explicit permissions/,
    );
  });

  it('rejects boundToUserRole: false with defaultPermissions', async () => {
    await expectBadInput(
      { sourcePath: SOURCE, defaultPermissions: true, boundToUserRole: false },
      /^boundToUserRole: false cannot be combined/,
    );
  });

  it('rejects an unknown resource or level before any resolver runs', async () => {
    const res = await add({
      sourcePath: SOURCE,
      permissions: [{ resource: 'WIKI', level: 'READ' }],
    });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(await t.store.get(TARGET_ID)).toBeUndefined();
  });

  it('rejects a resource named twice', async () => {
    await expectBadInput(
      {
        sourcePath: SOURCE,
        permissions: [
          { resource: 'TAGS', level: 'READ' },
          { resource: 'TAGS', level: 'WRITE' },
        ],
      },
      'permissions names TAGS more than once',
    );
  });

  it('rejects updating a source that has no entry', async () => {
    const res = await t.gql(UPDATE, OPERATIONS.updateEntry.variables, { token: maintainer });
    expect(codes(res)).toEqual(['BAD_USER_INPUT']);
    expect(res.body.errors?.[0]?.message).toBe(
      `${SOURCE} has no entry in the allowlist of ${TARGET}`,
    );
  });

  it('switches an entry from explicit levels to default permissions on update', async () => {
    ok(await add({ sourcePath: SOURCE, permissions: [{ resource: 'TAGS', level: 'READ' }] }));
    ok(
      await t.gql(
        UPDATE,
        { i: { projectPath: TARGET, sourcePath: SOURCE, defaultPermissions: true } },
        { token: maintainer },
      ),
    );
    const entry = (await t.store.get(TARGET_ID))?.entries[0];
    expect(entry).toMatchObject({ defaultPermissions: true, permissions: {} });
  });
});
