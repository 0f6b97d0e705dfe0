/**
 * `scopegate check`: the effective permissions of a job, by resource, with reasons and the
 * API's explanations, computed by the gateway's own decision path.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPermissions, formatPermissionTable } from '../../src/cli/check.js';
import { DEFAULT_INSTANCE_SETTINGS } from '../../src/policy/engine.js';
import { startDemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { parsePolicyFile } from '../../src/policy/policy-file.js';
import { resolvePolicyFile } from '../../src/store/policy-loader.js';
import { createRedisConnection, waitUntilReady } from '../../src/store/redis-client.js';
import { createRedisProfileStore } from '../../src/store/redis-profile-store.js';
import { createUpstreamClient } from '../../src/upstream/client.js';
import { cleanEnv } from '../helpers/cli.js';
import { startRedis } from '../helpers/redis.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

describe('scopegate check', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await createTestGateway({
      policy: {
        version: 1,
        projects: {
          'acme/platform/registry': {
            enforcement: 'ENFORCED',
            entries: [
              {
                source: 'acme/apps',
                kind: 'GROUP',
                permissions: { RELEASES: 'WRITE', TAGS: 'READ' },
                protectedRefsOnly: true,
              },
            ],
          },
        },
      },
    });
  });
  afterAll(async () => t.close());

  const sources = () => ({
    upstream: createClient(t),
    store: t.store,
  });

  it('gives each resource its level, reason and explanation for a protected ref', async () => {
    const { heading, rows } = await checkPermissions(sources(), DEFAULT_INSTANCE_SETTINGS, {
      source: 'acme/apps/web',
      target: 'acme/platform/registry',
      user: 'alice',
      protected: true,
    });
    expect(heading).toBe(
      'job in acme/apps/web triggered by alice (protected ref) -> acme/platform/registry',
    );
    expect(rows.map((r) => [r.resource, r.level])).toEqual([
      ['RELEASES', 'WRITE'],
      ['TAGS', 'READ'],
      ['CONTAINERS', 'NONE'],
      ['MERGE_REQUEST_NOTES', 'NONE'],
    ]);
    expect(rows[0]?.reason).toBe('ENTRY_GRANTS');
    for (const r of rows) expect(r.explanation.length).toBeGreaterThan(10);
  });

  it('caps an unprotected ref at READ when the entry asks for protected refs only', async () => {
    const { rows } = await checkPermissions(sources(), DEFAULT_INSTANCE_SETTINGS, {
      source: 'acme/apps/web',
      target: 'acme/platform/registry',
      user: 'alice',
      protected: false,
    });
    expect(rows[0]).toMatchObject({
      resource: 'RELEASES',
      level: 'READ',
      reason: 'UNPROTECTED_REF',
    });
  });

  it('names an unknown source, target or user', async () => {
    const args = {
      source: 'acme/apps/web',
      target: 'acme/platform/registry',
      user: 'alice',
      protected: true,
    };
    await expect(
      checkPermissions(sources(), DEFAULT_INSTANCE_SETTINGS, { ...args, source: 'no/such' }),
    ).rejects.toThrow('"--source": no forge project "no/such"');
    await expect(
      checkPermissions(sources(), DEFAULT_INSTANCE_SETTINGS, { ...args, target: 'no/such' }),
    ).rejects.toThrow('"--target": no forge project "no/such"');
    await expect(
      checkPermissions(sources(), DEFAULT_INSTANCE_SETTINGS, { ...args, user: 'nobody-here' }),
    ).rejects.toThrow('"--user": no forge user "nobody-here"');
  });

  it('aligns the table under its header', () => {
    const text = formatPermissionTable([
      { resource: 'RELEASES', level: 'READ', reason: 'ENTRY_LEVEL_TOO_LOW', explanation: 'why' },
    ]);
    expect(text.split('\n')).toEqual([
      'RESOURCE  LEVEL  REASON               EXPLANATION',
      'RELEASES  READ   ENTRY_LEVEL_TOO_LOW  why',
    ]);
  });

  it('prints the table from the command line against the demo forge', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'check',
        '--demo',
        '--source',
        'acme/apps/web',
        '--target',
        'acme/platform/registry',
        '--user',
        'alice',
        '--protected',
      ],
      { cwd: ROOT },
    );
    expect(stdout).toMatch(/^job in acme\/apps\/web triggered by alice \(protected ref\)/);
    expect(stdout).toMatch(/^RELEASES +READ +ENTRY_LEVEL_TOO_LOW +the group entry acme\/apps/m);
    expect(stdout).toMatch(/^RESOURCE +LEVEL +REASON +EXPLANATION$/m);
  });

  it('refuses to run without --source, --target and --user', async () => {
    await expect(
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check', '--demo'], {
        cwd: ROOT,
      }),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('"check" needs --source S --target T --user U'),
    });
  });
});

function createClient(t: TestGateway) {
  return createUpstreamClient({ baseUrl: t.upstream.url, token: t.upstream.token });
}

describe('scopegate check against a configured forge and Redis', () => {
  it('reads profiles from Redis and the forge from SCOPEGATE_UPSTREAM_URL, with no issuer configured', async () => {
    const redis = await startRedis();
    const forge = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
    const conn = createRedisConnection({ url: redis.url });
    try {
      await waitUntilReady(conn);
      const store = createRedisProfileStore({ redis: conn });
      const client = createUpstreamClient({ baseUrl: forge.url, token: forge.token });
      await store.replaceAll(
        await resolvePolicyFile(
          parsePolicyFile({
            version: 1,
            projects: {
              'acme/platform/registry': {
                enforcement: 'ENFORCED',
                entries: [
                  { source: 'acme/apps/web', kind: 'PROJECT', permissions: { TAGS: 'WRITE' } },
                ],
              },
            },
          }),
          client,
        ),
      );
      const { stdout } = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'check',
          '--source',
          'acme/apps/web',
          '--target',
          'acme/platform/registry',
          '--user',
          'alice',
          '--protected',
          '--json',
        ],
        {
          cwd: ROOT,
          // No SCOPEGATE_ISSUERS nor JWKS: check verifies no token, so it needs none.
          env: cleanEnv({
            SCOPEGATE_UPSTREAM_URL: forge.url,
            SCOPEGATE_UPSTREAM_TOKEN: forge.token,
            REDIS_URL: redis.url,
          }),
        },
      );
      const rows = JSON.parse(stdout) as { resource: string; level: string; reason: string }[];
      expect(rows.find((r) => r.resource === 'TAGS')).toMatchObject({
        level: 'WRITE',
        reason: 'ENTRY_GRANTS',
      });
      expect(rows.find((r) => r.resource === 'RELEASES')).toMatchObject({ level: 'NONE' });
    } finally {
      conn.disconnect();
      await forge.close();
      await redis.stop();
    }
  });

  it('names the missing Redis setting when neither REDIS_URL nor REDIS_CLUSTER_NODES is set', async () => {
    const forge = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
    try {
      await expect(
        run(
          process.execPath,
          [
            '--import',
            'tsx',
            'src/cli/main.ts',
            'check',
            '--source',
            'acme/apps/web',
            '--target',
            'acme/platform/registry',
            '--user',
            'alice',
          ],
          {
            cwd: ROOT,
            env: cleanEnv({
              SCOPEGATE_UPSTREAM_URL: forge.url,
              SCOPEGATE_UPSTREAM_TOKEN: forge.token,
            }),
          },
        ),
      ).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringContaining('"REDIS_URL" or "REDIS_CLUSTER_NODES" is required'),
      });
    } finally {
      await forge.close();
    }
  });
});
