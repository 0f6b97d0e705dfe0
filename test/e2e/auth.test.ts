/**
 * Authentication over real HTTP (DESIGN.md section 3): which headers carry a token, what an
 * anonymous caller reaches, and that every refusal is a clean 401 with `WWW-Authenticate` whose
 * body never echoes the token or its claims.
 */
import { exportSPKI, SignJWT, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthFailureReason } from '../../src/errors/codes.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import {
  createTestIssuer,
  createTestKey,
  encodeUnsigned,
  type ClaimOverrides,
  type TestIssuer,
} from '../helpers/tokens.js';

const OWN_PERMISSIONS = `query Own($path: ID!) {
  project(fullPath: $path) { jobTokenPermissions { resource level reason } }
}`;
const PUBLIC_AND_PRIVATE = `{
  pub: project(fullPath: "acme/oss-lib") { fullPath releases { nodes { name } } }
  priv: project(fullPath: "acme/apps/web") { fullPath }
}`;

interface OwnPermissions {
  project: { jobTokenPermissions: { resource: string; level: string; reason: string }[] } | null;
}

let t: TestGateway;
/** A second, user-kind issuer: its tokens are people whatever claims they carry. */
let userIssuer: TestIssuer;
/** An RS256 issuer, for the HS256-signed-with-the-public-key attack. */
let rsaIssuer: TestIssuer;

beforeAll(async () => {
  userIssuer = await createTestIssuer({ kind: 'user' });
  rsaIssuer = await createTestIssuer({ alg: 'RS256' });
  t = await createTestGateway({ extraIssuers: [userIssuer.options, rsaIssuer.options] });
});
afterAll(async () => t.close());

/** A job token's claims for a job of acme/apps/web (project 102) run by alice (user 1). */
function webJobClaims(issuer: TestIssuer, overrides: ClaimOverrides = {}): ClaimOverrides {
  return {
    ...issuer.registeredClaims(),
    project_id: '102',
    project_path: 'acme/apps/web',
    namespace_id: '13',
    namespace_path: 'acme/apps',
    user_id: '1',
    user_login: 'alice',
    jti: `jti-${crypto.randomUUID()}`,
    sub: 'project_path:acme/apps/web:ref_type:branch:ref:main',
    pipeline_id: '424242',
    pipeline_source: 'push',
    job_id: '777001',
    ref: 'main',
    ref_type: 'branch',
    ref_protected: 'true',
    ...overrides,
  };
}

/** Every claim value that must never come back in a refusal (the audience is our own name). */
function claimValues(token: string): string[] {
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(token);
  } catch {
    return [];
  }
  const values: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === 'string' || typeof v === 'number') values.push(String(v));
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(visit);
  };
  for (const [name, value] of Object.entries(payload)) if (name !== 'aud') visit(value);
  return values.filter((v) => v.length >= 4);
}

/** Asserts the 401 for `reason`, with its challenge, leaking neither the token nor its claims. */
function expectRefusal(res: GqlResponse, reason: AuthFailureReason, token: string): void {
  expect(res.status).toBe(401);
  expect(res.body.data).toBeUndefined();
  expect(res.body.errors).toHaveLength(1);
  expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reason });
  expect(res.headers.get('www-authenticate')).toBe(
    'Bearer realm="scopegate", error="invalid_token"',
  );
  expect(res.text).not.toContain(token);
  for (const segment of token.split('.')) {
    if (segment.length >= 8) expect(res.text).not.toContain(segment);
  }
  for (const value of claimValues(token)) expect(res.text).not.toContain(value);
}

describe('a request without a token', () => {
  it('is anonymous: it reads public projects and sees private ones as null', async () => {
    const res = await t.gql<{ pub: { releases: { nodes: unknown[] } } | null; priv: unknown }>(
      PUBLIC_AND_PRIVATE,
    );
    expect(res.status).toBe(200);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.pub?.releases.nodes.length).toBeGreaterThan(0);
    expect(res.body.data?.priv).toBeNull();
  });

  it('cannot write even to a public project, and the upstream is not called', async () => {
    t.upstream.clearRequests();
    const res = await t.gql(
      'mutation { releaseCreate(input: { projectPath: "acme/oss-lib", tagName: "v9.0.0", ref: "main" }) { errors } }',
    );
    expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(t.upstream.writes()).toEqual([]);
  });

  it('treats empty Authorization and JOB-TOKEN headers as no token', async () => {
    const res = await t.gql<{ priv: unknown }>(PUBLIC_AND_PRIVATE, undefined, {
      headers: { authorization: '', 'job-token': '' },
    });
    expect(res.status).toBe(200);
    expect(res.body.data?.priv).toBeNull();
  });
});

