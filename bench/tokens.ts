/**
 * The benchmark's token issuer: a freshly generated ES256 key, its public JWKS handed to every
 * variant, and job tokens for the bench job (see `world.ts`), each with its own `jti` and job id.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import type { IssuerOptions } from '../src/auth/issuers.js';
import { BENCH_JOB } from './world.js';

/** An issuer that can mint bench job tokens. */
export interface BenchIssuer {
  /** What the variants configure (in-memory JWKS). */
  readonly options: IssuerOptions;
  /** A job token valid for `lifetimeSeconds` (default one hour). */
  mint(jobId: number, lifetimeSeconds?: number): Promise<string>;
}

/** Creates the issuer with a new key. */
export async function createBenchIssuer(): Promise<BenchIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const kid = `bench-${randomUUID()}`;
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const issuer = 'https://issuer.bench.invalid';
  const key: CryptoKey = privateKey;
  return {
    options: { issuer, kind: 'job', audience: 'scopegate', jwks: { keys: [jwk] } },
    mint: (jobId, lifetimeSeconds = 3600) => {
      const iat = Math.floor(Date.now() / 1000);
      return new SignJWT({
        jti: randomUUID(),
        sub: `project_path:${BENCH_JOB.projectPath}:ref_type:branch:ref:main`,
        project_id: String(BENCH_JOB.projectId),
        project_path: BENCH_JOB.projectPath,
        namespace_id: String(BENCH_JOB.namespaceId),
        namespace_path: BENCH_JOB.namespacePath,
        user_id: String(BENCH_JOB.userId),
        user_login: BENCH_JOB.userLogin,
        pipeline_id: String(jobId),
        pipeline_source: 'push',
        job_id: String(jobId),
        ref: 'main',
        ref_type: 'branch',
        ref_protected: 'true',
        iss: issuer,
        aud: 'scopegate',
        iat,
        exp: iat + lifetimeSeconds,
      })
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
        .sign(key);
    },
  };
}
