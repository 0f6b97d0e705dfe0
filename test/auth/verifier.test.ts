import { beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, base64url, exportSPKI } from 'jose';
import { createJwtVerifier, type JwtVerifier } from '../../src/auth/verifier.js';
import {
  createTestIssuer,
  createTestKey,
  encodeUnsigned,
  jobClaims,
  type TestIssuer,
} from '../helpers/tokens.js';
import { expectRefused } from './assertions.js';

const now = (): number => Math.floor(Date.now() / 1000);

let issuer: TestIssuer;
let other: TestIssuer;
let verifier: JwtVerifier;
let verify: (token: string) => Promise<unknown>;

beforeAll(async () => {
  issuer = await createTestIssuer({ kind: 'any' });
  other = await createTestIssuer({ kind: 'any' });
  verifier = createJwtVerifier({ issuers: [issuer.options, other.options], adminUserIds: ['7'] });
  verify = (token) => verifier.verify(token);
});

/** Replaces the payload of a signed token, keeping its header and signature. */
function withPayload(token: string, payload: unknown): string {
  const [header, , signature] = token.split('.');
  return `${header}.${base64url.encode(JSON.stringify(payload))}.${signature}`;
}

describe('a valid job token', () => {
  it('becomes a job principal with numeric ids and the forge string form of ref_protected', async () => {
    const claims = jobClaims({ projectId: 5, userId: 9, jobId: 77, refProtected: false });
    const principal = await verifier.verify(await issuer.signJobToken(claims));
    expect(principal).toMatchObject({
      kind: 'job',
      issuer: issuer.issuer,
      jti: claims.jti,
      projectId: 5,
      projectPath: 'acme/app',
      namespaceId: 11,
      namespacePath: 'acme',
      userId: 9,
      userLogin: 'alice',
      jobId: 77,
      ref: 'main',
      refType: 'branch',
      refProtected: false,
      pipelineSource: 'push',
      jobPermissions: undefined,
    });
  });

  it('accepts ids sent as JSON numbers and ref_protected sent as a boolean', async () => {
    const token = await issuer.signJobToken({ project_id: 5, job_id: 8, ref_protected: true });
    expect(await verifier.verify(token)).toMatchObject({
      projectId: 5,
      jobId: 8,
      refProtected: true,
    });
  });

  it('maps job_token_permissions to resources and levels', async () => {
    const token = await issuer.signJobToken({
      job_token_permissions: { releases: 'write', tags: 'read', merge_request_notes: 'none' },
    });
    expect(await verifier.verify(token)).toMatchObject({
      jobPermissions: { RELEASES: 'WRITE', TAGS: 'READ', MERGE_REQUEST_NOTES: 'NONE' },
    });
  });

  it('keeps an empty job_token_permissions object as "nothing allowed", not as absent', async () => {
    const token = await issuer.signJobToken({ job_token_permissions: {} });
    expect(await verifier.verify(token)).toMatchObject({ jobPermissions: {} });
  });

  it('accepts a token that expired within the clock tolerance', async () => {
    const token = await issuer.signJobToken({ iat: now() - 100, exp: now() - 10 });
    expect(await verifier.verify(token)).toMatchObject({ kind: 'job' });
  });
});

