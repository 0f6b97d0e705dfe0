/**
 * Finds the bearer token of a request (DESIGN.md section 3): `Authorization: Bearer <jwt>` or
 * `JOB-TOKEN: <jwt>`. Works with fetch-style `Headers` (and Apollo's `HeaderMap`) and with
 * node's `IncomingHttpHeaders`.
 */
import { unauthenticatedError, type GatewayError } from '../errors/codes.js';

const malformed = (message: string): GatewayError => unauthenticatedError('MALFORMED', message);

/** Request headers in either of the shapes the server layer has at hand. */
export type HeaderSource =
  { get(name: string): string | null | undefined } | Record<string, string | string[] | undefined>;

function hasGet(
  headers: HeaderSource,
): headers is { get(name: string): string | null | undefined } {
  return typeof (headers as { get?: unknown }).get === 'function';
}

/** Every value of header `name` (case-insensitive), trimmed, empty ones dropped. */
function valuesOf(headers: HeaderSource, name: string): string[] {
  const raw: (string | null | undefined)[] = [];
  if (hasGet(headers)) {
    raw.push(headers.get(name));
  } else {
    for (const [key, value] of Object.entries(headers)) {
      if (key.toLowerCase() !== name) continue;
      if (Array.isArray(value)) raw.push(...value);
      else raw.push(value);
    }
  }
  return raw
    .filter((v): v is string => typeof v === 'string')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** The one value of header `name`, or `undefined`; several different values are MALFORMED. */
function singleValue(headers: HeaderSource, name: string): string | undefined {
  const values = new Set(valuesOf(headers, name));
  if (values.size > 1) throw malformed(`the request carries several different ${name} headers`);
  return values.values().next().value;
}

const BEARER = /^bearer[ \t]+(\S+)$/i;

/**
 * Returns the token the request carries, or `undefined` when it carries none (the anonymous
 * principal). Throws the `MALFORMED` 401 when `Authorization` uses another scheme than
 * `Bearer` (scheme matched case-insensitively) or has no token, or when both headers are
 * present with different tokens. An empty header counts as absent.
 */
export function extractToken(headers: HeaderSource): string | undefined {
  const authorization = singleValue(headers, 'authorization');
  const jobToken = singleValue(headers, 'job-token');
  let bearer: string | undefined;
  if (authorization !== undefined) {
    const match = BEARER.exec(authorization);
    if (match === null) {
      throw malformed('the Authorization header must use the Bearer scheme: "Bearer <token>"');
    }
    bearer = match[1];
  }
  if (jobToken !== undefined && /\s/.test(jobToken)) {
    throw malformed('the JOB-TOKEN header must hold exactly one token');
  }
  if (bearer !== undefined && jobToken !== undefined && bearer !== jobToken) {
    throw malformed('the Authorization and JOB-TOKEN headers carry different tokens');
  }
  return bearer ?? jobToken;
}
