import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { createJwtVerifier, type JwtVerifierOptions } from '../../src/auth/verifier.js';
import { freePort } from '../helpers/redis.js';
import { createTestKey, jobClaims, type TestKey } from '../helpers/tokens.js';
import { expectRefused } from './assertions.js';

const ISSUER = 'https://ci.example.test';
const AUDIENCE = 'scopegate';

/** A tiny JWKS endpoint whose key set and behaviour tests change at will. */
interface JwksServer {
  url: string;
  jwks: JSONWebKeySet;
  mode: 'ok' | 'error' | 'hang' | 'garbage';
  requests: Record<string, number>;
}

let server: Server;
const endpoint: JwksServer = { url: '', jwks: { keys: [] }, mode: 'ok', requests: {} };
let key1: TestKey;
let key2: TestKey;

beforeAll(async () => {
  key1 = await createTestKey('ES256');
  key2 = await createTestKey('RS256');
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    endpoint.requests[path] = (endpoint.requests[path] ?? 0) + 1;
    if (path !== '/jwks') {
      res.writeHead(404).end();
      return;
    }
    switch (endpoint.mode) {
      case 'hang':
        return; // never answers: the client's timeout must fire
      case 'error':
        res.writeHead(500).end('boom');
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{not json');
        return;
      case 'ok':
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify(endpoint.jwks));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  endpoint.url = `http://127.0.0.1:${port}/jwks`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  endpoint.jwks = { keys: [key1.publicJwk] };
  endpoint.mode = 'ok';
  endpoint.requests = {};
});

function remoteVerifier(extra: Partial<JwtVerifierOptions> = {}) {
  return createJwtVerifier({
    issuers: [{ issuer: ISSUER, kind: 'job', audience: AUDIENCE, jwksUri: endpoint.url }],
    ...extra,
  });
}

function sign(key: TestKey, headerOverrides = {}): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return key.sign(
    { iss: ISSUER, aud: AUDIENCE, iat, exp: iat + 300, ...jobClaims() },
    headerOverrides,
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('remote JWKS', () => {
  it('verifies a token signed by a key the JWKS URL publishes', async () => {
    const v = remoteVerifier();
    expect(await v.verify(await sign(key1))).toMatchObject({ kind: 'job', issuer: ISSUER });
    expect(endpoint.requests['/jwks']).toBe(1);
  });

  it('verifies a token signed by a newly added key without a restart', async () => {
    const v = remoteVerifier({ jwksCooldownMs: 50 });
    await v.verify(await sign(key1));
    endpoint.jwks = { keys: [key1.publicJwk, key2.publicJwk] };
    await sleep(80);
    expect(await v.verify(await sign(key2))).toMatchObject({ kind: 'job' });
    expect(endpoint.requests['/jwks']).toBe(2);
  });

  it('does not refetch the JWKS for an unknown kid within the cooldown', async () => {
    const v = remoteVerifier({ jwksCooldownMs: 30_000 });
    await v.verify(await sign(key1));
    endpoint.jwks = { keys: [key1.publicJwk, key2.publicJwk] };
    await expectRefused((t) => v.verify(t), await sign(key2), 'UNKNOWN_KEY');
    expect(endpoint.requests['/jwks']).toBe(1);
  });

  it('stops verifying a key removed from the JWKS once the cache max age has passed', async () => {
    const v = remoteVerifier({ jwksCacheMaxAgeMs: 150, jwksCooldownMs: 30_000 });
    const token = await sign(key1);
    await v.verify(token);
    endpoint.jwks = { keys: [key2.publicJwk] };
    expect(await v.verify(token)).toMatchObject({ kind: 'job' }); // still cached
    await sleep(200);
    await expectRefused((t) => v.verify(t), token, 'UNKNOWN_KEY');
    expect(endpoint.requests['/jwks']).toBe(2);
  });

  it('stops verifying a removed key when an unknown kid triggers a refresh', async () => {
    const v = remoteVerifier({ jwksCooldownMs: 50 });
    const old = await sign(key1);
    await v.verify(old);
    endpoint.jwks = { keys: [key2.publicJwk] };
    await sleep(80);
    await v.verify(await sign(key2)); // unknown kid: refetch
    await expectRefused((t) => v.verify(t), old, 'UNKNOWN_KEY');
  });

  it('refuses as KEYS_UNAVAILABLE when the JWKS endpoint fails, without naming the URL', async () => {
    endpoint.mode = 'error';
    const err = await expectRefused(
      (t) => remoteVerifier().verify(t),
      await sign(key1),
      'KEYS_UNAVAILABLE',
    );
    expect(err.message).not.toContain('127.0.0.1');
    expect(err.extensions['http']).toMatchObject({ status: 401 });
  });

  it('refuses as KEYS_UNAVAILABLE when the JWKS endpoint times out', async () => {
    endpoint.mode = 'hang';
    const v = remoteVerifier({ jwksTimeoutMs: 100 });
    await expectRefused((t) => v.verify(t), await sign(key1), 'KEYS_UNAVAILABLE');
  });

  it('refuses as KEYS_UNAVAILABLE when the JWKS endpoint answers something that is not JSON', async () => {
    endpoint.mode = 'garbage';
    await expectRefused((t) => remoteVerifier().verify(t), await sign(key1), 'KEYS_UNAVAILABLE');
  });

  it('refuses as KEYS_UNAVAILABLE when nothing listens at the JWKS URL', async () => {
    const port = await freePort();
    const v = createJwtVerifier({
      issuers: [
        {
          issuer: ISSUER,
          kind: 'job',
          audience: AUDIENCE,
          jwksUri: `http://127.0.0.1:${port}/jwks`,
        },
      ],
    });
    await expectRefused((t) => v.verify(t), await sign(key1), 'KEYS_UNAVAILABLE');
  });

  it('recovers by itself when the JWKS endpoint comes back', async () => {
    const v = remoteVerifier();
    endpoint.mode = 'error';
    const token = await sign(key1);
    await expectRefused((t) => v.verify(t), token, 'KEYS_UNAVAILABLE');
    endpoint.mode = 'ok';
    expect(await v.verify(token)).toMatchObject({ kind: 'job' });
  });

  it('never fetches keys from a jku or x5u header', async () => {
    const attacker = await createTestKey('ES256');
    const base = endpoint.url.replace('/jwks', '');
    endpoint.jwks = { keys: [key1.publicJwk, attacker.publicJwk] };
    const token = await sign(attacker, {
      jku: `${base}/attacker-jwks`,
      x5u: `${base}/attacker-cert`,
    });
    endpoint.jwks = { keys: [key1.publicJwk] };
    await expectRefused((t) => remoteVerifier().verify(t), token, 'UNKNOWN_KEY');
    expect(endpoint.requests['/attacker-jwks']).toBeUndefined();
    expect(endpoint.requests['/attacker-cert']).toBeUndefined();
  });
});

describe('issuer configuration', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-jwks-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const base = { issuer: ISSUER, kind: 'job' as const, audience: AUDIENCE };

  it('verifies with a local JWKS file read at start', async () => {
    const file = join(dir, 'good.json');
    writeFileSync(file, JSON.stringify({ keys: [key1.publicJwk] }));
    const v = createJwtVerifier({ issuers: [{ ...base, jwksFile: file }] });
    expect(await v.verify(await sign(key1))).toMatchObject({ kind: 'job' });
  });

  it('refuses to start with a JWKS file that is not a key set, naming the file', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ kty: 'EC' }));
    expect(() => createJwtVerifier({ issuers: [{ ...base, jwksFile: file }] })).toThrow(file);
    const notJson = join(dir, 'bad.txt');
    writeFileSync(notJson, 'hello');
    expect(() => createJwtVerifier({ issuers: [{ ...base, jwksFile: notJson }] })).toThrow(notJson);
    const missing = join(dir, 'missing.json');
    expect(() => createJwtVerifier({ issuers: [{ ...base, jwksFile: missing }] })).toThrow(missing);
  });

  it('refuses HMAC and "none" in an issuer algorithm list', () => {
    const jwks = { keys: [key1.publicJwk] };
    for (const alg of ['HS256', 'none']) {
      expect(() => createJwtVerifier({ issuers: [{ ...base, jwks, algorithms: [alg] }] })).toThrow(
        'issuers[0].algorithms',
      );
    }
  });

  it('refuses no issuers, duplicate issuers, and zero or two key sources', () => {
    const jwks = { keys: [key1.publicJwk] };
    expect(() => createJwtVerifier({ issuers: [] })).toThrow('at least one');
    expect(() =>
      createJwtVerifier({
        issuers: [
          { ...base, jwks },
          { ...base, jwks },
        ],
      }),
    ).toThrow('configured twice');
    expect(() => createJwtVerifier({ issuers: [base] })).toThrow('exactly one');
    expect(() =>
      createJwtVerifier({ issuers: [{ ...base, jwks, jwksUri: endpoint.url }] }),
    ).toThrow('exactly one');
  });

  it('refuses a JWKS URL that is not http or https', () => {
    expect(() =>
      createJwtVerifier({ issuers: [{ ...base, jwksUri: 'ftp://keys.example/jwks' }] }),
    ).toThrow('issuers[0].jwksUri must be an https or http URL');
  });
});