describe('refusal reasons', () => {
  it('refuses text that is not a JWT as MALFORMED', async () => {
    await expectRefused(verify, 'not-a-jwt', 'MALFORMED');
    await expectRefused(verify, 'a.b', 'MALFORMED');
    await expectRefused(verify, '', 'MALFORMED');
  });

  it('refuses a payload that is not JSON, or JSON that is not an object, as MALFORMED', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'ES256', kid: issuer.kid }));
    await expectRefused(
      verify,
      `${header}.${base64url.encode('not json at all')}.c2ln`,
      'MALFORMED',
    );
    await expectRefused(verify, `${header}.${base64url.encode('[1,2]')}.c2ln`, 'MALFORMED');
  });

  it('refuses an 8 MB token as MALFORMED without parsing it', async () => {
    const huge = await issuer.signJobToken({ padding: 'x'.repeat(8 * 1024 * 1024) });
    await expectRefused(verify, huge, 'MALFORMED');
  });

  it('refuses a token one byte over maxTokenBytes', async () => {
    const token = await issuer.signJobToken();
    const small = createJwtVerifier({ issuers: [issuer.options], maxTokenBytes: token.length - 1 });
    await expectRefused((t) => small.verify(t), token, 'MALFORMED');
    const exact = createJwtVerifier({ issuers: [issuer.options], maxTokenBytes: token.length });
    expect(await exact.verify(token)).toMatchObject({ kind: 'job' });
  });

  it('refuses an issuer that is not configured, or a missing iss, as UNKNOWN_ISSUER', async () => {
    await expectRefused(
      verify,
      await issuer.signJobToken({ iss: 'https://evil.test' }),
      'UNKNOWN_ISSUER',
    );
    await expectRefused(verify, await issuer.signJobToken({ iss: undefined }), 'UNKNOWN_ISSUER');
    await expectRefused(verify, await issuer.signJobToken({ iss: 42 }), 'UNKNOWN_ISSUER');
  });

  it('refuses a tampered payload as BAD_SIGNATURE', async () => {
    const token = await issuer.signJobToken();
    const claims = { ...issuer.registeredClaims(), ...jobClaims({ userId: 1 }) };
    await expectRefused(verify, withPayload(token, claims), 'BAD_SIGNATURE');
  });

  it('refuses a truncated or padded signature as BAD_SIGNATURE', async () => {
    const token = await issuer.signJobToken();
    await expectRefused(verify, token.slice(0, -4), 'BAD_SIGNATURE');
    await expectRefused(verify, `${token}AAAA`, 'BAD_SIGNATURE');
  });

  it('refuses a token signed by a key its kid does not belong to as BAD_SIGNATURE', async () => {
    const attacker = await createTestKey('ES256');
    const payload = { ...issuer.registeredClaims(), ...jobClaims() };
    await expectRefused(verify, await attacker.sign(payload, { kid: issuer.kid }), 'BAD_SIGNATURE');
  });

  it('refuses a kid the issuer does not publish as UNKNOWN_KEY', async () => {
    const payload = { ...issuer.registeredClaims(), ...jobClaims() };
    await expectRefused(verify, await issuer.sign(payload, { kid: 'no-such-key' }), 'UNKNOWN_KEY');
  });

  it('refuses another audience, or none, as WRONG_AUDIENCE', async () => {
    await expectRefused(
      verify,
      await issuer.signJobToken({ aud: 'someone-else' }),
      'WRONG_AUDIENCE',
    );
    await expectRefused(verify, await issuer.signJobToken({ aud: undefined }), 'WRONG_AUDIENCE');
  });

  it('refuses a token past exp and the clock tolerance as TOKEN_EXPIRED', async () => {
    const token = await issuer.signJobToken({ iat: now() - 600, exp: now() - 31 });
    await expectRefused(verify, token, 'TOKEN_EXPIRED');
  });

  it('refuses a token before its nbf as NOT_YET_VALID', async () => {
    await expectRefused(verify, await issuer.signJobToken({ nbf: now() + 120 }), 'NOT_YET_VALID');
  });

  it('refuses a token issued in the future as NOT_YET_VALID, even with a short lifetime', async () => {
    const iat = now() + 365 * 86_400;
    await expectRefused(verify, await issuer.signJobToken({ iat, exp: iat + 60 }), 'NOT_YET_VALID');
  });

  it('refuses exp - iat over maxLifetimeSeconds as LIFETIME_TOO_LONG', async () => {
    const token = await issuer.signJobToken({ iat: now(), exp: now() + 2 * 86_400 });
    await expectRefused(verify, token, 'LIFETIME_TOO_LONG');
    const strict = createJwtVerifier({ issuers: [issuer.options], maxLifetimeSeconds: 60 });
    await expectRefused((t) => strict.verify(t), await issuer.signJobToken(), 'LIFETIME_TOO_LONG');
  });

  it('refuses a token without exp or iat as INVALID_CLAIMS, naming the claim', async () => {
    const noExp = await expectRefused(
      verify,
      await issuer.signJobToken({ exp: undefined }),
      'INVALID_CLAIMS',
    );
    expect(noExp.message).toContain('"exp"');
    const noIat = await expectRefused(
      verify,
      await issuer.signJobToken({ iat: undefined }),
      'INVALID_CLAIMS',
    );
    expect(noIat.message).toContain('"iat"');
  });

  it('refuses a string where a numeric date belongs as INVALID_CLAIMS', async () => {
    const token = await issuer.signJobToken({ exp: String(now() + 60) });
    await expectRefused(verify, token, 'INVALID_CLAIMS');
  });
});

