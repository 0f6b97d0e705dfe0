/**
 * Trusted token issuers (DESIGN.md section 3): what each one is, where its keys come from, and
 * which algorithms it may use. Parsed once when the verifier is created; a bad issuer
 * configuration throws there, naming the option, so a half-configured gateway never starts.
 */
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTVerifyGetKey,
} from 'jose';

/**
 * What a configured issuer's tokens are: `job` (CI job tokens), `user` (the identity provider's
 * tokens for people) or `any` (a token carrying both `job_id` and `project_id` is a job token,
 * any other is a user token).
 */
export type IssuerKind = 'job' | 'user' | 'any';

/** One trusted issuer, as configured (`SCOPEGATE_ISSUERS` entries, or the dev signer). */
export interface IssuerOptions {
  /** Exact `iss` value of this issuer's tokens. Must be unique among the configured issuers. */
  issuer: string;
  /** What this issuer's tokens are (see {@link IssuerKind}). */
  kind: IssuerKind;
  /** Accepted `aud` value(s); a token must name at least one of them. */
  audience: string | string[];
  /** HTTP(S) URL of the issuer's JWKS; refetched on an unknown `kid` and when the cache ages out. */
  jwksUri?: string;
  /** Path of a local JWKS file, read once when the verifier is created. */
  jwksFile?: string;
  /** An in-memory JWKS (used for the dev signing key). */
  jwks?: JSONWebKeySet;
  /**
   * Accepted `alg` values. Default: every asymmetric JWS algorithm
   * ({@link DEFAULT_ALGORITHMS}). `none` and HMAC (`HS*`) are refused at start-up: an issuer
   * with published public keys must never accept a shared-secret signature.
   */
  algorithms?: string[];
}

/** Asymmetric JWS algorithms accepted when an issuer does not narrow them. */
export const DEFAULT_ALGORITHMS: readonly string[] = Object.freeze([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
]);

/** Timing of remote key sets, in milliseconds (jose's `RemoteJWKSetOptions`). */
export interface KeySetTiming {
  /** Minimum time between two fetches triggered by an unknown `kid`. */
  cooldownMs: number;
  /** Age after which cached keys are refetched before use; a removed key stops verifying then. */
  cacheMaxAgeMs: number;
  /** Timeout of one JWKS fetch. */
  timeoutMs: number;
}

/** An issuer in the normalised form the verifier uses. */
export interface ResolvedIssuerOptions {
  readonly issuer: string;
  readonly kind: IssuerKind;
  readonly audience: readonly string[];
  readonly algorithms: readonly string[];
  /** Resolves the verification key for a token of this issuer only. */
  readonly getKey: JWTVerifyGetKey;
  /**
   * Counts the fetches of a remote key set (always 0 for a local one): a verification
   * remembered under an older count may rest on a key the issuer has since removed.
   */
  readonly keySetGeneration: () => number;
}

const LOCAL_GENERATION = (): number => 0;

/**
 * Thrown by a remote key set when its keys could not be fetched (network error, timeout, non-200,
 * not a JWKS). Carries a `code` so the one jose error translator can switch on it like on jose's
 * own errors. Its message never names the JWKS URL.
 */
export class KeySetUnavailableError extends Error {
  /** Stable code, switched on by `translateJoseError`. */
  readonly code = 'ERR_SCOPEGATE_KEYS_UNAVAILABLE';
  override readonly name = 'KeySetUnavailableError';
  constructor(options?: { cause?: unknown }) {
    super('the JSON Web Key Set could not be fetched', options);
  }
}

/** jose errors a key resolver raises about the token itself rather than about fetching keys. */
const TOKEN_KEY_ERRORS: ReadonlySet<string> = new Set([
  errors.JWKSNoMatchingKey.code,
  errors.JWKSMultipleMatchingKeys.code,
  errors.JOSENotSupported.code,
]);

/** Whether a value has the shape of a JWKS (`{ keys: [object, ...] }`). */
function isJwks(value: unknown): value is JSONWebKeySet {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys: unknown = (value as { keys?: unknown }).keys;
  return (
    Array.isArray(keys) &&
    keys.every((k: unknown) => typeof k === 'object' && k !== null && !Array.isArray(k))
  );
}

/** A local key set, or a config error naming `where` if `jwks` is not a valid JWKS. */
function localKeySet(jwks: unknown, where: string): JWTVerifyGetKey {
  if (!isJwks(jwks)) throw new Error(`${where} is not a JSON Web Key Set ({ "keys": [...] })`);
  try {
    return createLocalJWKSet(jwks);
  } catch {
    throw new Error(`${where} is not a valid JSON Web Key Set`);
  }
}

