/**
 * The table of settings: each one's name in the environment, its key in a config file, its
 * schema, and its default. `config.ts` reads and resolves them.
 */
import { z } from 'zod';
import { ENFORCEMENT_MODES, type JobTokenEnforcement } from '../policy/types.js';

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
  /** Verified tokens remembered per process (by SHA-256); 0 verifies every request's token. */
  tokenCacheSize: 10_000,
  /** Longest a verified token is remembered before its signature is checked again, ms. */
  tokenCacheTtlMs: 60_000,
  /** Project records shared by a process's requests; 0 asks the forge on every request. */
  projectCacheSize: 10_000,
  /** Longest a project record (visibility, feature levels, path) is used after it was fetched, ms. */
  projectCacheTtlMs: 5_000,
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
  /** Answer `x-scopegate-debug: 1` with a request's Redis round trips (an existence oracle). */
  debugExtensions: false,
  /** pino log level. */
  logLevel: 'info',
  /** Deepest field nesting of a GraphQL document. */
  maxDepth: 12,
  /** Most aliased fields in one operation. */
  maxAliases: 30,
  /** Most lexical tokens in one document. */
  maxTokens: 2_000,
  /** Highest estimated query cost (see `src/server/operation-cost.ts`). */
  maxCost: 10_000,
  /** Most list pages one operation may ask for (see `src/server/operation-cost.ts`). */
  maxPages: 100,
  /** Requests per window per token (jti, else the user); 0 turns it off. Off without Redis. */
  rateLimitPerToken: 600,
  /** Requests per window per source project of job tokens; 0 turns it off. Off without Redis. */
  rateLimitPerSourceProject: 6_000,
  /** Rate limit window, seconds. */
  rateLimitWindowSeconds: 60,
  /** Retries of an idempotent upstream read after a network error or 502/503/504. */
  upstreamRetries: 2,
  /** Identical reads of concurrent requests share one upstream call (`shared-reads.ts`). */
  upstreamShareReads: true,
  /** Consecutive upstream failures that open the circuit breaker; 0 turns it off. */
  circuitBreakerThreshold: 5,
  /** How long an open circuit fails fast before one trial call, milliseconds. */
  circuitBreakerCooldownMs: 10_000,
  /** How long SIGTERM waits for in-flight requests before closing them, milliseconds. */
  shutdownGraceMs: 10_000,
  /** Decisions held per process (the LRU in front of Redis). */
  decisionCacheSize: 10_000,
  /** Process-cache TTL, ms: the staleness bound should a pub/sub invalidation be lost. */
  decisionCacheTtlMs: 5_000,
  /** Longest life of a decision in Redis, seconds (also bounded by the token's `exp`). */
  decisionRedisTtlSeconds: 60,
  /** Life of a member role read from the forge, seconds (`jobTokenRolesDrop` drops it early). */
  roleCacheTtlSeconds: 60,
  /** `MAXLEN ~` of the audit streams (profile changes, raw usage events). */
  auditStreamMaxLen: 100_000,
  /** Distinct checks (groups) held between flushes of the authorization log; a new one beyond it drops. */
  authLogBufferSize: 10_000,
  /** Authorization log flush period, ms. */
  authLogFlushMs: 1_000,
});

const url = z.string().refine((v) => /^https?:\/\/[^\s]+$/.test(v), 'must be an http or https URL');
/**
 * The forge's API base: an http(s) URL with no credentials, query or fragment. The service
 * credential goes in `SCOPEGATE_UPSTREAM_TOKEN` (sent as a header); one in the URL would be
 * printed by `--print-config`, kept in logs of proxies and lost when paths are appended.
 */
