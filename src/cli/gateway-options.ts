/**
 * The one translation of a `ResolvedConfig` into what the gateway, its verifier and its
 * upstream client take, shared by the demo and the fleet bootstraps so they cannot drift.
 */
import { sha256Hex } from '../audit/change-events.js';
import type { IssuerOptions } from '../auth/issuers.js';
import { createJwtVerifier, type JwtVerifier } from '../auth/verifier.js';
import { ConfigError, type ResolvedConfig } from '../config/config.js';
import type { GatewayOptions } from '../server/gateway.js';
import type { ManagementOptions } from '../server/management.js';
import type { MemoryProfileStoreOptions } from '../store/profile-store.js';
import type { RedisConnectionOptions } from '../store/redis-client.js';
import type { UpstreamClientOptions } from '../upstream/client.js';
import { readFileSync } from 'node:fs';

/** Gateway settings that come straight from configuration. */
export type ConfiguredGatewayOptions = Pick<
  GatewayOptions,
  | 'instance'
  | 'webhookSecret'
  | 'cursorSecrets'
  | 'metricsToken'
  | 'maxTokenLifetimeSeconds'
  | 'host'
  | 'port'
  | 'maxBodyBytes'
  | 'projectCache'
  | 'introspection'
  | 'anonymousIntrospection'
  | 'debugExtensions'
  | 'limits'
  | 'shutdownGraceMs'
> & { readonly management: ManagementOptions };

/** The gateway options configuration decides (the caller adds store, caches, logger, ...). */
export function gatewayOptionsFromConfig(config: ResolvedConfig): ConfiguredGatewayOptions {
  return {
    instance: {
      enforceAllowlistEverywhere: config.enforceAllowlistEverywhere,
      defaultEnforcement: config.defaultEnforcement,
    },
    webhookSecret: config.webhookSecret,
    cursorSecrets: config.cursorSecrets,
    metricsToken: config.metricsToken,
    maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
    host: config.host,
    port: config.port,
    maxBodyBytes: config.maxBodyBytes,
    projectCache: config.projectCache,
    introspection: config.introspection,
    // Anonymous introspection only in the demo, where a person explores the schema.
    anonymousIntrospection: config.demo,
    debugExtensions: config.debugExtensions,
    limits: config.limits,
    shutdownGraceMs: config.shutdownGraceMs,
    management: {
      streamMaxLen: config.audit.streamMaxLen,
      authLogBufferSize: config.audit.authLogBufferSize,
      authLogFlushIntervalMs: config.audit.authLogFlushIntervalMs,
    },
  };
}

/**
 * The profile store's entry limits and default enforcement (the enforcement of a profile its
 * first entry creates), for the memory store and the Redis store alike: every command that
 * writes profiles takes them from here, so the demo, `serve`, `check` and `policy` agree.
 */
export function profileStoreOptionsFromConfig(
  config: ResolvedConfig,
): Required<MemoryProfileStoreOptions> {
  return {
    maxProjectEntries: config.maxProjectEntries,
    maxGroupEntries: config.maxGroupEntries,
    defaultEnforcement: config.defaultEnforcement,
  };
}

/** The configured Redis (`REDIS_URL` or `REDIS_CLUSTER_NODES`); a `ConfigError` when neither is set. */
export function redisConnectionFromConfig(config: ResolvedConfig): RedisConnectionOptions {
  if (config.redis.url !== undefined) return { url: config.redis.url };
  if (config.redis.clusterNodes.length > 0) return { clusterNodes: config.redis.clusterNodes };
  throw new ConfigError('"REDIS_URL" or "REDIS_CLUSTER_NODES" is required: policies live in Redis');
}

/** The upstream client's options for a base URL and credential. */
export function upstreamOptionsFromConfig(
  config: ResolvedConfig,
  baseUrl: string,
  token: string,
): UpstreamClientOptions {
  return {
    baseUrl,
    token,
    timeoutMs: config.upstream.timeoutMs,
    shareReads: config.upstream.shareReads,
    resilience: {
      retries: config.upstream.retries,
      breakerThreshold: config.upstream.circuitBreaker.threshold,
      breakerCooldownMs: config.upstream.circuitBreaker.cooldownMs,
    },
  };
}

/** The token verifier for the configured issuers (plus any the caller adds, e.g. the dev key). */
export function verifierFromConfig(
  config: ResolvedConfig,
  issuers: readonly IssuerOptions[] = config.issuers,
): JwtVerifier {
  return createJwtVerifier({
    issuers: [...issuers],
    adminUserIds: config.adminUsers,
    clockToleranceSeconds: config.clockToleranceSeconds,
    maxLifetimeSeconds: config.maxTokenLifetimeSeconds,
    tokenCacheSize: config.tokenCache.size,
    tokenCacheTtlMs: config.tokenCache.ttlMs,
  });
}

/** Reads a `--policy FILE` as JSON; a clear one-line error otherwise. */
export function readPolicyFile(path: string): unknown {
  return readPolicyFileWithDigest(path).raw;
}

/**
 * What went wrong with a file, for a message naming it: `does not exist` (or, writing, `is in a
 * directory that does not exist`), `is a directory`, `cannot be read (permission denied)`, ...
 */
export function fileProblem(err: unknown, doing: 'read' | 'written'): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT')
    return doing === 'read' ? 'does not exist' : 'is in a directory that does not exist';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES') return `cannot be ${doing} (permission denied)`;
  return `cannot be ${doing} (${code ?? 'unknown error'})`;
}

/**
 * A JSON file's bytes and value; a `ConfigError` that says what is wrong (missing, a directory,
 * not readable, not JSON) and names the file as `label` (e.g. `"--policy" file`).
 */
export function readJsonFile(path: string, label: string): { raw: unknown; bytes: Buffer } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${label} "${path}" ${fileProblem(err, 'read')}`);
  }
  try {
    return { raw: JSON.parse(bytes.toString('utf8')), bytes };
  } catch (err) {
    throw new ConfigError(`${label} "${path}" is not valid JSON (${(err as Error).message})`);
  }
}

/** {@link readPolicyFile}, with the SHA-256 of the file's bytes (its import event names it). */
export function readPolicyFileWithDigest(
  path: string,
  label = '"--policy" file',
): { raw: unknown; sha256: string } {
  const { raw, bytes } = readJsonFile(path, label);
  return { raw, sha256: sha256Hex(bytes) };
}
