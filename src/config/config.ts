/**
 * Configuration, parsed once: environment variables (DESIGN.md section 7) over an optional
 * config file (YAML or JSON, same names in camelCase), validated with zod into a frozen,
 * fully defaulted `ResolvedConfig`. A missing or wrong setting throws `ConfigError` with one
 * line naming the setting, and the gateway does not start.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { IssuerOptions } from '../auth/issuers.js';
import type { JobTokenEnforcement } from '../policy/types.js';
import { DEFAULTS, SETTINGS, type SettingKey } from './settings.js';

export { DEFAULTS } from './settings.js';

/** A configuration mistake; its message names the setting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The resolved configuration. */
export interface ResolvedConfig {
  readonly demo: boolean;
  readonly host: string;
  readonly port: number;
  readonly upstream: {
    readonly url: string | undefined;
    readonly token: string | undefined;
    readonly timeoutMs: number;
    /** Retries of idempotent reads. */
    readonly retries: number;
    /** Identical reads of concurrent requests share one call. */
    readonly shareReads: boolean;
    readonly circuitBreaker: { readonly threshold: number; readonly cooldownMs: number };
  };
  readonly issuers: readonly IssuerOptions[];
  readonly redis: {
    readonly url: string | undefined;
    readonly clusterNodes: readonly { host: string; port: number }[];
  };
  readonly adminUsers: readonly string[];
  readonly webhookSecret: string | undefined;
  /**
   * Keys of connection cursors: the first seals and opens, the second only opens (a rotation).
   * Empty: cursors are keyed by the upstream credential.
   */
  readonly cursorSecrets: readonly string[];
  /** `GET /metrics` asks for `Authorization: Bearer <this>`; absent: served to anyone. */
  readonly metricsToken: string | undefined;
  readonly enforceAllowlistEverywhere: boolean;
  readonly defaultEnforcement: JobTokenEnforcement;
  readonly clockToleranceSeconds: number;
  readonly maxTokenLifetimeSeconds: number;
  /** The verifier's cache of verified tokens (size 0: off). */
  readonly tokenCache: { readonly size: number; readonly ttlMs: number };
  /** Project records shared by the requests of a process (size or TTL 0: off). */
  readonly projectCache: { readonly size: number; readonly ttlMs: number };
  readonly maxBodyBytes: number;
  readonly maxProjectEntries: number;
  readonly maxGroupEntries: number;
  readonly introspection: boolean;
  /** `x-scopegate-debug: 1` answered with the request's Redis round trips. */
  readonly debugExtensions: boolean;
  readonly logLevel: string;
  /** GraphQL document limits. */
  readonly limits: {
    readonly maxDepth: number;
    readonly maxAliases: number;
    readonly maxTokens: number;
    readonly maxCost: number;
    readonly maxPages: number;
  };
  /** Requests per window; 0 is off. Only enforced with Redis. */
  readonly rateLimit: {
    readonly perToken: number;
    readonly perSourceProject: number;
    readonly windowSeconds: number;
  };
  readonly shutdownGraceMs: number;
  /** The decision cache of a fleet (Redis mode). */
  readonly cache: {
    readonly processMaxEntries: number;
    readonly processTtlMs: number;
    readonly decisionTtlMs: number;
    readonly roleTtlMs: number;
  };
  /** Audit streams and the authorization log's buffer. */
  readonly audit: {
    readonly streamMaxLen: number;
    readonly authLogBufferSize: number;
    readonly authLogFlushIntervalMs: number;
  };
}

/** Settings that may be read from a file named by `<NAME>_FILE` (secrets). */
const FILE_SETTINGS: readonly SettingKey[] = [
  'upstreamToken',
  'webhookSecret',
  'metricsToken',
  'cursorSecret',
  'cursorSecretPrevious',
];

