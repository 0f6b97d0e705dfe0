/**
 * Configuration, parsed once: environment variables (DESIGN.md section 7) over an optional
 * config file (YAML or JSON, same names in camelCase), validated with zod into a frozen,
 * fully defaulted `ResolvedConfig`. A missing or wrong setting throws `ConfigError` with one
 * line naming the setting, and the gateway does not start.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { IssuerOptions } from '../auth/issuers.js';
import { ENFORCEMENT_MODES, type JobTokenEnforcement } from '../policy/types.js';

/** A configuration mistake; its message names the setting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Every default, in one place. */
export const DEFAULTS = Object.freeze({
  /** Interface to listen on. */
  host: '0.0.0.0',
  /** HTTP port. */
  port: 4000,
  /** Upstream call timeout, milliseconds. */
  upstreamTimeoutMs: 10_000,
  /** Allowed clock skew when checking `exp`/`nbf`/`iat`, seconds. */
  clockToleranceSeconds: 30,
  /** Longest accepted token lifetime (`exp - iat`), seconds. */
  maxTokenLifetimeSeconds: 86_400,
  /** Largest request body, bytes. */
  maxBodyBytes: 1_048_576,
  /** Turns DISABLED and AUDIT into ENFORCED for every project. */
  enforceAllowlistEverywhere: false,
  /** Enforcement of projects that have no profile. */
  defaultEnforcement: 'ENFORCED' as JobTokenEnforcement,
  /** Entry limits per target project. */
  maxProjectEntries: 200,
  maxGroupEntries: 200,
  /** Introspection for signed-in callers (always off for anonymous callers outside demo). */
  introspection: true,
  /** pino log level. */
  logLevel: 'info',
  /** Deepest field nesting of a GraphQL document. */
  maxDepth: 12,
  /** Most aliased fields in one operation. */
  maxAliases: 30,
  /** Most lexical tokens in one document. */
  maxTokens: 2_000,
  /** Highest estimated query cost (see `src/server/limits.ts`). */
  maxCost: 5_000,
  /** Requests per window per token (jti, else the user); 0 turns it off. Off without Redis. */
  rateLimitPerToken: 600,
  /** Requests per window per source project of job tokens; 0 turns it off. Off without Redis. */
  rateLimitPerSourceProject: 6_000,
  /** Rate limit window, seconds. */
  rateLimitWindowSeconds: 60,
  /** Retries of an idempotent upstream read after a network error or 502/503/504. */
  upstreamRetries: 2,
  /** Consecutive upstream failures that open the circuit breaker; 0 turns it off. */
  circuitBreakerThreshold: 5,
  /** How long an open circuit fails fast before one trial call, milliseconds. */
  circuitBreakerCooldownMs: 10_000,
  /** How long SIGTERM waits for in-flight requests before closing them, milliseconds. */
  shutdownGraceMs: 10_000,
});

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
    readonly circuitBreaker: { readonly threshold: number; readonly cooldownMs: number };
  };
  readonly issuers: readonly IssuerOptions[];
  readonly redis: {
    readonly url: string | undefined;
    readonly clusterNodes: readonly { host: string; port: number }[];
  };
  readonly adminUsers: readonly string[];
  readonly webhookSecret: string | undefined;
  readonly enforceAllowlistEverywhere: boolean;
  readonly defaultEnforcement: JobTokenEnforcement;
  readonly clockToleranceSeconds: number;
  readonly maxTokenLifetimeSeconds: number;
  readonly maxBodyBytes: number;
  readonly maxProjectEntries: number;
  readonly maxGroupEntries: number;
  readonly introspection: boolean;
  readonly logLevel: string;
  /** GraphQL document limits. */
  readonly limits: {
    readonly maxDepth: number;
    readonly maxAliases: number;
    readonly maxTokens: number;
    readonly maxCost: number;
  };
  /** Requests per window; 0 is off. Only enforced with Redis. */
  readonly rateLimit: {
    readonly perToken: number;
    readonly perSourceProject: number;
    readonly windowSeconds: number;
  };
  readonly shutdownGraceMs: number;
}

const url = z.string().refine((v) => /^https?:\/\/[^\s]+$/.test(v), 'must be an http or https URL');
const issuerSchema = z
  .object({
    issuer: z.string().min(1),
    kind: z.enum(['job', 'user', 'any']),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    jwksUri: url.optional(),
    jwksFile: z.string().min(1).optional(),
    algorithms: z.array(z.string()).optional(),
  })
  .refine((i) => !!i.jwksUri !== !!i.jwksFile, 'needs exactly one of "jwksUri" or "jwksFile"');

