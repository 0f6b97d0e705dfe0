/**
 * Signing-key rotation through the gateway (DESIGN.md section 3): an issuer configured by JWKS
 * URL, served by a real HTTP endpoint whose key set the tests change while the gateway runs.
 * New keys verify without a restart, removed keys stop verifying once the cache refreshes, and
 * an endpoint outage does not break keys already cached.
 */
import { createServer, type Server } from 'node:http';
import type { JSONWebKeySet } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuthFailureReason } from '../../src/errors/codes.js';
import type { DemoUpstream } from '../../src/demo/http-server.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import { createTestKey, jobClaims, type TestKey } from '../helpers/tokens.js';

const ISSUER = 'https://ci.rotation.test';
const AUDIENCE = 'scopegate';
const PROBE = '{ project(fullPath: "acme/apps/web") { jobTokenPermissions { reason } } }';

/** The JWKS endpoint: its key set and whether it answers are changed by the tests. */
const endpoint: { url: string; jwks: JSONWebKeySet; up: boolean; fetches: number } = {
  url: '',
  jwks: { keys: [] },
  up: true,
  fetches: 0,
};
let jwksServer: Server;
/** Owns the forge every gateway of this file shares. */
let first: TestGateway;
let upstream: DemoUpstream;
let keyA: TestKey;
let keyB: TestKey;
/** Gateways started by the current test, closed after it. */
const started: TestGateway[] = [];

beforeAll(async () => {
  keyA = await createTestKey('ES256', 'rotation-a');
  keyB = await createTestKey('RS256', 'rotation-b');
  jwksServer = createServer((_req, res) => {
    endpoint.fetches += 1;
    if (!endpoint.up) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(endpoint.jwks));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const addr = jwksServer.address();
  endpoint.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/jwks`;
  // One forge for every gateway of this file; the first gateway starts it and stays up.
  first = await createTestGateway();
  upstream = first.upstream;
});

beforeEach(() => {
  endpoint.jwks = { keys: [keyA.publicJwk] };
  endpoint.up = true;
  endpoint.fetches = 0;
});

afterEach(async () => {
  for (const t of started.splice(0)) await t.close();
});

afterAll(async () => {
  await first?.close();
  jwksServer.closeAllConnections();
  await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
});

/** A gateway trusting the rotating issuer with the given JWKS cache timings (ms). */
async function gatewayWith(timing: { cacheMaxAgeMs: number; cooldownMs: number }) {
  const t = await createTestGateway({
    upstream,
    extraIssuers: [{ issuer: ISSUER, kind: 'any', audience: AUDIENCE, jwksUri: endpoint.url }],
    verifier: { jwksCacheMaxAgeMs: timing.cacheMaxAgeMs, jwksCooldownMs: timing.cooldownMs },
  });
  started.push(t);
  return t;
}

/** A job token of acme/apps/web (project 102, alice) signed by `key` for the rotating issuer. */
function tokenSignedBy(key: TestKey): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return key.sign({
    iss: ISSUER,
    aud: AUDIENCE,
    iat,
    exp: iat + 300,
    ...jobClaims({ projectId: 102, projectPath: 'acme/apps/web', namespaceId: 13, userId: 1 }),
  });
}

async function call(t: TestGateway, token: string): Promise<GqlResponse> {
  return t.gql(PROBE, undefined, { token });
}

function expectVerified(res: GqlResponse): void {
  expect(res.status).toBe(200);
  expect(res.body.errors).toBeUndefined();
  expect(res.body.data).toEqual({
    project: { jobTokenPermissions: Array(4).fill({ reason: 'SAME_PROJECT' }) },
  });
}

function expectRefused(res: GqlResponse, reason: AuthFailureReason): void {
  expect(res.status).toBe(401);
  expect(res.body.errors?.[0]?.extensions).toEqual({ code: 'UNAUTHENTICATED', reason });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Calls until the response is no longer a 200 or `deadlineMs` passes; returns the last one. */
async function callUntilRefused(t: TestGateway, token: string, deadlineMs: number) {
  const deadline = Date.now() + deadlineMs;
  let res = await call(t, token);
  while (res.status === 200 && Date.now() < deadline) {
    await sleep(50);
    res = await call(t, token);
  }
  return res;
}

describe('JWKS key rotation through the gateway', () => {
  it('verifies a token signed by a newly published key without a restart', async () => {
    const t = await gatewayWith({ cacheMaxAgeMs: 600_000, cooldownMs: 0 });
    expectVerified(await call(t, await tokenSignedBy(keyA)));
    const fetchesBefore = endpoint.fetches;
    endpoint.jwks = { keys: [keyA.publicJwk, keyB.publicJwk] };
    // The unknown kid triggers one refetch, long before the cache would age out.
    expectVerified(await call(t, await tokenSignedBy(keyB)));
    expect(endpoint.fetches).toBe(fetchesBefore + 1);
    expectVerified(await call(t, await tokenSignedBy(keyA)));
  });

  it('refuses a token with an unknown kid as UNKNOWN_KEY while refetches are cooling down', async () => {
    const t = await gatewayWith({ cacheMaxAgeMs: 600_000, cooldownMs: 600_000 });
    expectVerified(await call(t, await tokenSignedBy(keyA)));
    endpoint.jwks = { keys: [keyA.publicJwk, keyB.publicJwk] };
    const fetchesBefore = endpoint.fetches;
    expectRefused(await call(t, await tokenSignedBy(keyB)), 'UNKNOWN_KEY');
    expect(endpoint.fetches).toBe(fetchesBefore);
  });

  it('stops verifying a removed key once the cached key set ages out', async () => {
    const t = await gatewayWith({ cacheMaxAgeMs: 500, cooldownMs: 0 });
    const oldToken = await tokenSignedBy(keyA);
    expectVerified(await call(t, oldToken));
    endpoint.jwks = { keys: [keyB.publicJwk] };
    const res = await callUntilRefused(t, oldToken, 3_000);
    expectRefused(res, 'UNKNOWN_KEY');
    expectVerified(await call(t, await tokenSignedBy(keyB)));
  });

  it('keeps verifying cached keys while the JWKS endpoint is down, then fails closed', async () => {
    const t = await gatewayWith({ cacheMaxAgeMs: 3_000, cooldownMs: 0 });
    const token = await tokenSignedBy(keyA);
    expectVerified(await call(t, token));
    endpoint.up = false;
    expectVerified(await call(t, token));
    // An unknown kid needs a fetch, which fails: a retryable refusal, not a bad token.
    const unknown = await call(t, await tokenSignedBy(keyB));
    expectRefused(unknown, 'KEYS_UNAVAILABLE');
    expect(unknown.headers.get('www-authenticate')).toContain('error="temporarily_unavailable"');
    expectVerified(await call(t, token));
    // Once the cache ages out nothing can be verified: refused, never let through.
    expectRefused(await callUntilRefused(t, token, 6_000), 'KEYS_UNAVAILABLE');
    endpoint.up = true;
    expectVerified(await call(t, token));
  });
});
