/**
 * The signing key of `--demo` and `scopegate token mint` (DESIGN.md section 7): an ES256 key
 * pair, generated or loaded from the dev key file (kept by `src/cli/dev-tokens.ts` so that
 * several demos and `token mint` share one key), its public half served as an in-memory JWKS,
 * and helpers that mint job and user tokens the verifier accepts. Never used outside dev mode.
 */
import { randomInt, randomUUID } from 'node:crypto';
import {
  SignJWT,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
} from 'jose';
import type { JobTokenClaims } from './claims.js';
import type { IssuerOptions } from './issuers.js';

/** The claims a caller must give to mint a job token; the rest get defaults. */
export type JobTokenClaimsInput = Partial<JobTokenClaims> &
  Pick<JobTokenClaims, 'project_id' | 'project_path' | 'user_id'>;

/** Mints tokens with the dev key. */
export interface DevSigner {
  /** `iss` of every token minted here. */
  issuer: string;
  /** `aud` of every token minted here. */
  audience: string;
  /** The public key, as a JWKS with one key (for `IssuerOptions.jwks`). */
  jwks: JSONWebKeySet;
  /** `kid` of the key. */
  kid: string;
  /** This signer as an issuer of kind `any`, ready for `createJwtVerifier`. */
  options: IssuerOptions;
  /** Mints a job token; missing claims get the defaults of {@link completeJobClaims}. Lifetime default 3600 s. */
  signJobToken(claims: JobTokenClaimsInput, opts?: { expiresInSeconds?: number }): Promise<string>;
  /** The private key as a JWK, so `scopegate token mint` in another process can sign with it. Dev only. */
  exportPrivateJwk(): Promise<JWK>;
  /** Mints a user token for forge user `userId` (`sub`). Lifetime default 3600 s. */
  signUserToken(
    userId: number | string,
    opts?: { username?: string; expiresInSeconds?: number },
  ): Promise<string>;
}

/** Options of {@link createDevSigner}. */
export interface DevSignerOptions {
  /** `iss`. Default `https://scopegate.dev.local`. */
  issuer?: string;
  /** `aud`. Default `scopegate`. */
  audience?: string;
  /**
   * Reuse this private key (ES256 JWK, as {@link DevSigner.exportPrivateJwk} wrote it) instead of
   * generating one. A key that is not an ES256 private key, or whose public half (`x`, `y`) does
   * not match its private half (`d`), is refused with an `Error`.
   */
  privateJwk?: JWK;
}

/**
 * Fills in the job claims a caller left out, the way the forge would: a fresh `jti`, random
 * pipeline and job ids (so revoking one minted job never hits another), `ref` `main` on a
 * branch, unprotected unless told otherwise, the namespace derived from the project path
 * (`namespace_id` 0 when unknown), and the forge's `sub` format.
 */
export function completeJobClaims(input: JobTokenClaimsInput): JobTokenClaims {
  const projectPath = input.project_path;
  const slash = projectPath.lastIndexOf('/');
  const ref = input.ref ?? 'main';
  const refType = input.ref_type ?? 'branch';
  return {
    jti: randomUUID(),
    sub: `project_path:${projectPath}:ref_type:${refType}:ref:${ref}`,
    namespace_id: 0,
    namespace_path: slash > 0 ? projectPath.slice(0, slash) : projectPath,
    user_login: `user${String(input.user_id)}`,
    pipeline_id: randomInt(1, 2 ** 31),
    pipeline_source: 'push',
    job_id: randomInt(1, 2 ** 31),
    ref_protected: 'false',
    ...input,
    ref,
    ref_type: refType,
  };
}

const DEFAULT_LIFETIME_SECONDS = 3600;

/** Generates the dev key pair (ES256, `kid` = its JWK thumbprint) and returns its signer. */
export async function createDevSigner(opts: DevSignerOptions = {}): Promise<DevSigner> {
  const issuer = opts.issuer ?? 'https://scopegate.dev.local';
  const audience = opts.audience ?? 'scopegate';
  const { publicKey, privateKey } = opts.privateJwk
    ? await importDevKey(opts.privateJwk)
    : await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] };

  const sign = (payload: JWTPayload, expiresInSeconds: number): Promise<string> => {
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + expiresInSeconds)
      .sign(privateKey);
  };

  return {
    issuer,
    audience,
    jwks,
    kid,
    options: { issuer, kind: 'any', audience, jwks },
    exportPrivateJwk: async () => ({ ...(await exportJWK(privateKey)), kid, alg: 'ES256' }),
    signJobToken: (claims, o) =>
      sign({ ...completeJobClaims(claims) }, o?.expiresInSeconds ?? DEFAULT_LIFETIME_SECONDS),
    signUserToken: (userId, o) =>
      sign(
        {
          sub: String(userId),
          jti: randomUUID(),
          ...(o?.username !== undefined ? { preferred_username: o.username } : {}),
        },
        o?.expiresInSeconds ?? DEFAULT_LIFETIME_SECONDS,
      ),
  };
}

async function importDevKey(jwk: JWK): Promise<{ publicKey: CryptoKey; privateKey: CryptoKey }> {
  const notAKey = () => new Error('the dev key file does not hold an ES256 private key');
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') throw notAKey();
  try {
    const privateKey = (await importJWK(jwk, 'ES256', { extractable: true })) as CryptoKey;
    const pub: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, key_ops: ['verify'] };
    const publicKey = (await importJWK(pub, 'ES256')) as CryptoKey;
    return { publicKey, privateKey };
  } catch {
    // WebCrypto refuses a point not on the curve, or `x`, `y` that are not `d`'s public half
    // ("Invalid keyData"); one message names the file's problem instead.
    throw notAKey();
  }
}
