/**
 * The role matrix of the management API (DESIGN.md section 2, last paragraph), end to end over
 * HTTP: Guest, Reporter, Developer, Maintainer, Owner, admin, job token and anonymous against
 * every management query and mutation. Developer+ views, Maintainer+ changes, admins do
 * everything (and alone read the compliance report); a job token and an anonymous caller are
 * always FORBIDDEN.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';
import {
  ADMIN_ID,
  codes,
  OPERATIONS,
  roleWorld,
  startProfile,
  TARGET_ID,
  type OperationName,
} from './management-fixtures.js';

type Caller =
  'guest' | 'reporter' | 'developer' | 'maintainer' | 'owner' | 'admin' | 'job' | 'anonymous';

/** The highest management action each caller may take. */
const MAY: Record<Caller, 'nothing' | 'view' | 'change' | 'admin'> = {
  guest: 'nothing',
  reporter: 'nothing',
  developer: 'view',
  maintainer: 'change',
  owner: 'change',
  admin: 'admin',
  job: 'nothing',
  anonymous: 'nothing',
};
const RANK = { nothing: 0, view: 1, change: 2, admin: 3 } as const;

const START = startProfile();

let t: TestGateway;
const tokens = new Map<Caller, string | undefined>();

beforeAll(async () => {
  t = await createTestGateway({ seed: roleWorld(), adminUserIds: [ADMIN_ID] });
  tokens.set('guest', await t.userToken('gina'));
  tokens.set('reporter', await t.userToken('rita'));
  tokens.set('developer', await t.userToken('dave'));
  tokens.set('maintainer', await t.userToken('mia'));
  tokens.set('owner', await t.userToken('carol'));
  tokens.set('admin', await t.userToken('adam'));
  // A Maintainer's job in the target itself: it sees the project, and still may not manage it.
  tokens.set('job', await t.jobToken('acme/oss-lib', 'carol'));
  tokens.set('anonymous', undefined);
});
afterAll(async () => t.close());
beforeEach(async () => t.store.replaceAll([START]));

const callers = Object.keys(MAY) as Caller[];
const operations = Object.keys(OPERATIONS) as OperationName[];
const rows = callers.flatMap((caller) => operations.map((op) => ({ caller, op })));

describe('management role matrix', () => {
  it.each(rows)(
    '$caller calling $op is allowed only with the role it needs',
    async ({ caller, op }) => {
      const { query, variables, needs } = OPERATIONS[op];
      const token = tokens.get(caller);
      const res = await t.gql(query, variables, token ? { token } : {});
      expect(res.status).toBe(200);
      if (RANK[MAY[caller]] >= RANK[needs]) {
        expect(res.body.errors ?? [], res.text).toEqual([]);
      } else {
        expect(codes(res), res.text).toEqual(['FORBIDDEN']);
      }
    },
  );

  it('tells a Reporter which role viewing needs and what they are', async () => {
    const token = tokens.get('reporter');
    const res = await t.gql(
      OPERATIONS.scope.query,
      OPERATIONS.scope.variables,
      token ? { token } : {},
    );
    expect(res.body.errors?.[0]?.message).toBe(
      'viewing the job token permissions of acme/oss-lib needs the Developer role or higher; you are a Reporter there',
    );
  });

  it('tells a job token to use a person’s sign-in instead', async () => {
    const token = tokens.get('job');
    const res = await t.gql(
      OPERATIONS.setEnforcement.query,
      OPERATIONS.setEnforcement.variables,
      token ? { token } : {},
    );
    expect(res.body.errors?.[0]?.message).toMatch(
      /^job tokens cannot view or change job token permissions/,
    );
    expect((await t.store.get(TARGET_ID))?.enforcement).toBe('AUDIT');
  });
});