describe('accepted headers', () => {
  it('accepts a job token in Authorization: Bearer', async () => {
    const token = await t.jobToken('acme/apps/web', 'alice');
    const res = await t.gql<OwnPermissions>(OWN_PERMISSIONS, { path: 'acme/apps/web' }, { token });
    expect(res.status).toBe(200);
    expect(res.body.data?.project?.jobTokenPermissions[0]?.reason).toBe('SAME_PROJECT');
  });

  it('accepts a job token in the JOB-TOKEN header', async () => {
    const token = await t.jobToken('acme/apps/web', 'alice');
    const res = await t.gql<OwnPermissions>(
      OWN_PERMISSIONS,
      { path: 'acme/apps/web' },
      { headers: { 'JOB-TOKEN': token } },
    );
    expect(res.status).toBe(200);
    expect(res.body.data?.project?.jobTokenPermissions[0]?.reason).toBe('SAME_PROJECT');
  });

  it('accepts the Bearer scheme in any letter case', async () => {
    const token = await t.jobToken('acme/apps/web', 'alice');
    const res = await t.gql<OwnPermissions>(
      OWN_PERMISSIONS,
      { path: 'acme/apps/web' },
      { headers: { authorization: `bEaReR ${token}` } },
    );
    expect(res.status).toBe(200);
    expect(res.body.data?.project?.jobTokenPermissions[0]?.reason).toBe('SAME_PROJECT');
  });
});

