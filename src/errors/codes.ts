/**
 * The one enum of request-time error codes and one factory per code.
 *
 * Every error a client can see is built here, so `extensions.code` and the HTTP status always
 * agree. Anything that was not built here is masked as `INTERNAL_SERVER_ERROR` by the server's
 * error formatter (see `src/server/mask-errors.ts`). Messages must never carry a token, a claim
 * set, a secret, an upstream URL or an upstream credential.
 */
import { GraphQLError } from 'graphql';
import type { JobTokenAccessLevel, JobTokenResource, ReasonCode } from '../policy/types.js';

/** Codes carried in `extensions.code` of every error scopegate produces. */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  UPSTREAM_ERROR: 'UPSTREAM_ERROR',
  POLICY_UNAVAILABLE: 'POLICY_UNAVAILABLE',
  RATE_LIMITED: 'RATE_LIMITED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
/** One of {@link ErrorCode}'s values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Why a token was refused; carried in `extensions.reason` of `UNAUTHENTICATED` errors. */
export type AuthFailureReason =
  | 'MALFORMED'
  | 'BAD_SIGNATURE'
  | 'UNKNOWN_ISSUER'
  | 'UNKNOWN_KEY'
  | 'WRONG_AUDIENCE'
  | 'TOKEN_EXPIRED'
  | 'NOT_YET_VALID'
  | 'LIFETIME_TOO_LONG'
  | 'ALGORITHM_NOT_ALLOWED'
  | 'INVALID_CLAIMS'
  | 'REVOKED'
  | 'KEYS_UNAVAILABLE';

/** Marker for errors built by this module, so the masking formatter can tell them apart. */
export class GatewayError extends GraphQLError {
  override readonly name = 'GatewayError';
}

function make(
  code: ErrorCode,
  message: string,
  status: number,
  extra: Record<string, unknown> = {},
  headers?: Record<string, string>,
): GatewayError {
  const http: { status: number; headers?: Map<string, string> } = { status };
  if (headers) http.headers = new Map(Object.entries(headers));
  return new GatewayError(message, { extensions: { code, ...extra, http } });
}

/** 401: no valid token. Sets `WWW-Authenticate` as RFC 6750 asks. */
export function unauthenticatedError(reason: AuthFailureReason, message: string): GatewayError {
  const err = reason === 'KEYS_UNAVAILABLE' ? 'temporarily_unavailable' : 'invalid_token';
  return make(
    ErrorCode.UNAUTHENTICATED,
    message,
    401,
    { reason },
    {
      'www-authenticate': `Bearer realm="scopegate", error="${err}"`,
    },
  );
}

/** Details of a job token permission denial. */
export interface ForbiddenDetails {
  resource: JobTokenResource;
  requiredLevel: JobTokenAccessLevel;
  grantedLevel: JobTokenAccessLevel;
  reason: ReasonCode;
}

/** A permission check denied the field. HTTP status stays 200 (partial data) unless nothing resolved. */
export function forbiddenError(message: string, details?: ForbiddenDetails): GatewayError {
  return make(ErrorCode.FORBIDDEN, message, 200, details ? { ...details } : {});
}

/** A management action the caller's role does not allow (no permission details). */
export function forbiddenActionError(message: string): GatewayError {
  return make(ErrorCode.FORBIDDEN, message, 200);
}

/** Something the caller named does not exist or is not visible to them (same message either way). */
export function notFoundError(message: string): GatewayError {
  return make(ErrorCode.NOT_FOUND, message, 200);
}

/** Invalid input, including the upstream's own 400/422 validation message. */
export function badUserInputError(
  message: string,
  extra: Record<string, unknown> = {},
): GatewayError {
  return make(ErrorCode.BAD_USER_INPUT, message, 200, extra);
}

/** The upstream could not be reached, timed out, or its circuit is open. */
export function upstreamUnavailableError(
  message = 'the forge API is unavailable; try again later',
): GatewayError {
  return make(ErrorCode.UPSTREAM_UNAVAILABLE, message, 200);
}

/** The upstream answered with something unusable (5xx, malformed body, unexpected status). */
export function upstreamError(
  message = 'the forge API returned an unexpected response',
): GatewayError {
  return make(ErrorCode.UPSTREAM_ERROR, message, 200);
}

/** A decision could not be made because the policy store or cache is unreachable: fail closed. */
export function policyUnavailableError(
  message = 'permissions cannot be checked right now; the request was not allowed',
): GatewayError {
  return make(ErrorCode.POLICY_UNAVAILABLE, message, 503);
}

/** A rate limit was hit; `retryAfterSeconds` goes into the `Retry-After` header. */
export function rateLimitedError(retryAfterSeconds: number): GatewayError {
  return make(
    ErrorCode.RATE_LIMITED,
    `rate limit exceeded; retry after ${retryAfterSeconds} s`,
    429,
    { retryAfter: retryAfterSeconds },
    { 'retry-after': String(retryAfterSeconds) },
  );
}

/** The masked form of anything unexpected: no message detail, no stack. */
export function internalError(): GatewayError {
  return make(ErrorCode.INTERNAL_SERVER_ERROR, 'internal server error', 500);
}
