/**
 * The one place jose's errors become scopegate errors (CONVENTIONS.md: "jose errors are
 * translated in exactly one function that switches on `err.code`").
 *
 * Every message is a fixed sentence: it never carries the token, its claims, a key or the JWKS
 * URL, whatever jose's own message said.
 */
import { errors } from 'jose';
import {
  unauthenticatedError,
  type AuthFailureReason,
  type GatewayError,
} from '../errors/codes.js';

/** The fixed message of each failure reason. */
export const AUTH_FAILURE_MESSAGES: Readonly<Record<AuthFailureReason, string>> = Object.freeze({
  MALFORMED: 'the token is not a well-formed JWT',
  BAD_SIGNATURE: 'the token signature could not be verified',
  UNKNOWN_ISSUER: 'the token was issued by an issuer this gateway does not trust',
  UNKNOWN_KEY: 'the token was signed with a key its issuer does not publish',
  WRONG_AUDIENCE: 'the token was not issued for this gateway (audience mismatch)',
  TOKEN_EXPIRED: 'the token has expired',
  NOT_YET_VALID: 'the token is not valid yet',
  LIFETIME_TOO_LONG: 'the token lifetime (exp - iat) exceeds the allowed maximum',
  ALGORITHM_NOT_ALLOWED: 'the token signing algorithm is not allowed for its issuer',
  INVALID_CLAIMS: 'the token claims are invalid',
  REVOKED: 'the token has been revoked',
  KEYS_UNAVAILABLE: "the issuer's signing keys cannot be fetched right now; try again later",
});

/**
 * Registered claim names that may be named in an `INVALID_CLAIMS` message. jose reports the
 * claim that failed; only names from this fixed list are echoed, never anything token-supplied.
 */
const NAMEABLE_CLAIMS: ReadonlySet<string> = new Set(['exp', 'iat', 'nbf', 'jti', 'sub', 'typ']);

/** Builds the 401 error for `reason` with its fixed message. */
export function authFailure(reason: AuthFailureReason, detail?: string): GatewayError {
  const base = AUTH_FAILURE_MESSAGES[reason];
  return unauthenticatedError(reason, detail === undefined ? base : `${base}: ${detail}`);
}

function codeOf(err: unknown): string | undefined {
  if (err instanceof errors.JOSEError) return err.code;
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const { code } = err as { code: unknown };
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * Maps anything thrown while verifying a token with jose to the 401 `GatewayError` for it.
 * Unknown errors (including plain `TypeError`s from key import, such as an RSA key that is too
 * short) become `BAD_SIGNATURE`: the token could not be verified, and a client-triggerable
 * failure must never turn into a 500.
 */
export function translateJoseError(err: unknown): GatewayError {
  switch (codeOf(err)) {
    case 'ERR_JWT_EXPIRED':
      return authFailure('TOKEN_EXPIRED');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return authFailure('BAD_SIGNATURE');
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return authFailure('UNKNOWN_KEY');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return authFailure('ALGORITHM_NOT_ALLOWED');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = err instanceof errors.JWTClaimValidationFailed ? err.claim : undefined;
      switch (claim) {
        case 'aud':
          return authFailure('WRONG_AUDIENCE');
        case 'iss':
          return authFailure('UNKNOWN_ISSUER');
        case 'nbf':
          return authFailure('NOT_YET_VALID');
        default:
          return authFailure(
            'INVALID_CLAIMS',
            claim !== undefined && NAMEABLE_CLAIMS.has(claim)
              ? `"${claim}" is missing or invalid`
              : undefined,
          );
      }
    }
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_SCOPEGATE_KEYS_UNAVAILABLE':
    case 'ERR_JWKS_INVALID':
    case 'ERR_JWK_INVALID':
      return authFailure('KEYS_UNAVAILABLE');
    // ERR_JOSE_NOT_SUPPORTED is raised for an unrecognised `crit` header and the like: the
    // algorithm allowlist has refused unknown algorithms before, so it is a token we cannot read.
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return authFailure('MALFORMED');
    default:
      return authFailure('BAD_SIGNATURE');
  }
}
