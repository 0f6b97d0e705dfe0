/**
 * `serve` outside the demo: `bootstrap` with `REDIS_URL` wires the Redis profile store,
 * revocation list and decision cache; profiles loaded by one instance are served by the next,
 * and `/readyz` follows Redis.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditStream } from '../../src/audit/change-events.js';
import { bootstrap, type Running } from '../../src/cli/bootstrap.js';
import { loadConfig, type ResolvedConfig } from '../../src/config/config.js';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { createRedisProfileStore } from '../../src/store/redis-profile-store.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';
import { createTestIssuer, type TestIssuer } from '../helpers/tokens.js';

const TARGET = 'acme/platform/registry';
const READ = `{ project(fullPath: "${TARGET}") { releases { nodes { name } } } }`;

describe('serve with REDIS_URL', () => {
  let redis: TestRedis;
  let upstream: DemoUpstream;
  let issuer: TestIssuer;
  let dir: string;
  let config: ResolvedConfig;
  let policyPath: string;
  const running: Running[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
    issuer = await createTestIssuer();
    dir = mkdtempSync(join(tmpdir(), 'sg-serve-'));
    const jwksPath = join(dir, 'jwks.json');
    writeFileSync(jwksPath, JSON.stringify(issuer.jwks));
    policyPath = join(dir, 'policy.json');
    writeFileSync(
      policyPath,
      JSON.stringify({
        version: 1,
        projects: {
          [TARGET]: {
            entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
          },
        },
      }),
    );
    config = loadConfig({
      SCOPEGATE_UPSTREAM_URL: upstream.url,
      SCOPEGATE_UPSTREAM_TOKEN: upstream.token,
      SCOPEGATE_JWKS_FILE: jwksPath,
      SCOPEGATE_ISSUER: issuer.issuer,
      SCOPEGATE_AUDIENCE: issuer.audience,
      REDIS_URL: redis.url,
      HOST: '127.0.0.1',
      PORT: '0',
      SCOPEGATE_LOG_LEVEL: 'silent',
    });
  });
  afterAll(async () => {
    for (const r of running) await r.close();
    await upstream.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Puts the stored profile in AUDIT, as a change through the API would; returns the store. */
  const auditStoredProfile = async (conn: Redis) => {
    const store = createRedisProfileStore({ redis: conn });
    const stored = (await store.list())[0]!;
    await store.put({ projectId: stored.projectId, enforcement: 'AUDIT', entries: stored.entries });
    return store;
  };

  const read = async (r: Running): Promise<{ status: number; body: string }> => {
    const token = await issuer.signJobToken({
      project_id: '102',
      project_path: 'acme/apps/web',
      namespace_id: '13',
      namespace_path: 'acme/apps',
      user_id: '1',
      user_login: 'alice',
    });
    const res = await fetch(r.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: READ }),
    });
    return { status: res.status, body: await res.text() };
  };

  it('loads --policy into Redis, where a second instance without --policy finds it', async () => {
    running.push(await bootstrap(config, { policyPath }));
    running.push(await bootstrap(config));
    for (const r of running) {
      const res = await read(r);
      expect(res.status).toBe(200);
      expect(res.body).toContain(`"releases":{"nodes":[{`);
    }
  });

  it('records a --policy start that changed the stored profiles on the change stream, and one that changed nothing not at all', async () => {
    const conn = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      const imports = async () =>
        (await readAuditStream(conn)).filter((e) => e.event === 'jobTokenScope.imported');
      // The first test's instance imported the file over an empty store.
      const [first] = await imports();
      expect(first).toMatchObject({
        event: 'jobTokenScope.imported',
        via: 'serve --policy',
        fileSha256: createHash('sha256').update(readFileSync(policyPath)).digest('hex'),
        projects: 1,
        changeCount: 2,
        changes: [
          `${TARGET}: enforcement (no profile) -> ENFORCED`,
          `${TARGET}: + group acme/apps {"RELEASES":"READ"}`,
        ],
      });
      // The same file again: nothing changed, nothing recorded.
      const again = await bootstrap(config, { policyPath });
      await again.close();
      expect(await imports()).toHaveLength(1);
      // A change made since (as through the API) is undone by the next start, and that is said.
      await auditStoredProfile(conn);
      const undo = await bootstrap(config, { policyPath });
      await undo.close();
      const all = await imports();
      expect(all).toHaveLength(2);
      expect(all[1]).toMatchObject({
        changeCount: 1,
        changes: [`${TARGET}: enforcement AUDIT -> ENFORCED`],
      });
      expect(JSON.stringify(all)).not.toContain(upstream.token);
    } finally {
      conn.disconnect();
    }
  });

  it('starts when the change stream refuses the import event, and counts the event as dropped', async () => {
    const conn = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      // Something the file does not say, so the next start changes the store and has an
      // event to write; the stream's key holds a string, so the write is refused.
      const store = await auditStoredProfile(conn);
      await conn.rename('sg:{audit}:changes', 'sg:{audit}:changes:kept');
      await conn.set('sg:{audit}:changes', 'not a stream');
      const r = await bootstrap(config, { policyPath });
      try {
        const metrics = await (await fetch(`${r.gateway.url}/metrics`)).text();
        expect(metrics).toMatch(/^scopegate_audit_events_dropped_total 1$/m);
        // The file was applied all the same, and the gateway serves.
        expect((await store.list())[0]).toMatchObject({ enforcement: 'ENFORCED' });
        expect((await read(r)).status).toBe(200);
      } finally {
        await r.close();
        await conn.rename('sg:{audit}:changes:kept', 'sg:{audit}:changes');
      }
    } finally {
      conn.disconnect();
    }
  });

  it('reports not ready while Redis is down and ready again when it returns', async () => {
    const r = running[1]!;
    expect((await fetch(`${r.gateway.url}/readyz`)).status).toBe(200);
    await redis.kill();
    expect((await fetch(`${r.gateway.url}/readyz`)).status).toBe(503);
    await redis.restart();
    const start = Date.now();
    while ((await fetch(`${r.gateway.url}/readyz`)).status !== 200) {
      expect(Date.now() - start).toBeLessThan(2_000);
      await new Promise((res) => setTimeout(res, 20));
    }
  });

  it('refuses to start when Redis cannot be reached', async () => {
    const dead = loadConfig({
      SCOPEGATE_UPSTREAM_URL: upstream.url,
      SCOPEGATE_UPSTREAM_TOKEN: upstream.token,
      SCOPEGATE_JWKS_FILE: join(dir, 'jwks.json'),
      SCOPEGATE_ISSUER: issuer.issuer,
      SCOPEGATE_AUDIENCE: issuer.audience,
      REDIS_URL: 'redis://127.0.0.1:1',
      SCOPEGATE_LOG_LEVEL: 'silent',
    });
    await expect(bootstrap(dead)).rejects.toThrow(/^Redis \(127\.0\.0\.1:1\) was not ready within/);
  }, 15_000);
});