describe('classic JWT attacks', () => {
  it('refuses alg "none" as ALGORITHM_NOT_ALLOWED', async () => {
    const payload = { ...issuer.registeredClaims(), ...jobClaims() };
    await expectRefused(verify, encodeUnsigned(payload), 'ALGORITHM_NOT_ALLOWED');
    await expectRefused(verify, encodeUnsigned(payload, { alg: 'NONE' }), 'ALGORITHM_NOT_ALLOWED');
  });

  it('refuses HS256 signed with the issuer public key as the HMAC secret', async () => {
    const rsa = await createTestIssuer({ alg: 'RS256' });
    const rsaVerifier = createJwtVerifier({ issuers: [rsa.options] });
    const payload = { ...rsa.registeredClaims(), ...jobClaims() };
    for (const secret of [await exportSPKI(rsa.key.publicKey), JSON.stringify(rsa.key.publicJwk)]) {
      const forged = await new SignJWT(payload)
        .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
        .sign(new TextEncoder().encode(secret));
      await expectRefused((t) => rsaVerifier.verify(t), forged, 'ALGORITHM_NOT_ALLOWED');
    }
  });

  it('refuses an algorithm outside the issuer allowlist', async () => {
    const narrow = createJwtVerifier({ issuers: [{ ...issuer.options, algorithms: ['RS256'] }] });
    await expectRefused(
      (t) => narrow.verify(t),
      await issuer.signJobToken(),
      'ALGORITHM_NOT_ALLOWED',
    );
  });

  it('ignores an embedded jwk header: the configured keys still decide', async () => {
    const attacker = await createTestKey('ES256');
    const payload = { ...issuer.registeredClaims(), ...jobClaims() };
    const ownKid = await attacker.sign(payload, { jwk: attacker.publicJwk });
    await expectRefused(verify, ownKid, 'UNKNOWN_KEY');
    const stolenKid = await attacker.sign(payload, { jwk: attacker.publicJwk, kid: issuer.kid });
    await expectRefused(verify, stolenKid, 'BAD_SIGNATURE');
  });

  it('ignores jku and x5u headers pointing elsewhere', async () => {
    const attacker = await createTestKey('ES256');
    const payload = { ...issuer.registeredClaims(), ...jobClaims() };
    const header = {
      jku: 'http://127.0.0.1:9/jwks',
      x5u: 'http://127.0.0.1:9/cert',
      kid: issuer.kid,
    };
    await expectRefused(verify, await attacker.sign(payload, header), 'BAD_SIGNATURE');
  });

  it('refuses a token of a second issuer replayed with the first issuer iss', async () => {
    const payload = { ...issuer.registeredClaims(), ...jobClaims() };
    await expectRefused(verify, await other.sign(payload), 'UNKNOWN_KEY');
    await expectRefused(verify, await other.sign(payload, { kid: issuer.kid }), 'BAD_SIGNATURE');
  });

  it('refuses an unknown critical header as MALFORMED', async () => {
    const payload = { ...issuer.registeredClaims(), ...jobClaims() };
    // jose will not sign an unknown crit, so sign by hand (ES256 = raw r||s over the input).
    const input = [
      { alg: 'ES256', kid: issuer.kid, crit: ['x-custom'], 'x-custom': 1 },
      payload,
    ].map((part) => base64url.encode(JSON.stringify(part)));
    const signature = await crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      issuer.privateKey,
      new TextEncoder().encode(input.join('.')),
    );
    const token = `${input.join('.')}.${base64url.encode(new Uint8Array(signature))}`;
    await expectRefused(verify, token, 'MALFORMED');
  });
});

