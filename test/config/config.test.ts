/**
 * Configuration: every required setting missing, and every setting malformed, stops start-up
 * with one line naming it; defaults; env over file; `*_FILE` secrets; `--print-config`
 * redaction (in process and from the command line).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULTS,
  loadConfig,
  unknownSettingVariables,
} from '../../src/config/config.js';
import { SETTINGS } from '../../src/config/settings.js';
import { redactConfig } from '../../src/config/redact.js';
import { upstreamOptionsFromConfig } from '../../src/cli/gateway-options.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'sg-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const UPSTREAM_TOKEN = 'glpat-upstream-credential-1234';
const WEBHOOK_SECRET = 'webhook-secret-0123456789abcdef';
const ISSUERS = JSON.stringify([
  {
    issuer: 'https://forge.example',
    kind: 'job',
    audience: 'sg',
    jwksUri: 'https://forge.example/jwks',
  },
]);

/** A complete production environment; each case removes or breaks one setting. */
const VALID: Readonly<Record<string, string>> = Object.freeze({
  SCOPEGATE_UPSTREAM_URL: 'https://forge.example/api/v4',
  SCOPEGATE_UPSTREAM_TOKEN: UPSTREAM_TOKEN,
  SCOPEGATE_ISSUERS: ISSUERS,
  REDIS_URL: 'redis://:redis-password@redis.internal:6379/0',
  SCOPEGATE_WEBHOOK_SECRET: WEBHOOK_SECRET,
});

