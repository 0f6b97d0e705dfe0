/**
 * Token builders for tests: an issuer with a freshly generated key, job and user tokens with
 * sensible default claims, and raw signing for attack tests. Built on jose's `SignJWT`; nothing
 * here is a literal token.
 */
import { randomInt, randomUUID } from 'node:crypto';
import {
  SignJWT,
  base64url,
  exportJWK,
  generateKeyPair,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import type { JobTokenClaims, JobTokenPermissionsClaim } from '../../src/auth/claims.js';
import type { IssuerKind, IssuerOptions } from '../../src/auth/issuers.js';

/** Asymmetric algorithms a test key can use. */
export type TestAlg = 'ES256' | 'ES384' | 'RS256' | 'PS256' | 'EdDSA';

/** A claims object where `undefined` means "leave this claim out". */
export type ClaimOverrides = Partial<JobTokenClaims> | { readonly [claim: string]: unknown };

/** A generated key pair with its public JWK (carrying `kid`, `alg`, `use`). */
export interface TestKey {
  readonly alg: TestAlg;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
  /** Signs `payload` exactly as given; the header defaults to `{ alg, kid, typ: 'JWT' }`. */
  sign(payload: ClaimOverrides, headerOverrides?: Partial<JWTHeaderParameters>): Promise<string>;
}

/** Generates a key pair for `alg`. */
export async function createTestKey(alg: TestAlg = 'ES256', kid?: string): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const id = kid ?? `test-${randomUUID()}`;
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: id, alg, use: 'sig' };
  return {
    alg,
    kid: id,
    privateKey,
    publicKey,
    publicJwk,
    sign: (payload, headerOverrides = {}) =>
      new SignJWT(withoutUndefined(payload) as JWTPayload)
        .setProtectedHeader({ alg, kid: id, typ: 'JWT', ...headerOverrides })
        .sign(privateKey),
  };
}

/** Copies `claims` without the keys whose value is `undefined`. */
export function withoutUndefined(claims: ClaimOverrides): ClaimOverrides {
  return Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
}

/** Friendly inputs of {@link jobClaims}. */
export interface JobClaimsInput {
  projectId?: number;
  projectPath?: string;
  namespaceId?: number;
  namespacePath?: string;
  userId?: number;
  userLogin?: string;
  refProtected?: boolean;
  jobPermissions?: JobTokenPermissionsClaim;
  jobId?: number;
  pipelineId?: number;
  ref?: string;
  refType?: 'branch' | 'tag';
  jti?: string;
}

/**
 * Job token claims as the forge sends them (ids as strings, `ref_protected` as `"true"` /
 * `"false"`). Defaults: project 101 `acme/app` in namespace 11 `acme`, user 1001 `alice`,
 * `main` on a protected branch, a fresh `jti` and random pipeline and job ids.
 */
export function jobClaims(input: JobClaimsInput = {}): JobTokenClaims {
  const projectPath = input.projectPath ?? 'acme/app';
  const ref = input.ref ?? 'main';
  const refType = input.refType ?? 'branch';
  const slash = projectPath.lastIndexOf('/');
  const claims: JobTokenClaims = {
    jti: input.jti ?? randomUUID(),
    sub: `project_path:${projectPath}:ref_type:${refType}:ref:${ref}`,
    project_id: String(input.projectId ?? 101),
    project_path: projectPath,
    namespace_id: String(input.namespaceId ?? 11),
    namespace_path: input.namespacePath ?? (slash > 0 ? projectPath.slice(0, slash) : projectPath),
    user_id: String(input.userId ?? 1001),
    user_login: input.userLogin ?? 'alice',
    pipeline_id: String(input.pipelineId ?? randomInt(1, 2 ** 31)),
    pipeline_source: 'push',
    job_id: String(input.jobId ?? randomInt(1, 2 ** 31)),
    ref,
    ref_type: refType,
    ref_protected: (input.refProtected ?? true) ? 'true' : 'false',
  };
  if (input.jobPermissions !== undefined) claims.job_token_permissions = input.jobPermissions;
  return claims;
}

/** Options of {@link createTestIssuer}. */
export interface TestIssuerOptions {
  /** Default `https://issuer.test/<random>`. */
  issuer?: string;
  /** Default `scopegate`. */
  audience?: string;
  /** Default `any`. */
  kind?: IssuerKind;
  /** Default `ES256`. */
  alg?: TestAlg;
}

/** An issuer with one generated key, and token builders signed by it. */
export interface TestIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly kind: IssuerKind;
  readonly key: TestKey;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwks: JSONWebKeySet;
  /** This issuer for `createJwtVerifier`, with its key as an in-memory JWKS. */
  readonly options: IssuerOptions;
  /** The registered claims of a fresh token: `iss`, `aud`, `iat` now, `exp` in 5 minutes. */
  registeredClaims(): ClaimOverrides;
  /** A job token with {@link jobClaims} defaults; `overrides` replace (or with `undefined` drop) any claim. */
  signJobToken(overrides?: ClaimOverrides): Promise<string>;
  /** A user token with `sub` = `userId`; `overrides` replace or drop any claim. */
  signUserToken(userId: number | string, overrides?: ClaimOverrides): Promise<string>;
  /** Signs `payload` exactly as given, with header overrides: for attack tests. */
  sign(payload: ClaimOverrides, headerOverrides?: Partial<JWTHeaderParameters>): Promise<string>;
}

/** Creates a test issuer with a freshly generated key. */
export async function createTestIssuer(opts: TestIssuerOptions = {}): Promise<TestIssuer> {
  const issuer = opts.issuer ?? `https://issuer.test/${randomUUID()}`;
  const audience = opts.audience ?? 'scopegate';
  const kind = opts.kind ?? 'any';
  const key = await createTestKey(opts.alg ?? 'ES256');
  const jwks: JSONWebKeySet = { keys: [key.publicJwk] };
  const registeredClaims = (): ClaimOverrides => {
    const iat = Math.floor(Date.now() / 1000);
    return { iss: issuer, aud: audience, iat, exp: iat + 300 };
  };
  return {
    issuer,
    audience,
    kind,
    key,
    kid: key.kid,
    privateKey: key.privateKey,
    jwks,
    options: { issuer, kind, audience, jwks },
    registeredClaims,
    signJobToken: (overrides = {}) =>
      key.sign({ ...registeredClaims(), ...jobClaims(), ...overrides }),
    signUserToken: (userId, overrides = {}) =>
      key.sign({
        ...registeredClaims(),
        sub: String(userId),
        preferred_username: `user${String(userId)}`,
        ...overrides,
      }),
    sign: (payload, headerOverrides) => key.sign(payload, headerOverrides),
  };
}

/** An unsigned token (`alg: none` by default, empty signature), built by hand for attack tests. */
export function encodeUnsigned(payload: ClaimOverrides, header: ClaimOverrides = {}): string {
  const encode = (value: unknown): string => base64url.encode(JSON.stringify(value));
  return `${encode({ alg: 'none', typ: 'JWT', ...header })}.${encode(payload)}.`;
}
