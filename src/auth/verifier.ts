/**
 * Verifies a bearer JWT against the configured issuers and turns it into a principal
 * (DESIGN.md section 3).
 *
 * Order matters for safety: size first (an oversized token is refused without parsing), then
 * the unverified `iss` only to choose an issuer, then jose verifies with THAT issuer's keys,
 * algorithms and audience only, so a token from one issuer can never be checked against another
 * issuer's keys. Claims are parsed only after the signature and times hold.
 *
 * A token that verified is remembered (by its SHA-256, never the token itself) with its frozen
 * principal, so a job calling the gateway again with the same token skips the signature check:
 * until the earliest of its `exp`, `tokenCacheTtlMs` and the key sets' `jwksCacheMaxAgeMs` (so a
 * key removed from a JWKS stops being trusted within one more key-set age at most). Refusals are
 * never remembered, and revocation is checked by the authenticator on every request.
 */
import { createHash } from 'node:crypto';
import { decodeJwt, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import type { JobTokenPrincipal, UserPrincipal } from './principal.js';
import { resolveIssuers, type IssuerOptions, type ResolvedIssuerOptions } from './issuers.js';
import { looksLikeJobToken, parseJobTokenClaims, parseUserClaims } from './claims.js';
import { authFailure, translateJoseError } from './translate-jose-error.js';
import { UnreachableCaseError } from '../errors/unreachable.js';

/** Options of {@link createJwtVerifier}; every default lives in {@link VERIFIER_DEFAULTS}. */
export interface JwtVerifierOptions {
  /** Trusted issuers; at least one, each `issuer` unique. */
  issuers: IssuerOptions[];
  /** Forge user ids (the `sub` of user tokens) that are instance admins. Default none. */
  adminUserIds?: readonly string[];
  /** Allowed clock skew for `exp`, `nbf` and `iat`, in seconds. Default 30. */
  clockToleranceSeconds?: number;
  /** Longest accepted token lifetime, `exp - iat`, in seconds. Default 86400 (one day). */
  maxLifetimeSeconds?: number;
  /** Minimum time between JWKS fetches triggered by an unknown `kid`, in ms. Default 30 000. */
  jwksCooldownMs?: number;
  /** Age after which a remote JWKS is refetched before use, in ms. Default 600 000. */
  jwksCacheMaxAgeMs?: number;
  /** Timeout of one JWKS fetch, in ms. Default 5 000. */
  jwksTimeoutMs?: number;
  /** Largest accepted token, in bytes; larger ones are refused unparsed. Default 16 384. */
  maxTokenBytes?: number;
  /** Verified tokens remembered (LRU); 0 verifies every request's token. Default 10 000. */
  tokenCacheSize?: number;
  /** Longest a verified token is remembered before it is verified again, in ms. Default 60 000. */
  tokenCacheTtlMs?: number;
}

/** Defaults of {@link JwtVerifierOptions}. */
export const VERIFIER_DEFAULTS = Object.freeze({
  clockToleranceSeconds: 30,
  maxLifetimeSeconds: 86_400,
  jwksCooldownMs: 30_000,
  jwksCacheMaxAgeMs: 600_000,
  jwksTimeoutMs: 5_000,
  maxTokenBytes: 16_384,
  tokenCacheSize: 10_000,
  tokenCacheTtlMs: 60_000,
});

/** Counts of the verified-token cache since the verifier was created. */
export interface TokenCacheStats {
  /** Tokens answered from the cache. */
  readonly hits: number;
  /** Tokens verified in full while the cache is on (refused ones included). */
  readonly misses: number;
  /** Tokens held now. */
  readonly entries: number;
}

/** Verifies tokens; see {@link createJwtVerifier}. */
export interface JwtVerifier {
  /**
   * Verifies `token` and returns its principal. Throws the 401 `GatewayError` built by
   * `unauthenticatedError` (with `extensions.reason`) when the token is refused.
   */
  verify(token: string): Promise<JobTokenPrincipal | UserPrincipal>;
  /** The verified-token cache's counts; `undefined` when the cache is off. */
  cacheStats?(): TokenCacheStats | undefined;
}

const REQUIRED_CLAIMS = ['iss', 'aud', 'exp', 'iat'];

type VerifiedPrincipal = JobTokenPrincipal | UserPrincipal;

/**
 * A remembered verification: the principal, until when (ms since the epoch) it holds, and the
 * issuer's key-set generation it was verified under (a refetch since then voids it).
 */
interface VerifiedToken {
  readonly principal: VerifiedPrincipal;
  readonly until: number;
  readonly issuer: ResolvedIssuerOptions;
  readonly generation: number;
}

/** Shared by every request that presents the token, so nothing may change it. */
function freezePrincipal(p: VerifiedPrincipal): VerifiedPrincipal {
  if (p.kind === 'job' && p.jobPermissions) Object.freeze(p.jobPermissions);
  return Object.freeze(p);
}

/** The cache key of a token: its SHA-256, so the cache never holds a usable token. */
const tokenDigest = (token: string): string =>
  createHash('sha256').update(token).digest('base64url');

function nonNegative(value: number | undefined, fallback: number, option: string): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new Error(`${option} must be a non-negative number`);
  }
  return v;
}