/** The one line `loadConfig` throws for `env`, or `undefined` when it loads. */
function messageFor(env: Record<string, string | undefined>, demo = false): string | undefined {
  try {
    loadConfig(env, { demo });
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
}

describe('required settings', () => {
  it('loads a complete production environment', () => {
    expect(messageFor(VALID)).toBeUndefined();
  });

  it.each([
    ['SCOPEGATE_UPSTREAM_URL', '"SCOPEGATE_UPSTREAM_URL" is required (or run with --demo)'],
    [
      'SCOPEGATE_UPSTREAM_TOKEN',
      '"SCOPEGATE_UPSTREAM_TOKEN" or "SCOPEGATE_UPSTREAM_TOKEN_FILE" is required',
    ],
    [
      'SCOPEGATE_ISSUERS',
      '"SCOPEGATE_ISSUERS" or "SCOPEGATE_JWKS_URL"/"SCOPEGATE_JWKS_FILE" is required',
    ],
    [
      'REDIS_URL',
      '"REDIS_URL" or "REDIS_CLUSTER_NODES" is required outside --demo: policies must survive a restart',
    ],
  ])('names %s when it is missing', (name, message) => {
    expect(messageFor({ ...VALID, [name]: undefined })).toBe(message);
    // An empty value counts as missing.
    expect(messageFor({ ...VALID, [name]: '' })).toBe(message);
  });

  it('requires none of them in --demo', () => {
    expect(messageFor({}, true)).toBeUndefined();
  });

  it('needs the issuer and audience with the JWKS shortcut', () => {
    const base = { ...VALID, SCOPEGATE_ISSUERS: undefined, SCOPEGATE_JWKS_URL: 'https://f/jwks' };
    expect(messageFor(base)).toBe(
      '"SCOPEGATE_ISSUER" is required with "SCOPEGATE_JWKS_URL" or "SCOPEGATE_JWKS_FILE"',
    );
    expect(messageFor({ ...base, SCOPEGATE_ISSUER: 'https://f' })).toBe(
      '"SCOPEGATE_AUDIENCE" is required with "SCOPEGATE_JWKS_URL" or "SCOPEGATE_JWKS_FILE"',
    );
    expect(
      messageFor({ ...base, SCOPEGATE_ISSUER: 'https://f', SCOPEGATE_AUDIENCE: 'sg' }),
    ).toBeUndefined();
  });
});

describe('malformed settings', () => {
  it.each([
    ['PORT', '70000', '"PORT" must be an integer from 0 to 65535'],
    ['PORT', 'abc', '"PORT" must be an integer from 0 to 65535'],
    [
      'SCOPEGATE_UPSTREAM_URL',
      'ftp://forge',
      '"SCOPEGATE_UPSTREAM_URL" must be an http or https URL',
    ],
    [
      'SCOPEGATE_UPSTREAM_TIMEOUT_MS',
      '5',
      '"SCOPEGATE_UPSTREAM_TIMEOUT_MS" must be an integer from',
    ],
    ['SCOPEGATE_ISSUERS', 'not json', '"SCOPEGATE_ISSUERS" must be a JSON array'],
    [
      'SCOPEGATE_ISSUERS',
      '[{"issuer":"x","kind":"robot","audience":"a","jwksUri":"https://x"}]',
      '"SCOPEGATE_ISSUERS" Invalid option',
    ],
    [
      'SCOPEGATE_ISSUERS',
      '[{"issuer":"x","kind":"job","audience":"a"}]',
      '"SCOPEGATE_ISSUERS" needs exactly one of "jwksUri" or "jwksFile" (at 0)',
    ],
    ['REDIS_URL', 'http://redis:6379', '"REDIS_URL" must be a redis:// or rediss:// URL'],
    // A credential in the forge URL would be printed, proxied and logged: it goes in the token.
    ...[
      'https://u:pw@forge.example/api/v4',
      'https://forge.example/api/v4?private_token=qqq',
      'https://forge.example/api/v4#x',
    ].map((v) => [
      'SCOPEGATE_UPSTREAM_URL',
      v,
      '"SCOPEGATE_UPSTREAM_URL" must be an http or https URL without credentials, query or fragment (the token goes in SCOPEGATE_UPSTREAM_TOKEN)',
    ]),
    [
      'SCOPEGATE_ADMIN_USERS',
      'alice,bob',
      '"SCOPEGATE_ADMIN_USERS" must be forge user ids separated by commas',
    ],
    [
      'SCOPEGATE_WEBHOOK_SECRET',
      'short',
      '"SCOPEGATE_WEBHOOK_SECRET" must be at least 16 characters',
    ],
    [
      'SCOPEGATE_ENFORCE_ALLOWLIST_EVERYWHERE',
      'yes',
      '"SCOPEGATE_ENFORCE_ALLOWLIST_EVERYWHERE" Invalid option',
    ],
    ['SCOPEGATE_DEFAULT_ENFORCEMENT', 'STRICT', '"SCOPEGATE_DEFAULT_ENFORCEMENT" Invalid option'],
    ['SCOPEGATE_LOG_LEVEL', 'loud', '"SCOPEGATE_LOG_LEVEL" Invalid option'],
    ['SCOPEGATE_MAX_BODY_BYTES', '10', '"SCOPEGATE_MAX_BODY_BYTES" must be an integer from'],
    ['SCOPEGATE_MAX_DEPTH', '0', '"SCOPEGATE_MAX_DEPTH" must be an integer from'],
    ['SCOPEGATE_MAX_ALIASES', '1.5', '"SCOPEGATE_MAX_ALIASES" must be an integer from'],
    ['SCOPEGATE_MAX_TOKENS', '-1', '"SCOPEGATE_MAX_TOKENS" must be an integer from'],
    ['SCOPEGATE_MAX_COST', 'lots', '"SCOPEGATE_MAX_COST" must be an integer from'],
    [
      'SCOPEGATE_RATE_LIMIT_PER_TOKEN',
      '-5',
      '"SCOPEGATE_RATE_LIMIT_PER_TOKEN" must be an integer from',
    ],
    [
      'SCOPEGATE_RATE_LIMIT_WINDOW_SECONDS',
      '0',
      '"SCOPEGATE_RATE_LIMIT_WINDOW_SECONDS" must be an integer from',
    ],
    ['SCOPEGATE_UPSTREAM_RETRIES', '9', '"SCOPEGATE_UPSTREAM_RETRIES" must be an integer from'],
    ['SCOPEGATE_UPSTREAM_SHARE_READS', 'off', '"SCOPEGATE_UPSTREAM_SHARE_READS" Invalid option'],
    [
      'SCOPEGATE_CIRCUIT_BREAKER_COOLDOWN_MS',
      '1',
      '"SCOPEGATE_CIRCUIT_BREAKER_COOLDOWN_MS" must be an integer from',
    ],
    [
      'SCOPEGATE_SHUTDOWN_GRACE_MS',
      'soon',
      '"SCOPEGATE_SHUTDOWN_GRACE_MS" must be an integer from',
    ],
    // 0 would make the process cache unbounded (size) or never expire (TTL) in lru-cache.
    [
      'SCOPEGATE_DECISION_CACHE_SIZE',
      '0',
      '"SCOPEGATE_DECISION_CACHE_SIZE" must be an integer from',
    ],
    [
      'SCOPEGATE_DECISION_CACHE_TTL_MS',
      '0',
      '"SCOPEGATE_DECISION_CACHE_TTL_MS" must be an integer from',
    ],
    [
      'SCOPEGATE_ROLE_CACHE_TTL_SECONDS',
      '0',
      '"SCOPEGATE_ROLE_CACHE_TTL_SECONDS" must be an integer from',
    ],
    [
      'SCOPEGATE_DECISION_REDIS_TTL_SECONDS',
      '86400',
      '"SCOPEGATE_DECISION_REDIS_TTL_SECONDS" must be an integer from',
    ],
    [
      'SCOPEGATE_AUDIT_STREAM_MAXLEN',
      '10',
      '"SCOPEGATE_AUDIT_STREAM_MAXLEN" must be an integer from',
    ],
    [
      'SCOPEGATE_AUTH_LOG_BUFFER_SIZE',
      'x',
      '"SCOPEGATE_AUTH_LOG_BUFFER_SIZE" must be an integer from',
    ],
    ['SCOPEGATE_AUTH_LOG_FLUSH_MS', '5', '"SCOPEGATE_AUTH_LOG_FLUSH_MS" must be an integer from'],
    ['SCOPEGATE_TOKEN_CACHE_SIZE', '-1', '"SCOPEGATE_TOKEN_CACHE_SIZE" must be an integer from'],
    [
      'SCOPEGATE_TOKEN_CACHE_TTL_MS',
      '999',
      '"SCOPEGATE_TOKEN_CACHE_TTL_MS" must be an integer from',
    ],
    [
      'SCOPEGATE_TOKEN_CACHE_TTL_MS',
      '3600000',
      '"SCOPEGATE_TOKEN_CACHE_TTL_MS" must be an integer from',
    ],
    [
      'SCOPEGATE_PROJECT_CACHE_SIZE',
      '-1',
      '"SCOPEGATE_PROJECT_CACHE_SIZE" must be an integer from',
    ],
    [
      'SCOPEGATE_PROJECT_CACHE_TTL_MS',
      '60001',
      '"SCOPEGATE_PROJECT_CACHE_TTL_MS" must be an integer from',
    ],
    [
      'SCOPEGATE_PROJECT_CACHE_TTL_MS',
      '1.5',
      '"SCOPEGATE_PROJECT_CACHE_TTL_MS" must be an integer from',
    ],
  ])('names %s=%j', (name, value, message) => {
    expect(messageFor({ ...VALID, [name]: value })).toMatch(
      new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
  });

  it('refuses settings that exclude each other', () => {
    expect(messageFor({ ...VALID, REDIS_CLUSTER_NODES: 'a:1,b:2' })).toBe(
      '"REDIS_URL" and "REDIS_CLUSTER_NODES" are exclusive',
    );
    expect(messageFor({ ...VALID, SCOPEGATE_JWKS_URL: 'https://f/jwks' })).toBe(
      '"SCOPEGATE_ISSUERS" cannot be combined with "SCOPEGATE_JWKS_URL"/"SCOPEGATE_JWKS_FILE"',
    );
  });
});

describe('sources and defaults', () => {
  it('fills every default', () => {
    const c = loadConfig(VALID);
    expect(c.port).toBe(DEFAULTS.port);
    expect(c.limits).toEqual({
      maxDepth: 12,
      maxAliases: 30,
      maxTokens: 2000,
      maxCost: 10_000,
      maxPages: 100,
    });
    expect(c.rateLimit).toEqual({ perToken: 600, perSourceProject: 6000, windowSeconds: 60 });
    expect(c.upstream).toMatchObject({
      retries: 2,
      shareReads: true,
      circuitBreaker: { threshold: 5, cooldownMs: 10_000 },
    });
    const unshared = loadConfig({ ...VALID, SCOPEGATE_UPSTREAM_SHARE_READS: 'false' });
    expect(unshared.upstream.shareReads).toBe(false);
    expect(upstreamOptionsFromConfig(unshared, 'http://forge/api/v4', 't').shareReads).toBe(false);
    expect(upstreamOptionsFromConfig(c, 'http://forge/api/v4', 't').shareReads).toBe(true);
    expect(c.shutdownGraceMs).toBe(10_000);
    expect(c.cache).toEqual({
      processMaxEntries: 10_000,
      processTtlMs: 5_000,
      decisionTtlMs: 60_000,
      roleTtlMs: 60_000,
    });
    expect(c.audit).toEqual({
      streamMaxLen: 100_000,
      authLogBufferSize: 10_000,
      authLogFlushIntervalMs: 1_000,
    });
    expect(c.tokenCache).toEqual({ size: 10_000, ttlMs: 60_000 });
    expect(loadConfig({ ...VALID, SCOPEGATE_TOKEN_CACHE_SIZE: '0' }).tokenCache.size).toBe(0);
    expect(c.projectCache).toEqual({ size: 10_000, ttlMs: 5_000 });
    expect(
      loadConfig({
        ...VALID,
        SCOPEGATE_PROJECT_CACHE_TTL_MS: '0',
        SCOPEGATE_PROJECT_CACHE_SIZE: '50',
      }).projectCache,
    ).toEqual({ size: 50, ttlMs: 0 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads secrets from *_FILE, trimmed, and names an unreadable one', () => {
    const env = {
      ...VALID,
      SCOPEGATE_UPSTREAM_TOKEN: undefined,
      SCOPEGATE_UPSTREAM_TOKEN_FILE: file('upstream-token', `${UPSTREAM_TOKEN}\n`),
      SCOPEGATE_WEBHOOK_SECRET: undefined,
      SCOPEGATE_WEBHOOK_SECRET_FILE: file('webhook-secret', WEBHOOK_SECRET),
      SCOPEGATE_METRICS_TOKEN_FILE: file('metrics-token', 'metrics-token-0123456789\n'),
    };
    const c = loadConfig(env);
    expect(c.upstream.token).toBe(UPSTREAM_TOKEN);
    expect(c.webhookSecret).toBe(WEBHOOK_SECRET);
    expect(c.metricsToken).toBe('metrics-token-0123456789');
    expect(JSON.stringify(redactConfig(c))).not.toContain('metrics-token-0123456789');
    expect(loadConfig(VALID).metricsToken).toBeUndefined();
    // Sent as a bearer token: a space or a non-ASCII character could never be matched.
    expect(messageFor({ ...VALID, SCOPEGATE_METRICS_TOKEN: 'has a space 0123456789' })).toBe(
      '"SCOPEGATE_METRICS_TOKEN" must be printable ASCII without spaces (it is sent as a bearer token)',
    );
    expect(messageFor({ ...env, SCOPEGATE_UPSTREAM_TOKEN_FILE: join(dir, 'absent') })).toBe(
      '"SCOPEGATE_UPSTREAM_TOKEN_FILE" names a file that cannot be read',
    );
    // A secret read from a file is validated like one from the environment.
    expect(
      messageFor({ ...env, SCOPEGATE_WEBHOOK_SECRET_FILE: file('short-secret', 'short') }),
    ).toBe('"SCOPEGATE_WEBHOOK_SECRET_FILE" must be at least 16 characters');
  });

  it('reads the cursor keys, the previous one only beside a current one, and never prints them', () => {
    expect(loadConfig(VALID).cursorSecrets).toEqual([]);
    const c = loadConfig({
      ...VALID,
      SCOPEGATE_CURSOR_SECRET_FILE: file('cursor-secret', 'cursor-secret-new-0123456789\n'),
      SCOPEGATE_CURSOR_SECRET_PREVIOUS: 'cursor-secret-old-0123456789',
    });
    expect(c.cursorSecrets).toEqual([
      'cursor-secret-new-0123456789',
      'cursor-secret-old-0123456789',
    ]);
    expect(JSON.stringify(redactConfig(c))).not.toContain('cursor-secret');
    expect(
      messageFor({ ...VALID, SCOPEGATE_CURSOR_SECRET_PREVIOUS: 'cursor-secret-old-0123456789' }),
    ).toBe(
      '"SCOPEGATE_CURSOR_SECRET_PREVIOUS" needs "SCOPEGATE_CURSOR_SECRET" (the key cursors are made with)',
    );
    expect(messageFor({ ...VALID, SCOPEGATE_CURSOR_SECRET: 'short' })).toBe(
      '"SCOPEGATE_CURSOR_SECRET" must be at least 16 characters',
    );
  });

  it('takes the environment over the config file, and names bad file settings', () => {
    const yaml = file('c.yaml', 'port: 5000\nmaxDepth: 8\nlogLevel: warn\n');
    const c = loadConfig({ ...VALID, SCOPEGATE_LOG_LEVEL: 'debug' }, { file: yaml });
    expect([c.port, c.limits.maxDepth, c.logLevel]).toEqual([5000, 8, 'debug']);
    expect(() => loadConfig(VALID, { file: file('bad.yaml', 'prot: 1\n') })).toThrow(
      /unknown setting "prot"/,
    );
    expect(() => loadConfig(VALID, { file: file('bad2.json', '{"port": 99999}') })).toThrow(
      /^config file setting "port" must be an integer from 0 to 65535/,
    );
  });
});

describe('--print-config', () => {
  it('redacts the upstream token, the webhook secret and the Redis password', () => {
    const text = JSON.stringify(redactConfig(loadConfig(VALID)));
    expect(text).not.toContain(UPSTREAM_TOKEN);
    expect(text).not.toContain(WEBHOOK_SECRET);
    expect(text).not.toContain('redis-password');
    expect(text).toContain('redis://[redacted]@redis.internal:6379/0');
  });

  it('never echoes a refused upstream URL, and hides credentials in one that got through', () => {
    const message = messageFor({
      ...VALID,
      SCOPEGATE_UPSTREAM_URL: 'https://u:pw-secret@forge.example/api/v4?private_token=qqq-secret',
    });
    expect(message).toMatch(/^"SCOPEGATE_UPSTREAM_URL" must be/);
    expect(message).not.toMatch(/secret/);
    const config = loadConfig(VALID);
    const leaky = {
      ...config,
      upstream: {
        ...config.upstream,
        url: 'https://u:pw-secret@f.example/api?private_token=t-secret',
      },
    };
    const text = JSON.stringify(redactConfig(leaky));
    expect(text).not.toContain('secret');
    expect(text).toContain('f.example/api');
    // A Redis password with an "@" in it, or given as a query parameter, is hidden too.
    for (const url of [
      'redis://default:s3cr@tPW-secret@redis.internal:6379/0',
      'redis://redis.internal:6379/0?password=pw-secret',
    ]) {
      const printed = JSON.stringify(redactConfig(loadConfig({ ...VALID, REDIS_URL: url })));
      expect(printed).not.toContain('secret');
      expect(printed).toContain('redis.internal:6379/0');
    }
  });

  it('prints the redacted configuration from the command line, and one line for a bad setting', async () => {
    const run = promisify(execFile);
    const env = { ...process.env, ...VALID };
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--print-config'],
      { cwd: ROOT, env },
    );
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    expect(printed['webhookSecret']).toBe('[redacted]');
    expect(stdout).not.toContain(UPSTREAM_TOKEN);
    await expect(
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--print-config'], {
        cwd: ROOT,
        env: { ...env, SCOPEGATE_MAX_DEPTH: 'deep' },
      }),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /^scopegate: "SCOPEGATE_MAX_DEPTH" must be an integer from [^\n]*\n$/,
      ),
    });
    // A misspelt variable is not silently ignored: it is named, with the setting it resembles.
    const typo = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--print-config'],
      { cwd: ROOT, env: { ...env, SCOPEGATE_MAX_DEPHT: '3', SCOPEGATE_SOMETHING: 'x' } },
    );
    expect(typo.stderr).toContain(
      'scopegate: warning: "SCOPEGATE_MAX_DEPHT" is not a setting and is ignored (did you mean "SCOPEGATE_MAX_DEPTH"?)',
    );
    expect(typo.stderr).toContain('"SCOPEGATE_SOMETHING" is not a setting and is ignored\n');
    expect(typo.stderr).not.toContain("'3'");
    expect(JSON.parse(typo.stdout)).toMatchObject({ limits: { maxDepth: 12 } });
    // Even when the misspelt setting is a required one: the warning comes first.
    const { SCOPEGATE_UPSTREAM_URL: url, ...withoutUrl } = env;
    await expect(
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--print-config'], {
        cwd: ROOT,
        env: { ...withoutUrl, SCOPEGATE_UPSTREAM_UR: url },
      }),
    ).rejects.toMatchObject({
      stderr: expect.stringMatching(
        /^scopegate: warning: "SCOPEGATE_UPSTREAM_UR" is not a setting and is ignored \(did you mean "SCOPEGATE_UPSTREAM_URL"\?\)\nscopegate: "SCOPEGATE_UPSTREAM_URL" is required/,
      ),
    });
  });

  it('lists the SCOPEGATE_ variables that name no setting, and never their values', () => {
    expect(
      unknownSettingVariables({
        ...VALID,
        SCOPEGATE_UPSTREAM_TOKEN_FILE: '/run/secrets/t',
        SCOPEGATE_DEV_KEY_FILE: '/tmp/k.json',
        SCOPEGATE_WEBHOK_SECRET: 'secret-value',
        SCOPEGATE_ZZZ: 'x',
        HOME: '/root',
      }),
    ).toEqual([
      { name: 'SCOPEGATE_WEBHOK_SECRET', suggestion: 'SCOPEGATE_WEBHOOK_SECRET' },
      { name: 'SCOPEGATE_ZZZ' },
    ]);
  });
});

describe('config file keys (README "Configuration")', () => {
  it('are the variable names in camelCase without SCOPEGATE_, with one documented exception', () => {
    const camel = (env: string) =>
      env
        .replace(/^SCOPEGATE_/, '')
        .toLowerCase()
        .replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const odd = Object.entries(SETTINGS)
      .filter(([key, [env]]) => camel(env) !== key)
      .map(([key, [env]]) => `${env} -> ${key}`);
    expect(odd).toEqual(['SCOPEGATE_AUDIT_STREAM_MAXLEN -> auditStreamMaxLen']);
  });

  it('are all listed in the README table', () => {
    const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'));
    const table = section.slice(0, section.indexOf('\n## ', 5));
    // The first cell of every row, which may name several variables (`PORT`, `HOST`).
    const listed = new Set(
      table
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) =>
          [...(line.split('|')[1] ?? '').matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]),
        ),
    );
    for (const [env] of Object.values(SETTINGS)) expect(listed).toContain(env);
  });
});
