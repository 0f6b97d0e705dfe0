/**
 * Prometheus metrics (`GET /metrics`) on prom-client with the gateway's own `Registry`, so two
 * gateways in one process (tests) never share counters. Every label has a bounded set of
 * values: operations are named by type and root fields (fixed by the schema), never by the
 * client's operation name; no label ever carries a token, a user or a project path.
 */
import type { ServerResponse } from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { Kind, type OperationDefinitionNode } from 'graphql';
import type { DecisionHooks } from '../audit/decision-log.js';
import type { TokenCacheStats } from '../auth/verifier.js';
import type { DecisionCacheLayer } from '../cache/request-authorizer.js';
import type { UpstreamCallInfo, UpstreamClientOptions } from '../upstream/client.js';
import type { ProjectCacheStats } from '../upstream/project-cache.js';
import type { BreakerState } from '../upstream/resilience.js';
import type { GatewayContext } from './context.js';

/** The gateway's metrics and the hooks that feed them. */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** An HTTP request finished (every route; `route` is one of the known paths or `other`). */
  observeHttp(route: string, status: number, seconds: number): void;
  /** An upstream call finished (`UpstreamClientOptions.onCall`). */
  observeUpstream(call: UpstreamCallInfo): void;
  /** A forge read joined an identical call instead of making its own (`onSharedRead`). */
  observeSharedRead(): void;
  /** The upstream circuit breaker changed state. */
  observeBreaker(state: BreakerState): void;
  /** A request was refused by a rate limit, or the limiter failed open. */
  observeRateLimit(outcome: 'token' | 'source_project' | 'failed_open'): void;
  /** A decision cache look-up (for the cache layers to call). */
  observeCacheLookup(layer: DecisionCacheLayer, hit: boolean): void;
  /** Audit events (one by default) could not be written (for the audit streams to call). */
  observeAuditDrop(count?: number): void;
  /** Where the verified-token cache's counts are read at each scrape. */
  watchTokenCache(read: () => TokenCacheStats | undefined): void;
  /** Where the project cache's counts are read at each scrape. */
  watchProjectCache(read: () => ProjectCacheStats | undefined): void;
  /** Decision observers to combine with the decision log's. */
  readonly decisionHooks: DecisionHooks;
  /** Apollo plugin: requests by operation and outcome, latency, Redis round trips. */
  plugin(): ApolloServerPlugin<GatewayContext>;
  /** Answers `GET /metrics`. */
  serve(res: ServerResponse): Promise<void>;
}

