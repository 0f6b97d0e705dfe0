/**
 * Wiring of the permission management API (issue 6) into the gateway: the change log (audit
 * events of profile changes), the authorization log (usage per target and source), and the
 * per-request hooks that feed the latter. With a Redis connection both also write to Redis;
 * without one (the demo) they keep to the JSON log and process memory.
 */
import type { Logger } from 'pino';
import {
  createAuthLog,
  createMemoryAuthLogBackend,
  withUsageHooks,
  type AuthLog,
} from '../audit/auth-log.js';
import { createRedisAuthLogBackend } from '../audit/auth-log-redis.js';
import { createChangeLog, type ChangeLog } from '../audit/change-events.js';
import type { DecisionHooks } from '../audit/decision-log.js';
import type { Principal } from '../auth/principal.js';
import type { InstanceSettings } from '../policy/types.js';
import type { ProfileStore } from '../store/profile-store.js';
import type { RedisConnection } from '../store/redis-client.js';
import type { UpstreamClient } from '../upstream/client.js';
import type { RestUser } from '../upstream/types.js';
import type { ManagementServices } from './context.js';

/** What a caller of `startGateway` may set for management and audit. */
export interface ManagementOptions {
  /** Redis for the change stream and the authorization log; absent: JSON log and memory. */
  readonly redis?: RedisConnection | undefined;
  /** Use this change log instead of building one. */
  readonly changeLog?: ChangeLog;
  /** Use this authorization log instead of building one (not closed by the gateway). */
  readonly authLog?: AuthLog;
  /** Most distinct checks (groups) held between flushes of the authorization log. Default 10 000. */
  readonly authLogBufferSize?: number;
  /** Authorization log flush period, ms. Default 1000. */
  readonly authLogFlushIntervalMs?: number;
  /** `MAXLEN ~` of the change and usage streams. Default 100 000. */
  readonly streamMaxLen?: number;
}

/** Shared dependencies the gateway already has. */
export interface ManagementDeps {
  readonly store: ProfileStore;
  readonly instance: InstanceSettings;
  readonly logger: Logger;
  readonly upstream: UpstreamClient;
  /** Called with the number of audit events (changes or usage checks) dropped; must not throw. */
  readonly onAuditDrop?: (count?: number) => void;
}

/** The gateway's management services and request hooks. */
export interface Management {
  readonly services: ManagementServices;
  /** The directive's observers for one request: decision log plus usage recording. */
  hooks(log: DecisionHooks, principal: Principal): ReturnType<typeof withUsageHooks>;
  close(): Promise<void>;
}

/** Builds the management services. */
export function createManagement(
  options: ManagementOptions = {},
  deps: ManagementDeps,
): Management {
  const changeLog =
    options.changeLog ??
    createChangeLog({
      logger: deps.logger,
      redis: options.redis,
      maxLen: options.streamMaxLen,
      onDrop: deps.onAuditDrop,
    });
  const ownAuthLog = options.authLog === undefined;
  const authLog =
    options.authLog ??
    createAuthLog({
      backend: options.redis
        ? createRedisAuthLogBackend({ redis: options.redis, streamMaxLen: options.streamMaxLen })
        : createMemoryAuthLogBackend(),
      bufferSize: options.authLogBufferSize,
      flushIntervalMs: options.authLogFlushIntervalMs,
      logger: deps.logger,
      onDrop: deps.onAuditDrop,
      lookupUser: async (id) => (await deps.upstream.find<RestUser>(`users/${id}`)) ?? null,
    });
  return {
    services: { store: deps.store, instance: deps.instance, changeLog, authLog },
    hooks: (log, principal) => withUsageHooks(log, authLog.hooks(principal)),
    async close() {
      if (ownAuthLog) await authLog.close();
    },
  };
}