const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Settings: name in the environment, key in the config file, schema. */
const SETTINGS = {
  host: ['HOST', z.string().min(1)],
  port: ['PORT', int(0, 65_535)],
  upstreamUrl: ['SCOPEGATE_UPSTREAM_URL', url],
  upstreamToken: ['SCOPEGATE_UPSTREAM_TOKEN', z.string().min(1)],
  upstreamTimeoutMs: ['SCOPEGATE_UPSTREAM_TIMEOUT_MS', int(100, 120_000)],
  issuers: ['SCOPEGATE_ISSUERS', z.array(issuerSchema).min(1)],
  jwksUrl: ['SCOPEGATE_JWKS_URL', url],
  jwksFile: ['SCOPEGATE_JWKS_FILE', z.string().min(1)],
  issuer: ['SCOPEGATE_ISSUER', z.string().min(1)],
  audience: ['SCOPEGATE_AUDIENCE', z.string().min(1)],
  redisUrl: ['REDIS_URL', z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')],
  redisClusterNodes: [
    'REDIS_CLUSTER_NODES',
    z.string().regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, 'must be host:port,host:port'),
  ],
  adminUsers: [
    'SCOPEGATE_ADMIN_USERS',
    z.string().regex(/^\d+(,\d+)*$/, 'must be forge user ids separated by commas'),
  ],
  webhookSecret: ['SCOPEGATE_WEBHOOK_SECRET', z.string().min(16, 'must be at least 16 characters')],
  enforceAllowlistEverywhere: ['SCOPEGATE_ENFORCE_ALLOWLIST_EVERYWHERE', bool],
  defaultEnforcement: ['SCOPEGATE_DEFAULT_ENFORCEMENT', z.enum(ENFORCEMENT_MODES)],
  clockToleranceSeconds: ['SCOPEGATE_CLOCK_TOLERANCE_SECONDS', int(0, 300)],
  maxTokenLifetimeSeconds: ['SCOPEGATE_MAX_TOKEN_LIFETIME_SECONDS', int(60, 604_800)],
  maxBodyBytes: ['SCOPEGATE_MAX_BODY_BYTES', int(1024, 64 * 1024 * 1024)],
  maxProjectEntries: ['SCOPEGATE_MAX_PROJECT_ENTRIES', int(1, 10_000)],
  maxGroupEntries: ['SCOPEGATE_MAX_GROUP_ENTRIES', int(1, 10_000)],
  introspection: ['SCOPEGATE_INTROSPECTION', bool],
  logLevel: [
    'SCOPEGATE_LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  ],
  maxDepth: ['SCOPEGATE_MAX_DEPTH', int(1, 100)],
  maxAliases: ['SCOPEGATE_MAX_ALIASES', int(1, 1_000)],
  maxTokens: ['SCOPEGATE_MAX_TOKENS', int(10, 100_000)],
  maxCost: ['SCOPEGATE_MAX_COST', int(1, 10_000_000)],
  rateLimitPerToken: ['SCOPEGATE_RATE_LIMIT_PER_TOKEN', int(0, 1_000_000)],
  rateLimitPerSourceProject: ['SCOPEGATE_RATE_LIMIT_PER_SOURCE_PROJECT', int(0, 10_000_000)],
  rateLimitWindowSeconds: ['SCOPEGATE_RATE_LIMIT_WINDOW_SECONDS', int(1, 3_600)],
  upstreamRetries: ['SCOPEGATE_UPSTREAM_RETRIES', int(0, 5)],
  circuitBreakerThreshold: ['SCOPEGATE_CIRCUIT_BREAKER_THRESHOLD', int(0, 1_000)],
  circuitBreakerCooldownMs: ['SCOPEGATE_CIRCUIT_BREAKER_COOLDOWN_MS', int(100, 600_000)],
  shutdownGraceMs: ['SCOPEGATE_SHUTDOWN_GRACE_MS', int(0, 600_000)],
} as const;
type SettingKey = keyof typeof SETTINGS;

/** Settings that may be read from a file named by `<NAME>_FILE` (secrets). */
const FILE_SETTINGS: readonly SettingKey[] = ['upstreamToken', 'webhookSecret'];

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
    enforceAllowlistEverywhere: get(
      'enforceAllowlistEverywhere',
      DEFAULTS.enforceAllowlistEverywhere,
    ),
    defaultEnforcement: get('defaultEnforcement', DEFAULTS.defaultEnforcement),
    clockToleranceSeconds: get('clockToleranceSeconds', DEFAULTS.clockToleranceSeconds),
    maxTokenLifetimeSeconds: get('maxTokenLifetimeSeconds', DEFAULTS.maxTokenLifetimeSeconds),
    maxBodyBytes: get('maxBodyBytes', DEFAULTS.maxBodyBytes),
    maxProjectEntries: get('maxProjectEntries', DEFAULTS.maxProjectEntries),
    maxGroupEntries: get('maxGroupEntries', DEFAULTS.maxGroupEntries),
    introspection: get('introspection', DEFAULTS.introspection),
    logLevel: get('logLevel', DEFAULTS.logLevel),
    limits: Object.freeze({
      maxDepth: get('maxDepth', DEFAULTS.maxDepth),
      maxAliases: get('maxAliases', DEFAULTS.maxAliases),
      maxTokens: get('maxTokens', DEFAULTS.maxTokens),
      maxCost: get('maxCost', DEFAULTS.maxCost),
    }),
    rateLimit: Object.freeze({
      perToken: get('rateLimitPerToken', DEFAULTS.rateLimitPerToken),
      perSourceProject: get('rateLimitPerSourceProject', DEFAULTS.rateLimitPerSourceProject),
      windowSeconds: get('rateLimitWindowSeconds', DEFAULTS.rateLimitWindowSeconds),
    }),
    shutdownGraceMs: get('shutdownGraceMs', DEFAULTS.shutdownGraceMs),
  });
}

/** The configuration as `--print-config` shows it: secrets redacted. */
export function redactConfig(config: ResolvedConfig): Record<string, unknown> {
  const redact = (v: string | undefined) => (v === undefined ? undefined : '[redacted]');
  const redisUrl = config.redis.url?.replace(/\/\/([^@/]*)@/, '//[redacted]@');
  return {
    ...config,
    upstream: { ...config.upstream, token: redact(config.upstream.token) },
    redis: { ...config.redis, url: redisUrl },
    webhookSecret: redact(config.webhookSecret),
  };
}
