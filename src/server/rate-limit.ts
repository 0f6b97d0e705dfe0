/**
 * Rate limits in Redis, per token and per source project, in fixed windows: one Lua script
 * counts both keys in one round trip (INCR, PEXPIRE on the first hit, PTTL for `Retry-After`).
 * Both keys of a request share one hash tag, so the script runs unchanged on Redis Cluster.
 *
 * Rate limiting fails OPEN: when Redis errors or is slow, the request goes on uncounted (and
 * `onError` is told). Authorization fails CLOSED (DESIGN.md section 6); a rate limiter is a
 * safeguard for capacity, not a security boundary, and must not turn a Redis blip into an
 * outage of every read.
 */
import type { ServerResponse } from 'node:http';
import type { Principal } from '../auth/principal.js';
import { rateLimitedError } from '../errors/codes.js';
import { UnreachableCaseError } from '../errors/unreachable.js';
import { sendGraphQLError } from './http-utils.js';

/** The one Redis command the limiter needs; ioredis' `Redis` and `Cluster` both have it. */
export interface RateLimitRedis {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  readonly redis: RateLimitRedis;
  /** Requests per window per token (its `jti`, else its user); 0 turns this limit off. */
  readonly perToken: number;
  /** Requests per window per source project of job tokens; 0 turns this limit off. */
  readonly perSourceProject: number;
  /** Window length, seconds. */
  readonly windowSeconds: number;
  /** Longest wait for Redis before letting the request through uncounted, ms. Default 250. */
  readonly timeoutMs?: number;
  /** Key prefix. Default `sg`. */
  readonly keyPrefix?: string;
  /** Told when Redis failed and the request went through uncounted; must not throw. */
  readonly onError?: (err: unknown) => void;
}

/** The outcome of {@link RateLimiter.check}. */
export type RateLimitResult =
  | {
      readonly allowed: true;
      readonly counted: boolean;
      /** Redis failed or was too slow, so the request went through uncounted. */
      readonly failedOpen?: boolean;
    }
  | {
      readonly allowed: false;
      /** Whole seconds until the window that was exceeded ends (at least 1). */
      readonly retryAfterSeconds: number;
      readonly limit: 'token' | 'source_project';
    };

/** Counts a request against its principal's limits. */
export interface RateLimiter {
  check(principal: Principal): Promise<RateLimitResult>;
}

/**
 * KEYS: the token key, then (optionally) the source project key. ARGV: window ms, then the
 * limit of each key (0: not counted). Returns, per key, the count and its remaining ms.
 */
const SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[i + 1])
  if limit > 0 then
    local n = redis.call('INCR', key)
    if n == 1 then redis.call('PEXPIRE', key, ARGV[1]) end
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then redis.call('PEXPIRE', key, ARGV[1]); ttl = tonumber(ARGV[1]) end
    out[#out + 1] = n
    out[#out + 1] = ttl
  else
    out[#out + 1] = 0
    out[#out + 1] = 0
  end
end
return out
`;

const ALLOWED_UNCOUNTED: RateLimitResult = Object.freeze({ allowed: true, counted: false });
const ALLOWED: RateLimitResult = Object.freeze({ allowed: true, counted: true });
const FAILED_OPEN: RateLimitResult = Object.freeze({
  allowed: true,
  counted: false,
  failedOpen: true,
});

/**
 * The keys of a principal: `[tokenKey, projectKey?]` sharing one hash tag. Anonymous callers
 * have none: they reach only public data and are limited by the load balancer, not here.
 */
export function rateLimitKeys(principal: Principal, prefix = 'sg'): string[] {
  switch (principal.kind) {
    case 'job': {
      const tag = `${prefix}:{rl:p:${principal.projectId}}`;
      return [`${tag}:t:${principal.jti}`, `${tag}:project`];
    }
    case 'user':
      return [`${prefix}:{rl:u:${principal.userId}}:t:${principal.jti ?? 'user'}`];
    case 'anonymous':
      return [];
    default:
      throw new UnreachableCaseError(principal);
  }
}

function timeout(ms: number): Promise<never> {
  return new Promise((_, reject) => {
    setTimeout(() => reject(new Error('rate limiter timed out')), ms).unref();
  });
}

/** Creates the limiter; throws at start-up on a negative limit or a window under a second. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { perToken, perSourceProject, windowSeconds } = options;
  if (!Number.isInteger(perToken) || perToken < 0)
    throw new Error('"perToken" must be an integer >= 0');
  if (!Number.isInteger(perSourceProject) || perSourceProject < 0)
    throw new Error('"perSourceProject" must be an integer >= 0');
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1)
    throw new Error('"windowSeconds" must be an integer >= 1');
  const windowMs = windowSeconds * 1000;
  const timeoutMs = options.timeoutMs ?? 250;
  const prefix = options.keyPrefix ?? 'sg';
  return {
    async check(principal) {
      const keys = rateLimitKeys(principal, prefix);
      const limits = [perToken, perSourceProject].slice(0, keys.length);
      if (limits.every((l) => l === 0)) return ALLOWED_UNCOUNTED;
      let reply: unknown;
      try {
        reply = await Promise.race([
          options.redis.eval(SCRIPT, keys.length, ...keys, windowMs, ...limits),
          timeout(timeoutMs),
        ]);
      } catch (err) {
        options.onError?.(err);
        return FAILED_OPEN;
      }
      if (!Array.isArray(reply)) {
        options.onError?.(new Error('unexpected rate limiter reply'));
        return FAILED_OPEN;
      }
      for (let i = 0; i < limits.length; i++) {
        const limit = limits[i] ?? 0;
        const count = Number(reply[2 * i]);
        if (limit > 0 && count > limit) {
          const ttlMs = Number(reply[2 * i + 1]);
          return {
            allowed: false,
            retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
            limit: i === 0 ? 'token' : 'source_project',
          };
        }
      }
      return ALLOWED;
    },
  };
}

/** Answers 429 `RATE_LIMITED` with `Retry-After`, outside Apollo (nothing was parsed yet). */
export function sendRateLimited(
  res: ServerResponse,
  retryAfterSeconds: number,
  requestId: string,
): void {
  const err = rateLimitedError(retryAfterSeconds);
  sendGraphQLError(
    res,
    429,
    err.message,
    { code: err.extensions['code'], retryAfter: retryAfterSeconds },
    { 'retry-after': String(retryAfterSeconds), 'x-request-id': requestId },
  );
}

/**
 * The limiter for `ResolvedConfig.rateLimit`, or `undefined` when both limits are 0 or there
 * is no Redis (the demo): limits held in one process would not hold across a fleet.
 */
export function rateLimiterFromConfig(
  config: {
    readonly perToken: number;
    readonly perSourceProject: number;
    readonly windowSeconds: number;
  },
  redis: RateLimitRedis | undefined,
  onError?: (err: unknown) => void,
): RateLimiter | undefined {
  if (!redis || (config.perToken === 0 && config.perSourceProject === 0)) return undefined;
  return createRateLimiter({ redis, ...config, ...(onError ? { onError } : {}) });
}
