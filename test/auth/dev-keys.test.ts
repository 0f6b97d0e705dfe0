import { describe, expect, it } from 'vitest';
import { decodeProtectedHeader } from 'jose';
import { createDevSigner } from '../../src/auth/dev-keys.js';
import { createJwtVerifier } from '../../src/auth/verifier.js';

describe('dev signer', () => {
  it('mints job tokens the verifier accepts, with forge-like defaults', async () => {
    const signer = await createDevSigner();
    expect(signer.issuer).toBe('https://scopegate.dev.local');
    expect(signer.audience).toBe('scopegate');
    const verifier = createJwtVerifier({ issuers: [signer.options] });
    const token = await signer.signJobToken({
      project_id: 101,
      project_path: 'acme/app',
      user_id: 1001,
      ref_protected: 'true',
      job_token_permissions: { releases: 'write' },
    });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', kid: signer.kid });
    expect(await verifier.verify(token)).toMatchObject({
      kind: 'job',
      projectId: 101,
      projectPath: 'acme/app',
      namespacePath: 'acme',
      userId: 1001,
      ref: 'main',
      refProtected: true,
      jobPermissions: { RELEASES: 'WRITE' },
    });
  });

  it('mints user tokens with the forge user id as sub', async () => {
    const signer = await createDevSigner({ issuer: 'https://dev.test', audience: 'gw' });
    const verifier = createJwtVerifier({ issuers: [signer.options], adminUserIds: ['1'] });
    const token = await signer.signUserToken(1, { username: 'root' });
    expect(await verifier.verify(token)).toMatchObject({
      kind: 'user',
      issuer: 'https://dev.test',
      userId: 1,
      username: 'root',
      isAdmin: true,
    });
  });

  it('generates a different key at every start', async () => {
    const [a, b] = await Promise.all([createDevSigner(), createDevSigner()]);
    expect(a.kid).not.toBe(b.kid);
    const onlyA = createJwtVerifier({ issuers: [a.options] });
    const fromB = await b.signUserToken(1);
    await expect(onlyA.verify(fromB)).rejects.toMatchObject({
      extensions: { reason: 'UNKNOWN_KEY' },
    });
  });
});
