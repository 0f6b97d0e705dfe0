/**
 * `serve` outside `--demo` (DESIGN.md section 7): the configured upstream and issuers, and
 * Redis (`REDIS_URL` or `REDIS_CLUSTER_NODES`) for profiles, revocations, the decision cache
 * and rate limits, so every instance of a fleet shares one policy.
 */
import { createChangeLog } from '../audit/change-events.js';
import { createLogger } from '../audit/logger.js';
import { createAuthenticator } from '../auth/authenticate.js';
import { createRedisRevocationList } from '../auth/revocation-redis.js';
import { createDecisionCache } from '../cache/decision-cache.js';
import { ConfigError, type ResolvedConfig } from '../config/config.js';
import { parsePolicyFile } from '../policy/policy-file.js';
import { startGateway } from '../server/gateway.js';
import { createGatewayMetrics } from '../server/metrics.js';
import { createRateLimiter } from '../server/rate-limit.js';
import { resolvePolicyFile } from '../store/policy-loader.js';
import {
  createRedisConnection,
  persistenceWarning,
  pingRedis,
  waitUntilReady,
  type RedisConnectionOptions,
} from '../store/redis-client.js';
import { createRedisProfileStore } from '../store/redis-profile-store.js';
import { createUpstreamClient } from '../upstream/client.js';
import type { BootstrapOptions, Running } from './bootstrap.js';
import { replaceAudited } from './policy.js';
import {
  gatewayOptionsFromConfig,
  profileStoreOptionsFromConfig,
  readPolicyFileWithDigest,
  upstreamOptionsFromConfig,
  verifierFromConfig,
} from './gateway-options.js';

/** How long start-up waits for Redis before giving up, ms. */
const REDIS_STARTUP_TIMEOUT_MS = 10_000;
/** Redis connection errors repeat on every reconnect attempt: log one per this many ms. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/** Starts scopegate against the configured forge and Redis. */
export async function bootstrapFleet(
  config: ResolvedConfig,
  options: BootstrapOptions = {},
): Promise<Running> {
  const { url, token } = config.upstream;
  if (!url || !token)
    throw new ConfigError('"SCOPEGATE_UPSTREAM_URL" is required (or run with --demo)');
  const logger = createLogger({ level: config.logLevel });
  let lastErrorLog = 0;
  const onRedisError = (err: unknown): void => {
    const now = Date.now();
    if (now - lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    lastErrorLog = now;
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'Redis error');
  };
  const connection: RedisConnectionOptions =
    config.redis.url !== undefined
      ? { url: config.redis.url }
      : { clusterNodes: config.redis.clusterNodes };
  const redis = createRedisConnection(connection, onRedisError);
  const closers: (() => Promise<void> | void)[] = [() => redis.disconnect()];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    await waitUntilReady(redis, REDIS_STARTUP_TIMEOUT_MS);
    const warning = await persistenceWarning(redis);
    if (warning) logger.warn(warning);
    const newSubscriber = () =>
      createRedisConnection({ ...connection, subscriber: true }, onRedisError);

    const store = createRedisProfileStore({
      redis,
      ...profileStoreOptionsFromConfig(config),
      // Neither the write nor its settling was answered: the audit trail may miss a change.
      onUncertainWrite: ({ projectId, writeId }) =>
        logger.error(
          { event: 'policy.writeUncertain', projectId, writeId },
          'a profile write was not answered and could not be settled: it may have been made without an audit event; its receipt key (…:{p:<projectId>}:w:<writeId>) holds the version it made, if any, for 10 minutes',
        ),
    });
    const decisions = createDecisionCache({
      redis,
      createSubscriber: newSubscriber,
      localChanges: store,
      onError: onRedisError,
      processMaxEntries: config.cache.processMaxEntries,
      processTtlMs: config.cache.processTtlMs,
      decisionTtlMs: config.cache.decisionTtlMs,
      roleTtlMs: config.cache.roleTtlMs,
    });
    await decisions.start();
    closers.push(() => decisions.close());
    const revocations = createRedisRevocationList({
      redis,
      createSubscriber: newSubscriber,
      onError: onRedisError,
    });
    await revocations.start();
    closers.push(() => revocations.close());

    const upstream = upstreamOptionsFromConfig(config, url, token);
    // Made before the import, so that an import event the stream refused is counted in
    // `scopegate_audit_events_dropped_total` like any other.
    const metrics = createGatewayMetrics();

    if (options.policyPath) {
      const { raw, sha256 } = readPolicyFileWithDigest(options.policyPath);
      const file = parsePolicyFile(raw);
      const profiles = await resolvePolicyFile(file, createUpstreamClient(upstream));
      // Diffed by ids against what is stored (no forge look-ups at every start); the change
      // stream records an import that changed something, so a restart that undoes changes made
      // through the API leaves a trace, and one that changes nothing leaves none.
      const changeLog = createChangeLog({
        logger,
        redis,
        maxLen: config.audit.streamMaxLen,
        onDrop: () => metrics.observeAuditDrop(),
      });
      await replaceAudited(store, profiles, Object.keys(file.projects), {
        changeLog,
        via: 'serve --policy',
        fileSha256: sha256,
      });
    }
    const verifier = verifierFromConfig(config);

    const { perToken, perSourceProject, windowSeconds } = config.rateLimit;
    const gateway = await startGateway({
      upstream,
      authenticator: createAuthenticator({ verifier, revocations }),
      revocations,
      store,
      decisions,
      readiness: () => pingRedis(redis),
      rateLimiter:
        perToken > 0 || perSourceProject > 0
          ? createRateLimiter({
              redis,
              perToken,
              perSourceProject,
              windowSeconds,
              onError: onRedisError,
            })
          : undefined,
      ...gatewayOptionsFromConfig(config),
      metrics,
      logger,
      // Change events and the authorization log go to Redis streams and hashes.
      management: { ...gatewayOptionsFromConfig(config).management, redis },
    });
    closers.push(() => gateway.close());
    return { gateway, config, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