/** Options of {@link createGatewayMetrics}. */
export interface GatewayMetricsOptions {
  /** Also export Node's process metrics (CPU, memory, event loop lag). Default true. */
  readonly processMetrics?: boolean;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Counts a process cache keeps itself: hits and misses since start, entries now. */
interface CacheCounts {
  readonly hits: number;
  readonly misses: number;
  /** Misses that joined a look-up already in flight (project cache only). */
  readonly shared?: number;
  readonly entries: number;
}

/**
 * `scopegate_<name>_cache_lookups_total{result}` and `scopegate_<name>_cache_entries`, read at
 * each scrape from whatever `watch` was given (zero until then).
 */
function cacheMetrics(
  registers: Registry[],
  name: string,
  help: { readonly lookups: string; readonly entries: string },
): { watch(read: () => CacheCounts | undefined): void } {
  let read: () => CacheCounts | undefined = () => undefined;
  new Counter({
    name: `scopegate_${name}_cache_lookups_total`,
    help: help.lookups,
    labelNames: ['result'] as const,
    registers,
    collect() {
      const s = read();
      this.reset();
      this.inc({ result: 'hit' }, s?.hits ?? 0);
      this.inc({ result: 'miss' }, s?.misses ?? 0);
      if (s?.shared !== undefined) this.inc({ result: 'shared' }, s.shared);
    },
  });
  new Gauge({
    name: `scopegate_${name}_cache_entries`,
    help: help.entries,
    registers,
    collect() {
      this.set(read()?.entries ?? 0);
    },
  });
  return { watch: (r) => void (read = r) };
}

/** Names an operation by type and sorted root fields, e.g. `query:project`. */
export function operationLabel(operation: OperationDefinitionNode | undefined): string {
  if (!operation) return 'invalid';
  const roots = new Set<string>();
  for (const s of operation.selectionSet.selections)
    roots.add(s.kind === Kind.FIELD ? s.name.value : 'fragment');
  return `${operation.operation}:${[...roots].sort().join(',')}`;
}

function statusClass(status: UpstreamCallInfo['status']): string {
  return typeof status === 'number' ? `${Math.floor(status / 100)}xx` : status;
}

/** Creates the metrics with their own registry. */
export function createGatewayMetrics(options: GatewayMetricsOptions = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const http = new Counter({
    name: 'scopegate_http_requests_total',
    help: 'HTTP requests by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers,
  });
  const httpSeconds = new Histogram({
    name: 'scopegate_http_request_duration_seconds',
    help: 'HTTP request latency by route.',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const operations = new Counter({
    name: 'scopegate_graphql_operations_total',
    help: 'GraphQL operations by operation (type:root fields) and outcome (ok, partial, error).',
    labelNames: ['operation', 'outcome'] as const,
    registers,
  });
  const operationSeconds = new Histogram({
    name: 'scopegate_graphql_operation_duration_seconds',
    help: 'GraphQL operation latency by operation.',
    labelNames: ['operation'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const errors = new Counter({
    name: 'scopegate_graphql_errors_total',
    help: 'GraphQL errors by extensions.code.',
    labelNames: ['code'] as const,
    registers,
  });
  const decisions = new Counter({
    name: 'scopegate_authz_decisions_total',
    help: 'Observed authorization decisions (denials, allowed writes, AUDIT would-denies) by result and reason.',
    labelNames: ['result', 'resource', 'reason'] as const,
    registers,
  });
  const upstream = new Counter({
    name: 'scopegate_upstream_requests_total',
    help: 'Upstream calls by method and result (2xx..5xx, network_error, timeout, circuit_open).',
    labelNames: ['method', 'result'] as const,
    registers,
  });
  const upstreamSeconds = new Histogram({
    name: 'scopegate_upstream_request_duration_seconds',
    help: 'Upstream call latency by method.',
    labelNames: ['method'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const retries = new Counter({
    name: 'scopegate_upstream_retries_total',
    help: 'Upstream GETs tried again after a retryable failure.',
    registers,
  });
  const sharedReads = new Counter({
    name: 'scopegate_upstream_shared_reads_total',
    help: 'Upstream reads that joined an identical call on its way (made after their request arrived) instead of making their own.',
    registers,
  });
  const breaker = new Gauge({
    name: 'scopegate_upstream_circuit_open',
    help: '1 while the upstream circuit breaker is open or half-open, else 0.',
    registers,
  });
  const rateLimited = new Counter({
    name: 'scopegate_rate_limit_events_total',
    help: 'Requests refused by a rate limit (token, source_project), or let through because the limiter failed open.',
    labelNames: ['limit'] as const,
    registers,
  });
  // Counted in plain numbers and handed to prom-client at each scrape: a look-up happens for
  // every target of every request, and `Counter.inc` with labels hashes and validates them on
  // each call (W2: 20-40 look-ups a request, bench/NOTES.md round 19).
  const lookups: Record<DecisionCacheLayer, { hit: number; miss: number }> = {
    process: { hit: 0, miss: 0 },
    redis: { hit: 0, miss: 0 },
  };
  new Counter({
    name: 'scopegate_decision_cache_lookups_total',
    help: 'Decision cache look-ups by layer and result.',
    labelNames: ['layer', 'result'] as const,
    registers,
    collect() {
      this.reset();
      for (const [layer, counts] of Object.entries(lookups))
        for (const result of ['hit', 'miss'] as const)
          if (counts[result] > 0) this.inc({ layer, result }, counts[result]);
    },
  });
  const roundTrips = new Histogram({
    name: 'scopegate_redis_round_trips_per_operation',
    help: 'Redis round trips an operation waited for (authorization; rate limiting apart).',
    buckets: [0, 1, 2, 3, 5, 8, 13],
    registers,
  });
  const auditDrops = new Counter({
    name: 'scopegate_audit_events_dropped_total',
    help: 'Audit events that could not be written.',
    registers,
  });
  // Read from the verifier and the project cache at each scrape (plain numbers they keep).
  const tokenCache = cacheMetrics(registers, 'token', {
    lookups: 'Tokens answered from the verified-token cache (hit) or verified in full (miss).',
    entries: 'Verified tokens held by the cache of this process.',
  });
  const projectCache = cacheMetrics(registers, 'project', {
    lookups:
      'Project records answered from the process cache (hit) or asked of the forge (miss; shared: a miss that joined a call already in flight).',
    entries: 'Project records held by the cache of this process.',
  });
  breaker.set(0);
  auditDrops.inc(0);

  const decisionHooks: DecisionHooks = {
    onDenied(d, req) {
      const r = d.set.resources[req.resource as keyof typeof d.set.resources];
      decisions.inc({ result: 'denied', resource: req.resource, reason: r?.reason ?? 'unknown' });
    },
    onAllowed(d, reqs) {
      for (const req of reqs) {
        const r = d.set.resources[req.resource as keyof typeof d.set.resources];
        decisions.inc({
          result: 'allowed',
          resource: req.resource,
          reason: r?.reason ?? 'unknown',
        });
      }
    },
    onAuditWouldDeny(d, reqs) {
      for (const req of reqs) {
        const r = d.set.resources[req.resource as keyof typeof d.set.resources];
        if (!r?.auditWouldDeny) continue;
        decisions.inc({ result: 'audit_would_deny', resource: req.resource, reason: r.reason });
      }
    },
  };

  return {
    registry,
    decisionHooks,
    observeHttp(route, status, seconds) {
      http.inc({ route, status: String(status) });
      httpSeconds.observe({ route }, seconds);
    },
    observeUpstream(call) {
      upstream.inc({ method: call.method, result: statusClass(call.status) });
      if (call.status !== 'circuit_open')
        upstreamSeconds.observe({ method: call.method }, call.durationMs / 1000);
      if ((call.attempt ?? 1) > 1) retries.inc();
    },
    observeSharedRead() {
      sharedReads.inc();
    },
    observeBreaker(state) {
      breaker.set(state === 'closed' ? 0 : 1);
    },
    observeRateLimit(limit) {
      rateLimited.inc({ limit });
    },
    observeCacheLookup(layer, hit) {
      lookups[layer][hit ? 'hit' : 'miss'] += 1;
    },
    observeAuditDrop(count = 1) {
      auditDrops.inc(count);
    },
    watchTokenCache(read) {
      tokenCache.watch(read);
    },
    watchProjectCache(read) {
      projectCache.watch(read);
    },
    plugin() {
      return {
        async requestDidStart() {
          const started = performance.now();
          let operation = 'invalid';
          return {
            async didResolveOperation({ operation: op }) {
              operation = operationLabel(op);
            },
            async willSendResponse({ response, contextValue }) {
              const body = response.body;
              const result = body.kind === 'single' ? body.singleResult : body.initialResult;
              const errs = result.errors ?? [];
              for (const e of errs) errors.inc({ code: String(e.extensions?.['code'] ?? 'NONE') });
              // `partial`: some root field has data; `error`: none has (or nothing executed).
              const data = 'data' in result ? result.data : undefined;
              const hasData = !!data && Object.values(data).some((v) => v !== null);
              const outcome = errs.length === 0 ? 'ok' : hasData ? 'partial' : 'error';
              operations.inc({ operation, outcome });
              operationSeconds.observe({ operation }, (performance.now() - started) / 1000);
              // Read structurally: the per-request counter belongs to the cache layer.
              const trips = (contextValue.authz as { redis?: { roundTrips?: unknown } } | undefined)
                ?.redis?.roundTrips;
              if (typeof trips === 'number') roundTrips.observe(trips);
            },
          };
        },
      };
    },
    async serve(res) {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
    },
  };
}

/** Calls every hook of `a` then of `b`; for combining the decision log with metrics. */
export function combineDecisionHooks(a: DecisionHooks, b: DecisionHooks): DecisionHooks {
  return {
    onDenied: (d, r) => (a.onDenied(d, r), b.onDenied(d, r)),
    onAllowed: (d, r) => (a.onAllowed(d, r), b.onAllowed(d, r)),
    onAuditWouldDeny: (d, r) => (a.onAuditWouldDeny(d, r), b.onAuditWouldDeny(d, r)),
  };
}

const ROUTES = new Set(['/graphql', '/healthz', '/readyz', '/metrics', '/hooks/job-events']);

/** The route label of a request URL: a known path, or `other` (bounded label values). */
export function routeLabel(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0] ?? '/';
  return ROUTES.has(path) ? path : 'other';
}

/** The upstream options with the metrics' observers (and `onBreaker`) added to the caller's own. */
export function instrumentUpstream(
  options: UpstreamClientOptions,
  metrics: GatewayMetrics,
  onBreaker?: (state: BreakerState) => void,
): UpstreamClientOptions {
  const { onCall, onSharedRead } = options;
  const onState = options.resilience?.onBreakerStateChange;
  return {
    ...options,
    onCall: (call) => {
      metrics.observeUpstream(call);
      onCall?.(call);
    },
    onSharedRead: () => {
      metrics.observeSharedRead();
      onSharedRead?.();
    },
    ...(options.resilience
      ? {
          resilience: {
            ...options.resilience,
            onBreakerStateChange: (state: BreakerState) => {
              metrics.observeBreaker(state);
              onBreaker?.(state);
              onState?.(state);
            },
          },
        }
      : {}),
  };
}