describe('refused tokens', () => {
  const now = (): number => Math.floor(Date.now() / 1000);

  /** A token builder and the reason it must be refused with. */
  const cases: [string, AuthFailureReason, () => Promise<string>][] = [
    [
      'an expired token',
      'TOKEN_EXPIRED',
      () => t.issuer.sign(webJobClaims(t.issuer, { iat: now() - 900, exp: now() - 300 })),
    ],
    [
      'a token signed by another key under the issuer kid',
      'BAD_SIGNATURE',
      async () =>
        (await createTestKey('ES256')).sign(webJobClaims(t.issuer), { kid: t.issuer.kid }),
    ],
    [
      'a token whose payload was altered after signing',
      'BAD_SIGNATURE',
      async () => {
        const [header, , signature] = (await t.issuer.sign(webJobClaims(t.issuer))).split('.');
        const payload = Buffer.from(
          JSON.stringify(webJobClaims(t.issuer, { project_path: 'acme/platform/registry' })),
        ).toString('base64url');
        return `${header}.${payload}.${signature}`;
      },
    ],
    [
      'a token from an issuer the gateway does not trust',
      'UNKNOWN_ISSUER',
      async () => (await createTestIssuer()).signJobToken(),
    ],
    [
      'a token issued for another audience',
      'WRONG_AUDIENCE',
      () => t.issuer.sign(webJobClaims(t.issuer, { aud: 'another-service' })),
    ],
    [
      'a token whose lifetime exceeds the maximum',
      'LIFETIME_TOO_LONG',
      () => t.issuer.sign(webJobClaims(t.issuer, { iat: now(), exp: now() + 2 * 86_400 })),
    ],
    ['a token that is not a JWT', 'MALFORMED', () => Promise.resolve('not-a-jwt-at-all')],
    [
      'a token with alg "none"',
      'ALGORITHM_NOT_ALLOWED',
      () => Promise.resolve(encodeUnsigned(webJobClaims(t.issuer))),
    ],
    [
      'an HS256 token keyed with the issuer RSA public key',
      'ALGORITHM_NOT_ALLOWED',
      async () =>
        new SignJWT(webJobClaims(rsaIssuer))
          .setProtectedHeader({ alg: 'HS256', kid: rsaIssuer.kid })
          .sign(new TextEncoder().encode(await exportSPKI(rsaIssuer.key.publicKey))),
    ],
    [
      'a token naming a kid the issuer does not publish',
      'UNKNOWN_KEY',
      () => t.issuer.sign(webJobClaims(t.issuer), { kid: 'no-such-key' }),
    ],
    [
      'a job_token_permissions claim with an unknown key',
      'INVALID_CLAIMS',
      () =>
        t.issuer.sign(
          webJobClaims(t.issuer, {
            job_token_permissions: { releases: 'read', secret_vault_zz: 'write' },
          }),
        ),
    ],
  ];

  it.each(cases)('refuses %s with 401 %s and leaks nothing of it', async (_, reason, build) => {
    const token = await build();
    expectRefusal(await t.gql(PUBLIC_AND_PRIVATE, undefined, { token }), reason, token);
  });

  it('refuses a bad token in the JOB-TOKEN header the same way', async () => {
    const token = await t.issuer.sign(webJobClaims(t.issuer, { aud: 'another-service' }));
    const res = await t.gql(PUBLIC_AND_PRIVATE, undefined, { headers: { 'job-token': token } });
    expectRefusal(res, 'WRONG_AUDIENCE', token);
  });

  it('never names the unknown job_token_permissions key in the refusal', async () => {
    const token = await t.issuer.sign(
      webJobClaims(t.issuer, { job_token_permissions: { deploy_everything: 'write' } }),
    );
    const res = await t.gql(PUBLIC_AND_PRIVATE, undefined, { token });
    expectRefusal(res, 'INVALID_CLAIMS', token);
    expect(res.text).not.toContain('deploy_everything');
    expect(res.body.errors?.[0]?.message).toContain('unknown key');
  });

  it('refuses an Authorization header with another scheme as MALFORMED', async () => {
    const token = await t.jobToken('acme/apps/web', 'alice');
    const res = await t.gql(PUBLIC_AND_PRIVATE, undefined, {
      headers: { authorization: `Basic ${token}` },
    });
    expectRefusal(res, 'MALFORMED', token);
  });

  it('refuses different tokens in Authorization and JOB-TOKEN as MALFORMED', async () => {
    const first = await t.jobToken('acme/apps/web', 'alice');
    const second = await t.jobToken('acme/apps/web', 'bob');
    const res = await t.gql(PUBLIC_AND_PRIVATE, undefined, {
      token: first,
      headers: { 'job-token': second },
    });
    expectRefusal(res, 'MALFORMED', first);
    expectRefusal(res, 'MALFORMED', second);
  });

  it('refuses an 8 MB token before reading it and keeps serving', async () => {
    const huge = 'a'.repeat(8 * 1024 * 1024);
    // Node's HTTP parser answers 431 once the headers pass its limit, before the gateway runs.
    const res = await fetch(t.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${huge}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    await res.arrayBuffer();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const after = await t.gql<{ pub: unknown }>(PUBLIC_AND_PRIVATE);
    expect(after.status).toBe(200);
    expect(after.body.data?.pub).not.toBeNull();
  });
});

describe('what a token is', () => {
  it("treats a user-kind issuer's token carrying job claims as a person, not a job", async () => {
    const token = await userIssuer.sign(webJobClaims(userIssuer, { sub: '1' }));
    const res = await t.gql<OwnPermissions>(OWN_PERMISSIONS, { path: 'acme/apps/web' }, { token });
    expect(res.status).toBe(200);
    const reasons = res.body.data?.project?.jobTokenPermissions.map((p) => p.reason);
    expect(reasons).toEqual(['USER_ROLE', 'USER_ROLE', 'USER_ROLE', 'USER_ROLE']);
  });

  it('takes the triggering user from user_id, never from user_login', async () => {
    // mallory (not a member of acme/apps/web) claiming alice's login gets nothing ...
    const spoofed = await t.jobToken('acme/apps/web', 'mallory', { userLogin: 'alice' });
    const denied = await t.gql<OwnPermissions>(
      OWN_PERMISSIONS,
      { path: 'acme/apps/web' },
      { token: spoofed },
    );
    expect(denied.body.data?.project?.jobTokenPermissions).toEqual(
      ['RELEASES', 'TAGS', 'CONTAINERS', 'MERGE_REQUEST_NOTES'].map((resource) => ({
        resource,
        level: 'NONE',
        reason: 'ROLE_TOO_LOW',
      })),
    );
    // ... while alice (a Developer) keeps her level whatever login the token shows.
    const relabelled = await t.jobToken('acme/apps/web', 'alice', { userLogin: 'mallory' });
    const allowed = await t.gql<OwnPermissions>(
      OWN_PERMISSIONS,
      { path: 'acme/apps/web' },
      { token: relabelled },
    );
    expect(allowed.body.data?.project?.jobTokenPermissions[0]).toEqual({
      resource: 'RELEASES',
      level: 'WRITE',
      reason: 'SAME_PROJECT',
    });
  });
});
