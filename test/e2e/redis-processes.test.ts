/**
 * Two `scopegate serve` OS processes sharing one Redis, in front of one embedded forge (issue
 * 5's fleet, for real): a profile change made through one process is enforced by the other, and
 * a query touching 50 guarded fields of 10 projects costs one Redis round trip cold, none warm.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile, parseSeed } from '../../src/demo/seed.js';
import { cleanEnv, startCli, type Cli } from '../helpers/cli.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';
import { createTestIssuer, type TestIssuer } from '../helpers/tokens.js';

const FLEET = Array.from({ length: 10 }, (_, i) => `fleet/p${i}`);
const DEBUG = { 'x-scopegate-debug': '1' };
/** 5 guarded fields (plus the connection) per project, 10 projects. */
const FIFTY_FIELDS = `{ ${FLEET.map(
  (p, i) =>
    `p${i}: project(fullPath: "${p}") { releases { nodes { name tagName description createdAt releasedAt } } }`,
).join(' ')} }`;

interface Wire {
  data?: Record<string, unknown> | null;
  errors?: { extensions?: { code?: string; reason?: string } }[];
  extensions?: { scopegate?: { redisRoundTrips: number } };
}

async function post(
  url: string,
  query: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<Wire> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as Wire;
}

describe('two gateway processes on one Redis', () => {
  let redis: TestRedis;
  let upstream: DemoUpstream;
  let issuer: TestIssuer;
  let dir: string;
  const procs: Cli[] = [];
  let url1 = '';
  let url2 = '';

  beforeAll(async () => {
    redis = await startRedis();
    const base = loadSeedFile(SCENARIOS_PATH);
    const seed = parseSeed({
      ...base,
      groups: [...base.groups, { id: 30, full_path: 'fleet', parent_id: null }],
      projects: [
        ...base.projects,
        ...FLEET.map((p, i) => ({
          id: 301 + i,
          path_with_namespace: p,
          namespace_id: 30,
          visibility: 'private',
        })),
      ],
      members: { ...base.members, ...Object.fromEntries(FLEET.map((p) => [p, { alice: 30 }])) },
    });
    upstream = await startDemoUpstream({ seed });
    issuer = await createTestIssuer();
    dir = mkdtempSync(join(tmpdir(), 'sg-procs-'));
    const jwks = join(dir, 'jwks.json');
    writeFileSync(jwks, JSON.stringify(issuer.jwks));
    const policy = join(dir, 'policy.json');
    const entry = { source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'READ' } };
    writeFileSync(
      policy,
      JSON.stringify({
        version: 1,
        projects: Object.fromEntries(FLEET.map((p) => [p, { entries: [entry] }])),
      }),
    );
    const env = cleanEnv({
      SCOPEGATE_UPSTREAM_URL: upstream.url,
      SCOPEGATE_UPSTREAM_TOKEN: upstream.token,
      SCOPEGATE_JWKS_FILE: jwks,
      SCOPEGATE_ISSUER: issuer.issuer,
      SCOPEGATE_AUDIENCE: issuer.audience,
      SCOPEGATE_ADMIN_USERS: '5',
      SCOPEGATE_LOG_LEVEL: 'silent',
      SCOPEGATE_DEBUG_EXTENSIONS: 'true',
      REDIS_URL: redis.url,
      HOST: '127.0.0.1',
      PORT: '0',
    });
    // The first process loads the policy into Redis; the second starts with none of its own.
    procs.push(startCli(['serve', '--policy', policy], env));
    url1 = (await procs[0]!.waitFor(/scopegate listening: (\S+)/))[1]!;
    procs.push(startCli(['serve'], env));
    url2 = (await procs[1]!.waitFor(/scopegate listening: (\S+)/))[1]!;
  }, 90_000);

  afterAll(async () => {
    for (const p of procs) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
    await upstream.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const job = () =>
    issuer.signJobToken({
      project_id: '102',
      project_path: 'acme/apps/web',
      namespace_id: '13',
      namespace_path: 'acme/apps',
      user_id: '1',
      user_login: 'alice',
    });

  it('reads 50 guarded fields of 10 projects with one Redis round trip cold and none warm, on the process that did not load the policy', async () => {
    const token = await job();
    const cold = await post(url2, FIFTY_FIELDS, token, DEBUG);
    expect(cold.errors).toBeUndefined();
    expect(Object.keys(cold.data ?? {})).toHaveLength(10);
    expect(cold.extensions?.scopegate?.redisRoundTrips).toBe(1);
    const warm = await post(url2, FIFTY_FIELDS, token, DEBUG);
    expect(warm.extensions?.scopegate?.redisRoundTrips).toBe(0);
    expect(warm.data).toEqual(cold.data);
  });

  it('enforces on one process an allowlist entry removed through the other, within 2 s', async () => {
    const token = await job();
    const read = `{ project(fullPath: "fleet/p0") { releases { nodes { name } } } }`;
    expect((await post(url2, read, token)).errors).toBeUndefined();

    const admin = await issuer.signUserToken(5, { preferred_username: 'carol' });
    const removed = await post(
      url1,
      'mutation { jobTokenScopeRemoveEntry(input: { projectPath: "fleet/p0", sourcePath: "acme/apps" }) { errors } }',
      admin,
    );
    expect(removed.errors).toBeUndefined();

    const start = Date.now();
    let after = await post(url2, read, token);
    while (!after.errors && Date.now() - start < 2_000) {
      await new Promise((r) => setTimeout(r, 20));
      after = await post(url2, read, token);
    }
    expect(after.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      reason: 'NOT_IN_ALLOWLIST',
    });
    // The other nine projects are untouched.
    expect(
      (await post(url2, `{ project(fullPath: "fleet/p1") { releases { nodes { name } } } }`, token))
        .errors,
    ).toBeUndefined();
  });
});