/** What {@link loadConfig} reads besides the environment. */
export interface LoadConfigOptions {
  /** `--config FILE`: YAML or JSON. */
  readonly file?: string | undefined;
  /** `--demo`: embedded upstream, in-memory store, dev key; relaxes what is required. */
  readonly demo?: boolean;
}

function readFileValue(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    throw new ConfigError(`"${name}" names a file that cannot be read`);
  }
}

function loadFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`"--config" names a file that cannot be read: ${path}`);
  }
  try {
    const data: unknown = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (data === null || typeof data !== 'object' || Array.isArray(data))
      throw new Error('not an object');
    for (const key of Object.keys(data)) {
      if (!(key in SETTINGS))
        throw new ConfigError(`config file ${path}: unknown setting "${key}"`);
    }
    return data as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`config file ${path} is not valid YAML or JSON object`);
  }
}

/** Reads, validates and freezes the configuration. Throws `ConfigError` naming the bad setting. */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: LoadConfigOptions = {},
): ResolvedConfig {
  const file = options.file ? loadFile(options.file) : {};
  const raw: Partial<Record<SettingKey, unknown>> = {};
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const [name, schema] = SETTINGS[key];
    let value: unknown = file[key];
    let source = `config file setting "${key}"`;
    const fromEnv = env[name];
    const fromFile = env[`${name}_FILE`];
    if (fromEnv !== undefined && fromEnv !== '') {
      value = key === 'issuers' ? parseJsonSetting(name, fromEnv) : fromEnv;
      source = `"${name}"`;
    } else if (fromFile && FILE_SETTINGS.includes(key)) {
      value = readFileValue(`${name}_FILE`, fromFile);
      source = `"${name}_FILE"`;
    }
    if (value === undefined) continue;
    const parsed = schema.safeParse(
      typeof value === 'number' || typeof value === 'boolean' ? String(value) : value,
    );
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` (at ${issue.path.join('.')})` : '';
      throw new ConfigError(`${source} ${issue?.message ?? 'is invalid'}${where}`);
    }
    raw[key] = parsed.data;
  }
  return resolve(raw, options.demo ?? false);
}

/** Variables read outside the settings table (the demo's signing key file). */
const OTHER_VARIABLES: readonly string[] = ['SCOPEGATE_DEV_KEY_FILE'];

/** Edit distance of two short strings (for "did you mean"). */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const next = [i];
    for (let j = 1; j <= b.length; j += 1)
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length] ?? 0;
}

/**
 * The `SCOPEGATE_*` variables of `env` that name no setting: a typo is otherwise silently
 * ignored (a config file's unknown key is an error). Each with the closest known name, if any
 * is close. Values are never read.
 */
export function unknownSettingVariables(
  env: Readonly<Record<string, string | undefined>>,
): { readonly name: string; readonly suggestion?: string }[] {
  const known = new Set<string>(OTHER_VARIABLES);
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const [name] = SETTINGS[key];
    known.add(name);
    if (FILE_SETTINGS.includes(key)) known.add(`${name}_FILE`);
  }
  return Object.keys(env)
    .filter((name) => name.startsWith('SCOPEGATE_') && !known.has(name))
    .sort()
    .map((name) => {
      let best: string | undefined;
      let bestDistance = 4; // at most 3 edits away
      for (const k of known) {
        const d = distance(name, k);
        if (d < bestDistance) [best, bestDistance] = [k, d];
      }
      return best === undefined ? { name } : { name, suggestion: best };
    });
}

function parseJsonSetting(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(`"${name}" must be a JSON array`);
  }
}

