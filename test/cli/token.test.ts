/**
 * `scopegate token mint` signs with the demo's dev key only: any setting a production
 * configuration has, or a `--config` file, refuses it by name before a key is read.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runTokenMint } from '../../src/cli/token.js';
import { ConfigError } from '../../src/config/config.js';

const MINT = ['--project', 'acme/apps/web', '--user', 'bob'];
/** Every setting README calls production-only, in the order the refusal names them. */
const PRODUCTION_SETTINGS = [
  'SCOPEGATE_UPSTREAM_URL',
  'SCOPEGATE_UPSTREAM_TOKEN',
  'SCOPEGATE_UPSTREAM_TOKEN_FILE',
  'SCOPEGATE_ISSUERS',
  'SCOPEGATE_JWKS_URL',
  'SCOPEGATE_JWKS_FILE',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
];

beforeEach(() => {
  for (const name of PRODUCTION_SETTINGS) vi.stubEnv(name, '');
  // A key file that does not exist: a refusal must come before it is read.
  vi.stubEnv('SCOPEGATE_DEV_KEY_FILE', '/nonexistent/scopegate-dev-key.json');
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

async function refusal(argv: string[]): Promise<unknown> {
  const write = vi.spyOn(process.stdout, 'write');
  const err = await runTokenMint(argv).catch((e: unknown) => e);
  expect(write).not.toHaveBeenCalled();
  return err;
}

describe('scopegate token mint', () => {
  for (const name of PRODUCTION_SETTINGS) {
    it(`refuses to run when ${name} is set, naming it, and prints no token`, async () => {
      vi.stubEnv(name, 'set-by-production');
      const err = await refusal(MINT);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(
        `"token mint" signs with the dev key only and refuses to run with production settings (${name})`,
      );
    });
  }

  it('refuses to run with a --config file, naming it', async () => {
    const err = await refusal([...MINT, '--config', '/etc/scopegate/config.yaml']);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('production settings (--config)');
  });

  it('names every production setting present at once', async () => {
    vi.stubEnv('SCOPEGATE_JWKS_FILE', '/etc/scopegate/jwks.json');
    vi.stubEnv('SCOPEGATE_UPSTREAM_TOKEN_FILE', '/run/secrets/upstream-token');
    const err = await refusal([...MINT, '--config', 'prod.yaml']);
    expect((err as Error).message).toContain(
      '(SCOPEGATE_UPSTREAM_TOKEN_FILE, SCOPEGATE_JWKS_FILE, --config)',
    );
  });

  it('never puts the value of a production setting into the refusal', async () => {
    vi.stubEnv('SCOPEGATE_UPSTREAM_TOKEN', 'glpat-secret-upstream-credential');
    const err = await refusal(MINT);
    expect((err as Error).message).not.toContain('glpat-secret-upstream-credential');
  });
});
