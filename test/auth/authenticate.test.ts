import { beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator, type Authenticator } from '../../src/auth/authenticate.js';
import { extractToken } from '../../src/auth/extract-token.js';
import { ANONYMOUS } from '../../src/auth/principal.js';
import { createMemoryRevocationList, type RevocationList } from '../../src/auth/revocation.js';
import { createJwtVerifier } from '../../src/auth/verifier.js';
import { createTestIssuer, jobClaims, type TestIssuer } from '../helpers/tokens.js';
import { expectAuthError, rejectionOf } from './assertions.js';

function extractError(headers: Parameters<typeof extractToken>[0]): unknown {
  try {
    extractToken(headers);
  } catch (err) {
    return err;
  }
  throw new Error('expected extractToken to throw');
}

describe('extractToken', () => {
  it('reads a Bearer token from Authorization, with the scheme in any case', () => {
    expect(extractToken({ authorization: 'Bearer abc.def.ghi' })).toBe('abc.def.ghi');
    expect(extractToken({ authorization: 'bearer abc.def.ghi' })).toBe('abc.def.ghi');
    expect(extractToken({ Authorization: 'BEARER   abc.def.ghi ' })).toBe('abc.def.ghi');
  });

  it('reads the JOB-TOKEN header, from node headers and from fetch Headers', () => {
    expect(extractToken({ 'job-token': 'abc.def.ghi' })).toBe('abc.def.ghi');
    expect(extractToken(new Headers({ 'JOB-TOKEN': 'abc.def.ghi' }))).toBe('abc.def.ghi');
    expect(extractToken(new Headers({ Authorization: 'Bearer x.y.z' }))).toBe('x.y.z');
  });

  it('returns undefined when the request carries no token, or an empty header', () => {
    expect(extractToken({})).toBeUndefined();
    expect(extractToken(new Headers())).toBeUndefined();
    expect(extractToken({ 'job-token': '   ' })).toBeUndefined();
  });

  it('accepts both headers when they carry the same token', () => {
    expect(extractToken({ authorization: 'Bearer a.b.c', 'job-token': 'a.b.c' })).toBe('a.b.c');
  });

  it('refuses both headers carrying different tokens as MALFORMED, without echoing them', () => {
    const err = extractError({ authorization: 'Bearer secret.one.x', 'job-token': 'secret.two.y' });
    const gatewayError = expectAuthError(err, 'MALFORMED', 'secret.one.x');
    expect(gatewayError.message).not.toContain('secret.two.y');
  });

  it('refuses another Authorization scheme, or Bearer without a token, as MALFORMED', () => {
    expectAuthError(
      extractError({ authorization: 'Basic dXNlcjpwYXNz' }),
      'MALFORMED',
      'dXNlcjpwYXNz',
    );
    expectAuthError(extractError({ authorization: 'Bearer' }), 'MALFORMED');
    expectAuthError(extractError({ authorization: 'Bearer a.b.c extra' }), 'MALFORMED');
    expectAuthError(extractError({ authorization: 'Token a.b.c' }), 'MALFORMED');
  });

  it('refuses several different values of one header as MALFORMED', () => {
    expectAuthError(extractError({ 'job-token': ['a.b.c', 'd.e.f'] }), 'MALFORMED');
    expectAuthError(extractError({ 'job-token': 'a.b.c, d.e.f' }), 'MALFORMED');
  });
});

describe('createAuthenticator', () => {
  let issuer: TestIssuer;
  let revocations: RevocationList;
  let auth: Authenticator;

  beforeAll(async () => {
    issuer = await createTestIssuer();
    revocations = createMemoryRevocationList();
    auth = createAuthenticator({
      verifier: createJwtVerifier({ issuers: [issuer.options] }),
      revocations,
    });
  });

  it('returns the anonymous principal when the request has no token', async () => {
    expect(await auth.authenticate({})).toBe(ANONYMOUS);
  });

  it('returns the job principal of a valid token from either header', async () => {
    const token = await issuer.signJobToken();
    expect(await auth.authenticate({ authorization: `Bearer ${token}` })).toMatchObject({
      kind: 'job',
    });
    expect(await auth.authenticate(new Headers({ 'job-token': token }))).toMatchObject({
      kind: 'job',
    });
  });

  it('refuses an invalid token instead of falling back to anonymous', async () => {
    const token = await issuer.signJobToken({ aud: 'elsewhere' });
    const err = await rejectionOf(auth.authenticate({ 'job-token': token }));
    expectAuthError(err, 'WRONG_AUDIENCE', token);
  });

  it('refuses a revoked token by jti as REVOKED', async () => {
    const claims = jobClaims();
    const token = await issuer.signJobToken(claims);
    await auth.authenticate({ 'job-token': token });
    await revocations.revokeJti(claims.jti, Date.now() / 1000 + 300);
    expectAuthError(await rejectionOf(auth.authenticate({ 'job-token': token })), 'REVOKED', token);
  });

  it('refuses every token of a finished job as REVOKED', async () => {
    const first = await issuer.signJobToken(jobClaims({ jobId: 555 }));
    const second = await issuer.signJobToken(jobClaims({ jobId: 555 }));
    const otherJob = await issuer.signJobToken(jobClaims({ jobId: 556 }));
    await revocations.revokeJob(555, Date.now() / 1000 + 300);
    expectAuthError(await rejectionOf(auth.authenticate({ 'job-token': first })), 'REVOKED');
    expectAuthError(await rejectionOf(auth.authenticate({ 'job-token': second })), 'REVOKED');
    expect(await auth.authenticate({ 'job-token': otherJob })).toMatchObject({ jobId: 556 });
  });

  it('sets WWW-Authenticate on refusals', async () => {
    const err = expectAuthError(
      await rejectionOf(auth.authenticate({ authorization: 'Bearer not-a-jwt' })),
      'MALFORMED',
    );
    const http = err.extensions['http'] as { headers: Map<string, string> };
    expect(http.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});