function resolve(raw: Partial<Record<SettingKey, unknown>>, demo: boolean): ResolvedConfig {
  const get = <T>(k: SettingKey, d: T): T => (raw[k] === undefined ? d : (raw[k] as T));
  let issuers = get<IssuerOptions[]>('issuers', []);
  const jwksUrl = get<string | undefined>('jwksUrl', undefined);
  const jwksFile = get<string | undefined>('jwksFile', undefined);
  if (issuers.length > 0 && (jwksUrl || jwksFile)) {
    throw new ConfigError(
      '"SCOPEGATE_ISSUERS" cannot be combined with "SCOPEGATE_JWKS_URL"/"SCOPEGATE_JWKS_FILE"',
    );
  }
  if (jwksUrl && jwksFile)
    throw new ConfigError('"SCOPEGATE_JWKS_URL" and "SCOPEGATE_JWKS_FILE" are exclusive');
  if (jwksUrl || jwksFile) {
    const issuer = get<string | undefined>('issuer', undefined);
    const audience = get<string | undefined>('audience', undefined);
    if (!issuer)
      throw new ConfigError(
        '"SCOPEGATE_ISSUER" is required with "SCOPEGATE_JWKS_URL" or "SCOPEGATE_JWKS_FILE"',
      );
    if (!audience)
      throw new ConfigError(
        '"SCOPEGATE_AUDIENCE" is required with "SCOPEGATE_JWKS_URL" or "SCOPEGATE_JWKS_FILE"',
      );
    issuers = [
      {
        issuer,
        kind: 'any',
        audience,
        ...(jwksUrl ? { jwksUri: jwksUrl } : { jwksFile: jwksFile as string }),
      },
    ];
  }
  const upstreamUrl = get<string | undefined>('upstreamUrl', undefined);
  const upstreamToken = get<string | undefined>('upstreamToken', undefined);
  const redisUrl = get<string | undefined>('redisUrl', undefined);
  const nodes = get<string | undefined>('redisClusterNodes', undefined);
  if (!demo) {
    if (!upstreamUrl)
      throw new ConfigError('"SCOPEGATE_UPSTREAM_URL" is required (or run with --demo)');
    if (!upstreamToken)
      throw new ConfigError(
        '"SCOPEGATE_UPSTREAM_TOKEN" or "SCOPEGATE_UPSTREAM_TOKEN_FILE" is required',
      );
    if (issuers.length === 0)
      throw new ConfigError(
        '"SCOPEGATE_ISSUERS" or "SCOPEGATE_JWKS_URL"/"SCOPEGATE_JWKS_FILE" is required',
      );
    if (!redisUrl && !nodes) {
      throw new ConfigError(
        '"REDIS_URL" or "REDIS_CLUSTER_NODES" is required outside --demo: policies must survive a restart',
      );
    }
  }
  if (redisUrl && nodes)
    throw new ConfigError('"REDIS_URL" and "REDIS_CLUSTER_NODES" are exclusive');
  const adminUsers = get<string | undefined>('adminUsers', undefined);
  return Object.freeze({
    demo,
    host: get('host', demo ? '127.0.0.1' : DEFAULTS.host),
    port: get('port', DEFAULTS.port),
    upstream: Object.freeze({
      url: upstreamUrl,
      token: upstreamToken,
      timeoutMs: get('upstreamTimeoutMs', DEFAULTS.upstreamTimeoutMs),
      retries: get('upstreamRetries', DEFAULTS.upstreamRetries),
      shareReads: get('upstreamShareReads', DEFAULTS.upstreamShareReads),
      circuitBreaker: Object.freeze({
        threshold: get('circuitBreakerThreshold', DEFAULTS.circuitBreakerThreshold),
        cooldownMs: get('circuitBreakerCooldownMs', DEFAULTS.circuitBreakerCooldownMs),
      }),
    }),
    issuers: Object.freeze(issuers),
    redis: Object.freeze({
      url: redisUrl,
      clusterNodes: Object.freeze(
        (nodes ?? '')
          .split(',')
          .filter(Boolean)
          .map((n) => {
            const [host, port] = n.split(':');
            return { host: host as string, port: Number(port) };
          }),
      ),
    }),
    adminUsers: Object.freeze(adminUsers ? adminUsers.split(',') : []),
    webhookSecret: get<string | undefined>('webhookSecret', undefined),
    cursorSecrets: cursorSecrets(
      get<string | undefined>('cursorSecret', undefined),
      get<string | undefined>('cursorSecretPrevious', undefined),
    ),
    metricsToken: get<string | undefined>('metricsToken', undefined),
    enforceAllowlistEverywhere: get(
      'enforceAllowlistEverywhere',
      DEFAULTS.enforceAllowlistEverywhere,
    ),
    defaultEnforcement: get('defaultEnforcement', DEFAULTS.defaultEnforcement),
    clockToleranceSeconds: get('clockToleranceSeconds', DEFAULTS.clockToleranceSeconds),
    maxTokenLifetimeSeconds: get('maxTokenLifetimeSeconds', DEFAULTS.maxTokenLifetimeSeconds),
    tokenCache: Object.freeze({
      size: get('tokenCacheSize', DEFAULTS.tokenCacheSize),
      ttlMs: get('tokenCacheTtlMs', DEFAULTS.tokenCacheTtlMs),
    }),
    projectCache: Object.freeze({
      size: get('projectCacheSize', DEFAULTS.projectCacheSize),
      ttlMs: get('projectCacheTtlMs', DEFAULTS.projectCacheTtlMs),
    }),
    maxBodyBytes: get('maxBodyBytes', DEFAULTS.maxBodyBytes),
    maxProjectEntries: get('maxProjectEntries', DEFAULTS.maxProjectEntries),
    maxGroupEntries: get('maxGroupEntries', DEFAULTS.maxGroupEntries),
    introspection: get('introspection', DEFAULTS.introspection),
    debugExtensions: get('debugExtensions', DEFAULTS.debugExtensions),
    logLevel: get('logLevel', DEFAULTS.logLevel),
    limits: Object.freeze({
      maxDepth: get('maxDepth', DEFAULTS.maxDepth),
      maxAliases: get('maxAliases', DEFAULTS.maxAliases),
      maxTokens: get('maxTokens', DEFAULTS.maxTokens),
      maxCost: get('maxCost', DEFAULTS.maxCost),
      maxPages: get('maxPages', DEFAULTS.maxPages),
    }),
    rateLimit: Object.freeze({
      perToken: get('rateLimitPerToken', DEFAULTS.rateLimitPerToken),
      perSourceProject: get('rateLimitPerSourceProject', DEFAULTS.rateLimitPerSourceProject),
      windowSeconds: get('rateLimitWindowSeconds', DEFAULTS.rateLimitWindowSeconds),
    }),
    shutdownGraceMs: get('shutdownGraceMs', DEFAULTS.shutdownGraceMs),
    cache: Object.freeze({
      processMaxEntries: get('decisionCacheSize', DEFAULTS.decisionCacheSize),
      processTtlMs: get('decisionCacheTtlMs', DEFAULTS.decisionCacheTtlMs),
      decisionTtlMs: get('decisionRedisTtlSeconds', DEFAULTS.decisionRedisTtlSeconds) * 1000,
      roleTtlMs: get('roleCacheTtlSeconds', DEFAULTS.roleCacheTtlSeconds) * 1000,
    }),
    audit: Object.freeze({
      streamMaxLen: get('auditStreamMaxLen', DEFAULTS.auditStreamMaxLen),
      authLogBufferSize: get('authLogBufferSize', DEFAULTS.authLogBufferSize),
      authLogFlushIntervalMs: get('authLogFlushMs', DEFAULTS.authLogFlushMs),
    }),
  });
}

/** The cursor keys: a previous one needs a current one (it only opens what was made before). */
function cursorSecrets(current: string | undefined, previous: string | undefined): string[] {
  if (current === undefined) {
    if (previous !== undefined)
      throw new ConfigError(
        '"SCOPEGATE_CURSOR_SECRET_PREVIOUS" needs "SCOPEGATE_CURSOR_SECRET" (the key cursors are made with)',
      );
    return [];
  }
  return previous === undefined ? [current] : [current, previous];
}
