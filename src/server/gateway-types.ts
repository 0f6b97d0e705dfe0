/**
 * What `startGateway` takes and gives: its options (built from configuration by the CLI, or
 * directly by tests and the benchmark) and the running gateway.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticate.js';
import type { RevocationList } from '../auth/revocation.js';
import type { DecisionCache } from '../cache/decision-cache.js';
import type { InstanceSettings } from '../policy/types.js';
import type { ProfileStore } from '../store/profile-store.js';
import type { UpstreamClientOptions } from '../upstream/client.js';
import type { RequestLimitOptions } from './limits.js';
import type { ManagementOptions } from './management.js';
import type { GatewayMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';

/** A plain route handler for extra GET endpoints (the demo's JWKS). */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Everything the gateway needs; built from configuration by the CLI, or directly by tests. */
export interface GatewayOptions {
  readonly upstream: UpstreamClientOptions;
  readonly authenticator: Authenticator;
  readonly revocations: RevocationList;
  readonly store: ProfileStore;
  /** Fleet mode: the process and Redis decision cache layers in front of `store`. */
  readonly decisions?: DecisionCache | undefined;
  /** `GET /readyz` answers 503 while this resolves false (Redis down). Default: always ready. */
  readonly readiness?: (() => Promise<boolean>) | undefined;
  /** Default: allowlist not enforced everywhere, projects with no profile ENFORCED. */
  readonly instance?: InstanceSettings;
  /** `POST /hooks/job-events`: the shared secret (absent: the hook answers 404). */
  readonly webhookSecret?: string | undefined;
  /**
   * Keys of connection cursors (`SCOPEGATE_CURSOR_SECRET`, then `_PREVIOUS`): the first seals
   * and opens, the rest only open. Default: the upstream credential, so rotating it refuses the
   * cursors clients hold.
   */
  readonly cursorSecrets?: readonly string[] | undefined;
  /** Longest token lifetime, seconds; a finished job's tokens are revoked for this long. Default 86 400. */
  readonly maxTokenLifetimeSeconds?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  readonly host?: string;
  /** Port; 0 picks a free one. Default 0. */
  readonly port?: number;
  /** Largest request body, bytes. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Allow introspection. Default true. */
  readonly introspection?: boolean;
  /** Allow introspection to anonymous callers too (the demo). Default false. */
  readonly anonymousIntrospection?: boolean;
  /** Depth, alias, token, cost and page limits of a document (`limits.ts` has defaults). */
  readonly limits?: RequestLimitOptions;
  /** Per-token and per-source-project limits (Redis); absent: no rate limiting. */
  readonly rateLimiter?: RateLimiter | undefined;
  /** Prometheus metrics served on `GET /metrics`. Default: a fresh registry per gateway. */
  readonly metrics?: GatewayMetrics;
  /**
   * `GET /metrics` answers only `Authorization: Bearer <metricsToken>` (else 401). Default: no
   * token, metrics for anyone who reaches the port (they count upstream calls, which tell a
   * hidden project from a missing one).
   */
  readonly metricsToken?: string | undefined;
  /** How long `close()` lets in-flight requests finish before cutting them, ms. Default 10 000. */
  readonly shutdownGraceMs?: number;
  /** Serve Apollo's landing page on `GET /graphql` from a browser. Default true. */
  readonly landingPage?: boolean;
  /** Extra GET routes by exact path. */
  readonly extraRoutes?: Readonly<Record<string, RouteHandler>>;
  /**
   * Project records shared by this process's requests (`project-cache.ts`); size or TTL 0
   * turns it off. Default {@link PROJECT_CACHE_DEFAULTS} (10 000 projects, 5 s).
   */
  readonly projectCache?: { readonly size: number; readonly ttlMs: number };
  /**
   * Answer `x-scopegate-debug: 1` with the request's Redis round trips
   * (`extensions.scopegate`). Default false: the counts tell a hidden project from a missing one.
   */
  readonly debugExtensions?: boolean;
  /** Benchmark baseline only: build the schema without the permission directive. */
  readonly authorization?: boolean;
  /** JSON logger for access lines and decision events. Default: silent. */
  readonly logger?: Logger;
  /** Permission management: change log and authorization log (Redis or memory). */
  readonly management?: ManagementOptions;
}

/** A running gateway. */
export interface Gateway {
  /** `http://host:port` */
  readonly url: string;
  /** `http://host:port/graphql` */
  readonly graphqlUrl: string;
  readonly server: Server;
  /**
   * Stops accepting connections at once, waits for in-flight requests (at most `graceMs`,
   * default `GatewayOptions.shutdownGraceMs`), then destroys what is left and stops Apollo.
   */
  close(options?: { readonly graceMs?: number }): Promise<void>;
}