function readJwksFile(path: string, option: string): JWTVerifyGetKey {
  const where = `${option} "${path}"`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`${where} cannot be read`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${where} is not valid JSON`);
  }
  return localKeySet(parsed, where);
}

function remoteKeySet(
  uri: string,
  option: string,
  timing: KeySetTiming,
): { getKey: JWTVerifyGetKey; generation: () => number } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`${option} must be an https or http URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`${option} must be an https or http URL`);
  }
  let fetches = 0;
  const remote = createRemoteJWKSet(url, {
    cooldownDuration: timing.cooldownMs,
    cacheMaxAge: timing.cacheMaxAgeMs,
    timeoutDuration: timing.timeoutMs,
    // Counted when the fetch starts, so a verification that began before it is never taken
    // for one that used the new keys.
    [customFetch]: (input: string, init: RequestInit) => {
      fetches += 1;
      return fetch(input, init);
    },
  });
  // Fetch failures surface from jose as TimeoutError, a bare fetch TypeError or a generic
  // JOSEError; tag them all as one error the translator maps to KEYS_UNAVAILABLE, and let the
  // errors that are about the token (no key for its kid/alg) through unchanged.
  const getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JOSEError && TOKEN_KEY_ERRORS.has(err.code)) throw err;
      throw new KeySetUnavailableError({ cause: err });
    }
  };
  return { getKey, generation: () => fetches };
}

function parseAlgorithms(value: unknown, option: string): readonly string[] {
  if (value === undefined) return DEFAULT_ALGORITHMS;
  if (!Array.isArray(value) || value.length === 0) {
    throw new Error(`${option} must be a non-empty array of algorithm names`);
  }
  for (const alg of value as unknown[]) {
    if (typeof alg !== 'string' || !DEFAULT_ALGORITHMS.includes(alg)) {
      throw new Error(
        `${option} may only contain asymmetric algorithms (${DEFAULT_ALGORITHMS.join(', ')})`,
      );
    }
  }
  return Object.freeze([...(value as string[])]);
}

function parseAudience(value: unknown, option: string): readonly string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    !list.every((a: unknown) => typeof a === 'string' && a.length > 0)
  ) {
    throw new Error(`${option} must be a non-empty string or array of strings`);
  }
  return Object.freeze([...(list as string[])]);
}

/**
 * Validates one issuer and builds its key resolver. `option` names the setting in error
 * messages (e.g. `issuers[0]`). Reads `jwksFile` synchronously, once.
 */
export function resolveIssuer(
  options: IssuerOptions,
  timing: KeySetTiming,
  option: string,
): ResolvedIssuerOptions {
  if (typeof options.issuer !== 'string' || options.issuer.length === 0) {
    throw new Error(`${option}.issuer must be a non-empty string`);
  }
  if (options.kind !== 'job' && options.kind !== 'user' && options.kind !== 'any') {
    throw new Error(`${option}.kind must be "job", "user" or "any"`);
  }
  const sources = [options.jwksUri, options.jwksFile, options.jwks].filter((s) => s !== undefined);
  if (sources.length !== 1) {
    throw new Error(`${option} must set exactly one of jwksUri, jwksFile or jwks`);
  }
  let getKey: JWTVerifyGetKey;
  let keySetGeneration = LOCAL_GENERATION;
  if (options.jwksUri !== undefined) {
    ({ getKey, generation: keySetGeneration } = remoteKeySet(
      options.jwksUri,
      `${option}.jwksUri`,
      timing,
    ));
  } else if (options.jwksFile !== undefined) {
    getKey = readJwksFile(options.jwksFile, `${option}.jwksFile`);
  } else {
    getKey = localKeySet(options.jwks, `${option}.jwks`);
  }
  return Object.freeze({
    issuer: options.issuer,
    kind: options.kind,
    audience: parseAudience(options.audience, `${option}.audience`),
    algorithms: parseAlgorithms(options.algorithms, `${option}.algorithms`),
    getKey,
    keySetGeneration,
  });
}

/** Resolves every issuer, refusing an empty list and duplicate `issuer` values. */
export function resolveIssuers(
  issuers: readonly IssuerOptions[],
  timing: KeySetTiming,
): ReadonlyMap<string, ResolvedIssuerOptions> {
  if (!Array.isArray(issuers) || issuers.length === 0) {
    throw new Error('issuers must configure at least one trusted issuer');
  }
  const byIssuer = new Map<string, ResolvedIssuerOptions>();
  issuers.forEach((options, i) => {
    const resolved = resolveIssuer(options, timing, `issuers[${i}]`);
    if (byIssuer.has(resolved.issuer)) {
      throw new Error(`issuers[${i}].issuer "${resolved.issuer}" is configured twice`);
    }
    byIssuer.set(resolved.issuer, resolved);
  });
  return byIssuer;
}
