/**
 * The verifier's cache of verified tokens: a token seen again skips the signature check, but
 * never past its `exp`, its TTL or a refetch of its issuer's keys; refusals are never
 * remembered; revocation still applies on every request. A hit is observable as the very same
 * (frozen) principal object coming back; a fresh verification builds a new one.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAuthenticator } from '../../src/auth/authenticate.js';
import { createMemoryRevocationList } from '../../src/auth/revocation.js';
import { createJwtVerifier, type JwtVerifierOptions } from '../../src/auth/verifier.js';
import { createTestIssuer, jobClaims, type TestIssuer } from '../helpers/tokens.js';
import { expectAuthError, expectRefused, rejectionOf } from './assertions.js';

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await createTestIssuer({ kind: 'job' });
});

afterEach(() => {
  vi.useRealTimers();
});

const verifierWith = (opts: Partial<JwtVerifierOptions> = {}) =>
  createJwtVerifier({ issuers: [issuer.options], ...opts });

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Fakes only the clock (jose and the cache both read `Date.now`); timers stay real. */
function fakeClock(): { advance(ms: number): void } {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  return { advance: (ms) => vi.setSystemTime(Date.now() + ms) };
}

describe('verified-token cache', () => {
  it('answers a token seen before with the same frozen principal, without verifying again', async () => {
    const v = verifierWith();
    const token = await issuer.signJobToken({
      job_token_permissions: { releases: 'read' },
    });
    const first = await v.verify(token);
    const second = await v.verify(token);
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first.kind === 'job' && Object.isFrozen(first.jobPermissions)).toBe(true);
    // A shared principal cannot be changed by one request for the next.
    expect(() => {
      (first as { projectId: number }).projectId = 1;
    }).toThrow(TypeError);
    // Another token is another entry.
    const other = await v.verify(await issuer.signJobToken(jobClaims({ jobId: 901 })));
    expect(other).not.toBe(first);
  });

  it('verifies every time when tokenCacheSize is 0', async () => {
    const v = verifierWith({ tokenCacheSize: 0 });
    const token = await issuer.signJobToken();
    expect(await v.verify(token)).not.toBe(await v.verify(token));
    expect(v.cacheStats?.()).toBeUndefined();
  });

  it('counts hits, full verifications (refusals included) and entries for the metrics', async () => {
    const v = verifierWith();
    const token = await issuer.signJobToken();
    await v.verify(token);
    await v.verify(token);
    await v.verify(token);
    await expectRefused((t) => v.verify(t), `${token.slice(0, -4)}AAAA`, 'BAD_SIGNATURE');
    expect(v.cacheStats?.()).toEqual({ hits: 2, misses: 2, entries: 1 });
  });

  it('forgets a token after tokenCacheTtlMs, then verifies it again', async () => {
    const clock = fakeClock();
    const v = verifierWith({ tokenCacheTtlMs: 1_000 });
    const token = await issuer.signJobToken();
    const first = await v.verify(token);
    clock.advance(900);
    expect(await v.verify(token)).toBe(first);
    clock.advance(200);
    const again = await v.verify(token);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });

  it('never answers from the cache past exp: the token is checked again, and refused after the tolerance', async () => {
    const clock = fakeClock();
    const v = verifierWith({ clockToleranceSeconds: 30 });
    const iat = nowSeconds();
    const token = await issuer.signJobToken({ iat, exp: iat + 5 });
    const first = await v.verify(token);
    expect(await v.verify(token)).toBe(first);
    clock.advance(6_000); // past exp, within the tolerance: jose still accepts it
    expect(await v.verify(token)).not.toBe(first);
    clock.advance(30_000);
    await expectRefused((t) => v.verify(t), token, 'TOKEN_EXPIRED');
  });

  it('does not remember refusals: a token issued in the future is accepted once its time comes', async () => {
    const clock = fakeClock();
    const v = verifierWith({ clockToleranceSeconds: 30 });
    const iat = nowSeconds() + 120;
    const token = await issuer.signJobToken({ iat, exp: iat + 300 });
    await expectRefused((t) => v.verify(t), token, 'NOT_YET_VALID');
    clock.advance(120_000);
    expect(await v.verify(token)).toMatchObject({ kind: 'job' });
  });

  it('does not let a cached token hide a tampered copy of it', async () => {
    const v = verifierWith();
    const token = await issuer.signJobToken();
    await v.verify(token);
    const [h, p, s] = token.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'AB' : 'AA'}`;
    await expectRefused((t) => v.verify(t), flipped, 'BAD_SIGNATURE');
  });

  it('holds at most tokenCacheSize tokens, dropping the least recently used', async () => {
    const v = verifierWith({ tokenCacheSize: 2 });
    const tokens = await Promise.all(
      [1, 2, 3].map((jobId) => issuer.signJobToken(jobClaims({ jobId }))),
    );
    const [t1, t2, t3] = tokens as [string, string, string];
    const p1 = await v.verify(t1);
    const p2 = await v.verify(t2);
    const p3 = await v.verify(t3); // drops t1
    expect(await v.verify(t3)).toBe(p3);
    expect(await v.verify(t2)).toBe(p2);
    expect(await v.verify(t1)).not.toBe(p1);
  });

  it('refuses a cached token as REVOKED once it is revoked: revocation is checked per request', async () => {
    const revocations = createMemoryRevocationList();
    const auth = createAuthenticator({ verifier: verifierWith(), revocations });
    const claims = jobClaims({ jobId: 4242 });
    const token = await issuer.signJobToken(claims);
    const headers = { authorization: `Bearer ${token}` };
    const first = await auth.authenticate(headers);
    expect(await auth.authenticate(headers)).toBe(first);
    await revocations.revokeJob(4242, nowSeconds() + 300);
    expectAuthError(await rejectionOf(auth.authenticate(headers)), 'REVOKED', token);
  });

  it('refuses bad cache settings, naming them', () => {
    expect(() => verifierWith({ tokenCacheSize: -1 })).toThrow(/tokenCacheSize/);
    expect(() => verifierWith({ tokenCacheSize: 1.5 })).toThrow(/tokenCacheSize/);
    expect(() => verifierWith({ tokenCacheTtlMs: 0 })).toThrow(/tokenCacheTtlMs/);
  });
});
