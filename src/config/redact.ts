/**
 * The configuration as `--print-config` shows it: every secret, token and credential-bearing
 * URL part redacted.
 */
import type { ResolvedConfig } from './config.js';

/**
 * A URL with its user information and query values hidden: a Redis URL may carry its password
 * in either (`redis://user:pw@host`, `?password=`); validation refuses both in the upstream URL,
 * and this keeps a secret out of `--print-config` should one ever get through.
 */
function redactUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return '[redacted]';
  }
  if (u.username || u.password) {
    u.username = '[redacted]';
    u.password = '';
  }
  for (const key of [...u.searchParams.keys()]) u.searchParams.set(key, '[redacted]');
  u.hash = '';
  return u.toString().replaceAll('%5Bredacted%5D', '[redacted]');
}

/** The configuration as `--print-config` shows it: secrets redacted. */
export function redactConfig(config: ResolvedConfig): Record<string, unknown> {
  const redact = (v: string | undefined) => (v === undefined ? undefined : '[redacted]');
  const redisUrl = config.redis.url && redactUrl(config.redis.url);
  return {
    ...config,
    upstream: {
      ...config.upstream,
      url: config.upstream.url && redactUrl(config.upstream.url),
      token: redact(config.upstream.token),
    },
    redis: { ...config.redis, url: redisUrl },
    webhookSecret: redact(config.webhookSecret),
    cursorSecrets: config.cursorSecrets.map(redact),
    metricsToken: redact(config.metricsToken),
  };
}
