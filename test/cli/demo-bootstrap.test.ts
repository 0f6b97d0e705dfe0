/**
 * `serve --demo` as `bootstrap` builds it from configuration: the dev JWKS route answers like
 * every other route, and the in-memory store keeps the configured default enforcement and
 * entry limits as the Redis store does.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap, DEV_JWKS_PATH, type Running } from '../../src/cli/bootstrap.js';
import { loadConfig } from '../../src/config/config.js';

const ALICE_ID = 1;
const DEMO_ENV = {
  PORT: '0',
  SCOPEGATE_LOG_LEVEL: 'silent',
  SCOPEGATE_ADMIN_USERS: String(ALICE_ID),
  SCOPEGATE_DEFAULT_ENFORCEMENT: 'AUDIT',
  SCOPEGATE_MAX_PROJECT_ENTRIES: '1',
};

let running: Running;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-demo-bootstrap-'));
  running = await bootstrap(loadConfig(DEMO_ENV, { demo: true }));
});
afterAll(async () => {
  await running.close();
  rmSync(dir, { recursive: true, force: true });
});

async function gql(query: string): Promise<{ data?: unknown; errors?: { message: string }[] }> {
  const token = await running.devSigner?.signUserToken(ALICE_ID, { username: 'alice' });
  const res = await fetch(running.gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: unknown; errors?: { message: string }[] };
}

describe('scopegate serve --demo', () => {
  it('serves the dev JWKS with Cache-Control: no-store and the request id', async () => {
    const res = await fetch(`${running.gateway.url}${DEV_JWKS_PATH}`, {
      headers: { 'x-request-id': 'req-jwks-1' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toBe('req-jwks-1');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(running.devSigner?.jwks);
  });

  it('creates the profile of a project with none in SCOPEGATE_DEFAULT_ENFORCEMENT when its first entry is added', async () => {
    const scope = '{ project(fullPath: "acme/oss-lib") { jobTokenScope { enforcement } } }';
    expect(await gql(scope)).toEqual({
      data: { project: { jobTokenScope: { enforcement: 'AUDIT' } } },
    });
    const added = await gql(`mutation { jobTokenScopeAddEntry(input: {
      projectPath: "acme/oss-lib", sourcePath: "acme/apps/web", defaultPermissions: true
    }) { jobTokenScope { enforcement entries { source { fullPath } } } errors } }`);
    expect(added).toEqual({
      data: {
        jobTokenScopeAddEntry: {
          jobTokenScope: {
            enforcement: 'AUDIT',
            entries: [{ source: { fullPath: 'acme/apps/web' } }],
          },
          errors: [],
        },
      },
    });
  });

  it('refuses to start with a --policy file over SCOPEGATE_MAX_PROJECT_ENTRIES, naming the limit', async () => {
    const policyPath = join(dir, 'policy.json');
    writeFileSync(
      policyPath,
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
    await expect(bootstrap(loadConfig(DEMO_ENV, { demo: true }), { policyPath })).rejects.toThrow(
      'a project may have at most 1 project entries',
    );
  });
});