describe('job claims are parsed strictly', () => {
  const invalid: [string, Record<string, unknown>][] = [
    ['a non-numeric project_id', { project_id: 'abc' }],
    ['a negative project_id', { project_id: -1 }],
    ['a negative project_id string', { project_id: '-1' }],
    ['a fractional user_id', { user_id: '1.5' }],
    ['an object as job_id', { job_id: { id: 1 } }],
    ['an array as pipeline_id', { pipeline_id: [1] }],
    ['a number as project_path', { project_path: 12 }],
    ['a number as ref', { ref: 1 }],
    ['ref_protected "yes"', { ref_protected: 'yes' }],
    ['a missing jti', { jti: undefined }],
    ['a missing namespace_id', { namespace_id: undefined }],
  ];
  for (const [what, overrides] of invalid) {
    it(`refuses ${what} as INVALID_CLAIMS`, async () => {
      const err = await expectRefused(
        verify,
        await issuer.signJobToken(overrides),
        'INVALID_CLAIMS',
      );
      const claim = Object.keys(overrides)[0] as string;
      expect(err.message).toContain(`"${claim}"`);
    });
  }

  it('refuses an unknown job_token_permissions key without echoing it', async () => {
    const token = await issuer.signJobToken({ job_token_permissions: { 'evil-key': 'read' } });
    const err = await expectRefused(verify, token, 'INVALID_CLAIMS');
    expect(err.message).toContain('unknown key');
    expect(err.message).not.toContain('evil-key');
  });

  it('refuses an unknown job_token_permissions value, naming the key but not the value', async () => {
    const token = await issuer.signJobToken({ job_token_permissions: { releases: 'admin-ish' } });
    const err = await expectRefused(verify, token, 'INVALID_CLAIMS');
    expect(err.message).toContain('job_token_permissions.releases');
    expect(err.message).not.toContain('admin-ish');
  });

  it('refuses job_token_permissions that is not an object, or uses upper-case levels', async () => {
    await expectRefused(
      verify,
      await issuer.signJobToken({ job_token_permissions: 'write' }),
      'INVALID_CLAIMS',
    );
    await expectRefused(
      verify,
      await issuer.signJobToken({ job_token_permissions: ['releases'] }),
      'INVALID_CLAIMS',
    );
    await expectRefused(
      verify,
      await issuer.signJobToken({ job_token_permissions: { releases: 'WRITE' } }),
      'INVALID_CLAIMS',
    );
  });
});

describe('issuer kinds', () => {
  it('treats an any-issuer token with job_id and project_id as a job token', async () => {
    expect(await verifier.verify(await issuer.signJobToken())).toMatchObject({ kind: 'job' });
  });

  it('treats an any-issuer token without job_id as a user token', async () => {
    const token = await issuer.signUserToken(42, { project_id: '101' });
    expect(await verifier.verify(token)).toMatchObject({ kind: 'user', userId: 42 });
  });

  it('makes a user token from a user issuer a user even when it carries job claims', async () => {
    const idp = await createTestIssuer({ kind: 'user' });
    const v = createJwtVerifier({ issuers: [idp.options] });
    const token = await idp.signUserToken(42, { ...jobClaims(), sub: '42' });
    expect(await v.verify(token)).toMatchObject({ kind: 'user', userId: 42, isAdmin: false });
  });

  it('refuses a user-shaped token from a job issuer as INVALID_CLAIMS', async () => {
    const ci = await createTestIssuer({ kind: 'job' });
    const v = createJwtVerifier({ issuers: [ci.options] });
    await expectRefused((t) => v.verify(t), await ci.signUserToken(42), 'INVALID_CLAIMS');
    expect(await v.verify(await ci.signJobToken())).toMatchObject({ kind: 'job' });
  });

  it('marks a user listed in adminUserIds as admin and reads preferred_username', async () => {
    expect(await verifier.verify(await issuer.signUserToken(7))).toMatchObject({
      kind: 'user',
      userId: 7,
      username: 'user7',
      isAdmin: true,
    });
  });

  it('refuses a user token whose sub is not a forge user id', async () => {
    await expectRefused(verify, await issuer.signUserToken('alice'), 'INVALID_CLAIMS');
    await expectRefused(verify, await issuer.signUserToken('42', { sub: 42 }), 'INVALID_CLAIMS');
  });
});
