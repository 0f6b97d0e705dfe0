/**
 * `effectiveJobTokenPermissions` for frontends, and the authorization log's promise that
 * recording never costs a request: end to end over HTTP with the in-memory store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAuthLog,
  createMemoryAuthLogBackend,
  type AuthLog,
} from '../../src/audit/auth-log.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import { codes, ok } from './management-fixtures.js';

const TARGET = 'acme/platform/registry';
const EFFECTIVE = `query($s: ID!, $t: ID!, $u: ID, $p: Boolean) {
  effectiveJobTokenPermissions(sourcePath: $s, targetPath: $t, userId: $u, refProtected: $p) {
    resource level reason explanation auditWouldDeny } }`;

interface Row {
  resource: string;
  level: string;
  reason: string;
  explanation: string;
}

let t: TestGateway;
let authLog: AuthLog;

beforeAll(async () => {
  authLog = createAuthLog({
    backend: createMemoryAuthLogBackend(),
    bufferSize: 1,
    flushIntervalMs: 0,
  });
  t = await createTestGateway({
    gateway: { management: { authLog } },
    policy: {
      version: 1,
      projects: {
        [TARGET]: {
          enforcement: 'ENFORCED',
          entries: [{ source: 'acme/apps', kind: 'GROUP', defaultPermissions: true }],
        },
      },
    },
  });
});
afterAll(async () => {
  await t.close();
  await authLog.close();
});

const ask = async (username: string, vars: Record<string, unknown>) =>
  t.gql(EFFECTIVE, { t: TARGET, ...vars }, { token: await t.userToken(username) });

describe('effectiveJobTokenPermissions', () => {
  it('explains a group entry with default permissions in a sentence, for the caller by default', async () => {
    const rows = ok<{ effectiveJobTokenPermissions: Row[] }>(
      await ask('alice', { s: 'acme/apps/web' }),
    ).effectiveJobTokenPermissions;
    expect(rows.find((r) => r.resource === 'RELEASES')).toEqual({
      resource: 'RELEASES',
      level: 'WRITE',
      reason: 'DEFAULT_PERMISSIONS',
      auditWouldDeny: false,
      explanation:
        'acme/apps/web is allowed by the group entry acme/apps with default permissions; alice is a Developer in acme/platform/registry',
    });
  });

  it('computes the permissions of another user when userId is given', async () => {
    const rows = ok<{ effectiveJobTokenPermissions: Row[] }>(
      await ask('alice', { s: 'acme/apps/web', u: '2' }),
    ).effectiveJobTokenPermissions;
    expect(rows.find((r) => r.resource === 'RELEASES')).toMatchObject({
      level: 'READ',
      reason: 'ROLE_TOO_LOW',
    });
  });

  it('says NOT_IN_ALLOWLIST for a source the allowlist does not name', async () => {
    const rows = ok<{ effectiveJobTokenPermissions: Row[] }>(
      await ask('alice', { s: 'acme/bots/remediator' }),
    ).effectiveJobTokenPermissions;
    expect(new Set(rows.map((r) => r.reason))).toEqual(new Set(['NOT_IN_ALLOWLIST']));
  });

  it('answers a private source the caller cannot see exactly like a missing one', async () => {
    const hidden = await ask('alice', { s: 'globex/portal' });
    const missing = await ask('alice', { s: 'globex/nothing-here' });
    expect(codes(hidden)).toEqual(['NOT_FOUND']);
    expect(hidden.body.errors?.[0]?.message).toBe(missing.body.errors?.[0]?.message);
    expect(hidden.body.data).toBeNull();
  });

  it('answers a private target the caller cannot see exactly like a missing one', async () => {
    const hidden = await ask('mallory', { s: 'globex/portal' });
    const missing = await t.gql(
      EFFECTIVE,
      { s: 'globex/portal', t: 'acme/none/here' },
      { token: await t.userToken('mallory') },
    );
    expect(codes(hidden)).toEqual(['NOT_FOUND']);
    expect(hidden.body.errors?.[0]?.message).toBe(missing.body.errors?.[0]?.message);
  });

  it('refuses a Reporter of the target', async () => {
    expect(codes(await ask('bob', { s: 'acme/apps/web' }))).toEqual(['FORBIDDEN']);
  });
});

describe('authorization log under pressure', () => {
  it('drops usage events when its buffer is full, never the requests', async () => {
    const token = await t.jobToken('acme/apps/web', 'alice');
    const query = `{ project(fullPath: "${TARGET}") { releases { nodes { tagName } } tags { nodes { name } } } }`;
    const results = await Promise.all(
      Array.from({ length: 10 }, () => t.gql(query, {}, { token })),
    );
    for (const res of results) ok(res);
    // Room for one group: the ten requests' checks of the first (target, resource) join it;
    // the other resource's would open a second group, and drop.
    expect(authLog.stats()).toMatchObject({ buffered: 10, bufferedGroups: 1, dropped: 10 });
  });
});