function positiveInteger(value: number | undefined, fallback: number, option: string): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${option} must be a positive integer`);
  return v;
}

/**
 * Creates a verifier for the configured issuers. Validates the options and reads `jwksFile`s
 * synchronously; throws an `Error` naming the option on a bad configuration.
 */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier {
  const d = VERIFIER_DEFAULTS;
  const clockTolerance = nonNegative(
    options.clockToleranceSeconds,
    d.clockToleranceSeconds,
    'clockToleranceSeconds',
  );
  const maxLifetime = positiveInteger(
    options.maxLifetimeSeconds,
    d.maxLifetimeSeconds,
    'maxLifetimeSeconds',
  );
  const maxTokenBytes = positiveInteger(options.maxTokenBytes, d.maxTokenBytes, 'maxTokenBytes');
  const cacheMaxAgeMs = nonNegative(
    options.jwksCacheMaxAgeMs,
    d.jwksCacheMaxAgeMs,
    'jwksCacheMaxAgeMs',
  );
  const issuers = resolveIssuers(options.issuers, {
    cooldownMs: nonNegative(options.jwksCooldownMs, d.jwksCooldownMs, 'jwksCooldownMs'),
    cacheMaxAgeMs,
    timeoutMs: positiveInteger(options.jwksTimeoutMs, d.jwksTimeoutMs, 'jwksTimeoutMs'),
  });
  const cacheSize = nonNegative(options.tokenCacheSize, d.tokenCacheSize, 'tokenCacheSize');
  if (!Number.isSafeInteger(cacheSize)) throw new Error('tokenCacheSize must be an integer');
  const cacheTtlMs = Math.min(
    positiveInteger(options.tokenCacheTtlMs, d.tokenCacheTtlMs, 'tokenCacheTtlMs'),
    cacheMaxAgeMs,
  );
  // Entries carry their own deadline (checked against Date.now, the clock jose checks `exp`
  // with); the LRU only bounds how many there are.
  const verified =
    cacheSize > 0 && cacheTtlMs > 0
      ? new LRUCache<string, VerifiedToken>({ max: cacheSize })
      : undefined;
  const adminUserIds = Object.freeze([...(options.adminUserIds ?? [])]);

  /** Picks the issuer by the unverified `iss`; nothing else of the payload is trusted yet. */
  function selectIssuer(token: string): ResolvedIssuerOptions {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw authFailure('MALFORMED');
    }
    const issuer = typeof iss === 'string' ? issuers.get(iss) : undefined;
    if (issuer === undefined) throw authFailure('UNKNOWN_ISSUER');
    return issuer;
  }

  async function verifySignatureAndTimes(
    token: string,
    issuer: ResolvedIssuerOptions,
  ): Promise<Record<string, unknown>> {
    try {
      const { payload } = await jwtVerify(token, issuer.getKey, {
        issuer: issuer.issuer,
        audience: [...issuer.audience],
        algorithms: [...issuer.algorithms],
        clockTolerance,
        requiredClaims: REQUIRED_CLAIMS,
      });
      return payload;
    } catch (err) {
      throw translateJoseError(err);
    }
  }

  async function verifyFully(
    token: string,
    issuer: ResolvedIssuerOptions,
  ): Promise<VerifiedPrincipal> {
    const payload = await verifySignatureAndTimes(token, issuer);

    // jose has checked that exp and iat are numbers. It only checks that iat is not in the
    // future when maxTokenAge is set, so do it here: otherwise a token issued "next year"
    // with a short exp - iat would pass the lifetime check and stay valid for a year.
    const exp = payload['exp'] as number;
    const iat = payload['iat'] as number;
    if (iat > Date.now() / 1000 + clockTolerance) throw authFailure('NOT_YET_VALID');
    if (exp - iat > maxLifetime) throw authFailure('LIFETIME_TOO_LONG');

    switch (issuer.kind) {
      case 'job':
        return parseJobTokenClaims(payload, issuer.issuer);
      case 'user':
        return parseUserClaims(payload, issuer.issuer, adminUserIds);
      case 'any':
        return looksLikeJobToken(payload)
          ? parseJobTokenClaims(payload, issuer.issuer)
          : parseUserClaims(payload, issuer.issuer, adminUserIds);
      default:
        throw new UnreachableCaseError(issuer.kind);
    }
  }

  let hits = 0;
  let misses = 0;
  return {
    cacheStats: () => (verified ? { hits, misses, entries: verified.size } : undefined),
    async verify(token: string): Promise<VerifiedPrincipal> {
      // Compare the length first: it bounds the byte length from below, so an 8 MB token is
      // refused without even counting its bytes.
      if (
        typeof token !== 'string' ||
        token.length > maxTokenBytes ||
        Buffer.byteLength(token, 'utf8') > maxTokenBytes
      ) {
        throw authFailure('MALFORMED');
      }
      if (!verified) return verifyFully(token, selectIssuer(token));
      const key = tokenDigest(token);
      const hit = verified.get(key);
      if (hit && hit.until > Date.now() && hit.generation === hit.issuer.keySetGeneration()) {
        hits += 1;
        return hit.principal;
      }
      misses += 1;
      const issuer = selectIssuer(token);
      // Read before verifying: a key-set refetch that starts meanwhile voids this entry.
      const generation = issuer.keySetGeneration();
      const principal = freezePrincipal(await verifyFully(token, issuer));
      // Never past `exp` (without the clock tolerance jose allows): an expired token is always
      // checked again, and refused.
      const until = Math.min(principal.expiresAt * 1000, Date.now() + cacheTtlMs);
      if (until > Date.now()) verified.set(key, { principal, until, issuer, generation });
      return principal;
    },
  };
}