const upstreamUrl = url.refine((v) => {
  try {
    const u = new URL(v);
    return u.username === '' && u.password === '' && u.search === '' && u.hash === '';
  } catch {
    return false;
  }
}, 'must be an http or https URL without credentials, query or fragment (the token goes in SCOPEGATE_UPSTREAM_TOKEN)');
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
const int = (min: number, max: number) => {
  const error = `must be an integer from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};

/** Settings: name in the environment, key in the config file, schema. */
export const SETTINGS = {
  host: ['HOST', z.string().min(1)],
  port: ['PORT', int(0, 65_535)],
  upstreamUrl: ['SCOPEGATE_UPSTREAM_URL', upstreamUrl],
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
  cursorSecret: ['SCOPEGATE_CURSOR_SECRET', z.string().min(16, 'must be at least 16 characters')],
  cursorSecretPrevious: [
    'SCOPEGATE_CURSOR_SECRET_PREVIOUS',
    z.string().min(16, 'must be at least 16 characters'),
  ],
  metricsToken: [
    'SCOPEGATE_METRICS_TOKEN',
    z
      .string()
      .min(16, 'must be at least 16 characters')
      .regex(
        /^[\x21-\x7e]+$/,
        'must be printable ASCII without spaces (it is sent as a bearer token)',
      ),
  ],
  enforceAllowlistEverywhere: ['SCOPEGATE_ENFORCE_ALLOWLIST_EVERYWHERE', bool],
  defaultEnforcement: ['SCOPEGATE_DEFAULT_ENFORCEMENT', z.enum(ENFORCEMENT_MODES)],
  clockToleranceSeconds: ['SCOPEGATE_CLOCK_TOLERANCE_SECONDS', int(0, 300)],
  maxTokenLifetimeSeconds: ['SCOPEGATE_MAX_TOKEN_LIFETIME_SECONDS', int(60, 604_800)],
  tokenCacheSize: ['SCOPEGATE_TOKEN_CACHE_SIZE', int(0, 10_000_000)],
  tokenCacheTtlMs: ['SCOPEGATE_TOKEN_CACHE_TTL_MS', int(1_000, 600_000)],
  projectCacheSize: ['SCOPEGATE_PROJECT_CACHE_SIZE', int(0, 1_000_000)],
  projectCacheTtlMs: ['SCOPEGATE_PROJECT_CACHE_TTL_MS', int(0, 60_000)],
  maxBodyBytes: ['SCOPEGATE_MAX_BODY_BYTES', int(1024, 64 * 1024 * 1024)],
  maxProjectEntries: ['SCOPEGATE_MAX_PROJECT_ENTRIES', int(1, 10_000)],
  maxGroupEntries: ['SCOPEGATE_MAX_GROUP_ENTRIES', int(1, 10_000)],
  introspection: ['SCOPEGATE_INTROSPECTION', bool],
  debugExtensions: ['SCOPEGATE_DEBUG_EXTENSIONS', bool],
  logLevel: [
    'SCOPEGATE_LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  ],
  maxDepth: ['SCOPEGATE_MAX_DEPTH', int(1, 100)],
  maxAliases: ['SCOPEGATE_MAX_ALIASES', int(1, 1_000)],
  maxTokens: ['SCOPEGATE_MAX_TOKENS', int(10, 100_000)],
  maxCost: ['SCOPEGATE_MAX_COST', int(1, 10_000_000)],
  maxPages: ['SCOPEGATE_MAX_PAGES', int(1, 100_000)],
  rateLimitPerToken: ['SCOPEGATE_RATE_LIMIT_PER_TOKEN', int(0, 1_000_000)],
  rateLimitPerSourceProject: ['SCOPEGATE_RATE_LIMIT_PER_SOURCE_PROJECT', int(0, 10_000_000)],
  rateLimitWindowSeconds: ['SCOPEGATE_RATE_LIMIT_WINDOW_SECONDS', int(1, 3_600)],
  upstreamRetries: ['SCOPEGATE_UPSTREAM_RETRIES', int(0, 5)],
  upstreamShareReads: ['SCOPEGATE_UPSTREAM_SHARE_READS', bool],
  circuitBreakerThreshold: ['SCOPEGATE_CIRCUIT_BREAKER_THRESHOLD', int(0, 1_000)],
  circuitBreakerCooldownMs: ['SCOPEGATE_CIRCUIT_BREAKER_COOLDOWN_MS', int(100, 600_000)],
  shutdownGraceMs: ['SCOPEGATE_SHUTDOWN_GRACE_MS', int(0, 600_000)],
  decisionCacheSize: ['SCOPEGATE_DECISION_CACHE_SIZE', int(1, 10_000_000)],
  decisionCacheTtlMs: ['SCOPEGATE_DECISION_CACHE_TTL_MS', int(100, 60_000)],
  decisionRedisTtlSeconds: ['SCOPEGATE_DECISION_REDIS_TTL_SECONDS', int(1, 3_600)],
  roleCacheTtlSeconds: ['SCOPEGATE_ROLE_CACHE_TTL_SECONDS', int(1, 3_600)],
  auditStreamMaxLen: ['SCOPEGATE_AUDIT_STREAM_MAXLEN', int(100, 100_000_000)],
  authLogBufferSize: ['SCOPEGATE_AUTH_LOG_BUFFER_SIZE', int(1, 10_000_000)],
  authLogFlushMs: ['SCOPEGATE_AUTH_LOG_FLUSH_MS', int(100, 600_000)],
} as const;
/** The key of one setting (its name in a config file). */
export type SettingKey = keyof typeof SETTINGS;
