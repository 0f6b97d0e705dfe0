/**
 * `scopegate policy import | export` as an operator runs them: real processes, a real Redis and
 * the embedded forge. A dry run writes nothing; `--apply` writes; export gives the file back.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditStream, type PolicyImportEvent } from '../../src/audit/change-events.js';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { parsePolicyFile } from '../../src/policy/policy-file.js';
import { createRedisConnection, waitUntilReady } from '../../src/store/redis-client.js';
import { createRedisProfileStore } from '../../src/store/redis-profile-store.js';
import { cleanEnv, runCli } from '../helpers/cli.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

const POLICY = {
  version: 1,
  projects: {
    'acme/platform/registry': {
      enforcement: 'AUDIT',
      entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
    },
  },
};

describe('scopegate policy', () => {
  let redis: TestRedis;
  let upstream: DemoUpstream;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    redis = await startRedis();
    upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
    dir = mkdtempSync(join(tmpdir(), 'sg-policy-cli-'));
    writeFileSync(join(dir, 'policy.json'), JSON.stringify(POLICY));
    env = cleanEnv({
      SCOPEGATE_UPSTREAM_URL: upstream.url,
      SCOPEGATE_UPSTREAM_TOKEN: upstream.token,
      REDIS_URL: redis.url,
    });
  });
  afterAll(async () => {
    await upstream.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const profileKeys = async (): Promise<string[]> => {
    const conn = createRedisConnection({ url: redis.url });
    try {
      await waitUntilReady(conn);
      return await conn.keys('sg:{p:*}:profile');
    } finally {
      conn.disconnect();
    }
  };

  const imports = async (): Promise<PolicyImportEvent[]> => {
    const conn = createRedisConnection({ url: redis.url });
    try {
      await waitUntilReady(conn);
      return (await readAuditStream(conn)).filter(
        (e): e is PolicyImportEvent => e.event === 'jobTokenScope.imported',
      );
    } finally {
      conn.disconnect();
    }
  };

  it('imports as a dry run by default (a diff, nothing written), then writes with --apply, and exports the same policy', async () => {
    const dry = await runCli(['policy', 'import', join(dir, 'policy.json')], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('acme/platform/registry: + ');
    expect(dry.stdout).toContain('dry run: 2 change(s)');
    expect(await profileKeys()).toEqual([]);
    expect(await imports()).toEqual([]);

    const applied = await runCli(['policy', 'import', join(dir, 'policy.json'), '--apply'], env);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('applied: 2 change(s)');
    expect(await profileKeys()).toHaveLength(1);
    // The change stream names the import, the file and every change it printed.
    const [event, ...more] = await imports();
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      via: 'policy import',
      fileSha256: createHash('sha256')
        .update(readFileSync(join(dir, 'policy.json')))
        .digest('hex'),
      projects: 1,
      changeCount: 2,
    });
    expect(event?.changes).toEqual(
      applied.stdout.split('\n').filter((l) => l.startsWith('acme/platform/registry: ')),
    );
    // Applying it again changes nothing, and records nothing.
    const version = async () => {
      const conn = createRedisConnection({ url: redis.url });
      try {
        await waitUntilReady(conn);
        return (await createRedisProfileStore({ redis: conn }).list())[0]?.version;
      } finally {
        conn.disconnect();
      }
    };
    const stored = await version();
    const again = await runCli(['policy', 'import', join(dir, 'policy.json'), '--apply'], env);
    expect(again.stdout).toContain('no changes: the stored profiles already match the file');
    expect(await imports()).toHaveLength(1);

    const exported = await runCli(['policy', 'export'], env);
    expect(exported.code).toBe(0);
    expect(parsePolicyFile(JSON.parse(exported.stdout))).toEqual(parsePolicyFile(POLICY));
    // -o: the same file, created readable by its owner only.
    const outFile = join(dir, 'exported.json');
    expect((await runCli(['policy', 'export', '-o', outFile], env)).code).toBe(0);
    expect(readFileSync(outFile, 'utf8')).toBe(exported.stdout);
    expect(statSync(outFile).mode & 0o777).toBe(0o600);
    // The export imported back, its levels in another key order: still nothing to change, and
    // nothing written (a write would bump the version and empty every decision cache).
    const reordered = join(dir, 'reordered.json');
    const file = JSON.parse(exported.stdout) as typeof POLICY;
    const entry = file.projects['acme/platform/registry'].entries[0]!;
    (entry as { permissions: Record<string, string> }).permissions = {
      TAGS: 'NONE',
      RELEASES: 'READ',
    };
    writeFileSync(reordered, JSON.stringify(file));
    const same = await runCli(['policy', 'import', reordered, '--apply'], env);
    expect(same.stdout).toBe('no changes: the stored profiles already match the file\n');
    expect(await version()).toBe(stored);
    expect(await imports()).toHaveLength(1);
  }, 60_000);

  it('says what is wrong with a file or an argument before asking for any setting', async () => {
    const bare = cleanEnv({});
    const none = await runCli(['policy', 'import'], bare);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('usage: scopegate policy import FILE [--apply]');
    const missing = await runCli(['policy', 'import', join(dir, 'missing.json')], env);
    expect(missing.stderr).toContain(`policy file "${join(dir, 'missing.json')}" does not exist`);
    const folder = await runCli(['policy', 'import', dir], env);
    expect(folder.stderr).toContain(`policy file "${dir}" is a directory`);
    writeFileSync(join(dir, 'broken.json'), '{"version": 1,');
    const broken = await runCli(['policy', 'import', join(dir, 'broken.json')], env);
    expect(broken.stderr).toMatch(/policy file "[^"]*broken\.json" is not valid JSON \(/);
    const out = join(dir, 'no-such-dir', 'policy.json');
    const exported = await runCli(['policy', 'export', '-o', out], env);
    expect(exported.code).not.toBe(0);
    expect(exported.stderr).toContain(`output file "${out}" is in a directory that does not exist`);
    // A forge that does not answer is named by its origin (never a credential).
    const down = await runCli(['policy', 'export'], {
      ...env,
      SCOPEGATE_UPSTREAM_URL: 'http://127.0.0.1:1/api/v4',
    });
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain(
      '(calling http://127.0.0.1:1; check SCOPEGATE_UPSTREAM_URL and that the forge answers)',
    );
    expect(down.stderr).not.toContain(upstream.token);
    for (const r of [none, missing, folder, broken, exported, down])
      expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('holds an import to SCOPEGATE_MAX_PROJECT_ENTRIES: --apply over the limit names it and writes nothing', async () => {
    const before = await runCli(['policy', 'export'], env);
    expect(before.code, before.stderr).toBe(0);
    const over = join(dir, 'over-limit.json');
    writeFileSync(
      over,
      JSON.stringify({
        version: 1,
        projects: {
          'acme/platform/registry': {
            entries: [
              { source: 'acme/apps/web', kind: 'PROJECT', defaultPermissions: true },
              { source: 'acme/apps/api', kind: 'PROJECT', defaultPermissions: true },
            ],
          },
        },
      }),
    );
    const res = await runCli(['policy', 'import', over, '--apply'], {
      ...env,
      SCOPEGATE_MAX_PROJECT_ENTRIES: '1',
    });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('a project may have at most 1 project entries');
    expect(res.stdout).not.toContain('applied');
    const after = await runCli(['policy', 'export'], env);
    expect(after.stdout).toBe(before.stdout);
  }, 60_000);

  it('refuses to run without Redis, naming the setting, and never prints the upstream credential', async () => {
    const res = await runCli(['policy', 'export'], { ...env, REDIS_URL: '' });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('"REDIS_URL" or "REDIS_CLUSTER_NODES" is required');
    expect(res.stdout + res.stderr).not.toContain(upstream.token);
  }, 60_000);
});
