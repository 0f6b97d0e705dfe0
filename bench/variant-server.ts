/**
 * One gateway variant under test, in its own process (so each has its own CPU profile and
 * event loop): `node --import tsx bench/variant-server.ts <variant.json>`. Prints
 * `variant listening on <url>` once it serves, and stops cleanly on SIGTERM (which lets
 * `node --cpu-prof` write its profile).
 *
 * - `scopegate`: `startGateway` with the directive, Redis profile store and decision cache,
 *   wired as `bootstrapFleet` wires them;
 * - `baseline-a`: the same with `authorization: false`;
 * - `shield`: baseline (B), see `shield-gateway.ts`;
 * - `bare-http`: baseline (C), a `node:http` server answering the recorded bytes of each
 *   workload (chosen by the `x-bench-workload` header).
 *
 * `cache: 'cold'` turns the process cache (L1) off, so every first sight of a target in a
 * request reads its decision from Redis.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import { createAuthenticator } from '../src/auth/authenticate.js';
import type { IssuerOptions } from '../src/auth/issuers.js';
import { createRedisRevocationList } from '../src/auth/revocation-redis.js';
import { createJwtVerifier, VERIFIER_DEFAULTS } from '../src/auth/verifier.js';
import {
  createDecisionCache,
  DECISION_CACHE_DEFAULTS,
  type DecisionCache,
} from '../src/cache/decision-cache.js';
import { DEFAULT_INSTANCE_SETTINGS } from '../src/policy/engine.js';
import { startGateway } from '../src/server/gateway.js';
import { createRedisConnection, waitUntilReady } from '../src/store/redis-client.js';
import { createRedisProfileStore } from '../src/store/redis-profile-store.js';
import { PROJECT_CACHE_DEFAULTS } from '../src/upstream/project-cache.js';
import { RESILIENCE_DEFAULTS } from '../src/upstream/resilience.js';
import { startShieldGateway } from './shield-gateway.js';
import { WORKLOAD_HEADER } from './world.js';

/** The variants a run measures. */
export type VariantKind = 'scopegate' | 'baseline-a' | 'shield' | 'bare-http';

/** What one variant process is told to start. */
export interface VariantConfig {
  readonly kind: VariantKind;
  /** `cold`: the process decision cache is off. Default `warm`. */
  readonly cache?: 'warm' | 'cold';
  readonly upstreamUrl: string;
  readonly upstreamToken: string;
  readonly redisUrl: string;
  readonly issuer: IssuerOptions;
  /**
   * Identical forge reads of concurrent requests share one call (`src/upstream/shared-reads.ts`,
   * on in `serve`). Default false here: how often reads coincide depends on each process's
   * timing (a process whose requests wait on Redis together shares far more of them), so with it
   * on the table would compare sharing, not authorization. `bench/shared-reads.ts` measures it
   * on its own (bench/NOTES.md, round 17).
   */
  readonly shareReads?: boolean;
  /**
   * Multiplies every clock-driven setting: the project, decision, role and verified-token
   * caches' lifetimes, the authorization log's flush interval and the revocation resync.
   * Default 1. `bench/instructions.ts` runs the gateways under callgrind, 100-200 times slower
   * than natively, and scales them by as much, so that a cache expires after as many requests
   * as it does natively (with 5 s, W2's 20 project records were fetched again every 5 requests
   * instead of every 1,000).
   */
  readonly timeScale?: number;
  /**
   * Upstream retries and breaker as `serve` runs them (`RESILIENCE_DEFAULTS`). Default off, as
   * the timed table's processes were measured. `bench/instructions.ts` turns it on: slowed down,
   * a process that sat idle while the others were counted can send its next call on a pooled
   * connection the forge has already closed (`--quick` once failed so at W4), and such a GET is
   * then tried again.
   */
  readonly upstreamRetries?: boolean;
  /** `bare-http`: response bytes by workload id. */
  readonly answers?: Readonly<Record<string, string>>;
}

/** The decision cache with its process layer switched off (every read goes to Redis). */
function withoutProcessCache(cache: DecisionCache): DecisionCache {
  return { ...cache, peekLocal: () => undefined, rememberLocal: () => undefined };
}

async function startBareHttp(answers: Readonly<Record<string, string>>): Promise<string> {
  const bytes = new Map(Object.entries(answers).map(([k, v]) => [k, Buffer.from(v)]));
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const w = req.headers[WORKLOAD_HEADER];
      const body = bytes.get(typeof w === 'string' ? w : 'W1') ?? Buffer.from('{}');
      res.writeHead(200, {
        'content-type': 'application/graphql-response+json; charset=utf-8',
        'content-length': String(body.length),
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Starts the variant of `config`; resolves its base URL and a closer. */
export async function startVariant(
  config: VariantConfig,
): Promise<{ url: string; close: () => Promise<void> }> {
  if (config.kind === 'bare-http')
    return { url: await startBareHttp(config.answers ?? {}), close: () => Promise.resolve() };
  const redis = createRedisConnection({ url: config.redisUrl });
  await waitUntilReady(redis);
  const newSubscriber = () => createRedisConnection({ url: config.redisUrl, subscriber: true });
  const store = createRedisProfileStore({ redis });
  const scaled = (ms: number): number => Math.round(ms * (config.timeScale ?? 1));
  const shared = createDecisionCache({
    redis,
    createSubscriber: newSubscriber,
    localChanges: store,
    processTtlMs: scaled(DECISION_CACHE_DEFAULTS.processTtlMs),
    decisionTtlMs: scaled(DECISION_CACHE_DEFAULTS.decisionTtlMs),
    roleTtlMs: scaled(DECISION_CACHE_DEFAULTS.roleTtlMs),
  });
  await shared.start();
  const decisions = config.cache === 'cold' ? withoutProcessCache(shared) : shared;
  const revocations = createRedisRevocationList({
    redis,
    createSubscriber: newSubscriber,
    resyncIntervalMs: scaled(60_000),
  });
  await revocations.start();
  const verifier = createJwtVerifier({
    issuers: [config.issuer],
    adminUserIds: [],
    tokenCacheTtlMs: scaled(VERIFIER_DEFAULTS.tokenCacheTtlMs),
  });
  const authenticator = createAuthenticator({ verifier, revocations });
  const upstream = {
    baseUrl: config.upstreamUrl,
    token: config.upstreamToken,
    timeoutMs: 10_000,
    shareReads: config.shareReads ?? false,
    ...(config.upstreamRetries ? { resilience: RESILIENCE_DEFAULTS } : {}),
  };
  const instance = DEFAULT_INSTANCE_SETTINGS;
  const projectCache = {
    size: PROJECT_CACHE_DEFAULTS.size,
    ttlMs: scaled(PROJECT_CACHE_DEFAULTS.ttlMs),
  };
  const closeShared = async (): Promise<void> => {
    await revocations.close();
    await shared.close();
    redis.disconnect();
  };
  if (config.kind === 'shield') {
    const g = await startShieldGateway({
      upstream,
      authenticator,
      revocations,
      store,
      decisions,
      instance,
      projectCache,
    });
    return { url: g.url, close: async () => (await g.close(), await closeShared()) };
  }
  const g = await startGateway({
    upstream,
    authenticator,
    revocations,
    store,
    decisions,
    instance,
    landingPage: false,
    shutdownGraceMs: 1_000,
    authorization: config.kind === 'scopegate',
    // The harness reads each variant's Redis round trips per request.
    debugExtensions: true,
    projectCache,
    // As `serve` runs it: the authorization log and change log are written to Redis.
    management: { redis, authLogFlushIntervalMs: scaled(1_000) },
  });
  return { url: g.url, close: async () => (await g.close(), await closeShared()) };
}

/**
 * Sums the duration of every garbage collection of this process (pauses of the main thread,
 * from `perf_hooks`) and serves the total in ms on its own port, so the load generator can
 * read how much of a variant's time went to GC during a run. Every variant runs it alike.
 * `/detail` serves, as JSON, the same by kind (count and ms of minor, major and incremental
 * collections) with the heap's spaces, for looking into what a variant keeps alive.
 */
async function startGcCounter(): Promise<string> {
  let gcMs = 0;
  const byKind: Record<string, { count: number; ms: number }> = {};
  const KINDS: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcMs += entry.duration;
      const kind = KINDS[(entry.detail as { kind?: number } | undefined)?.kind ?? -1] ?? 'other';
      const k = (byKind[kind] ??= { count: 0, ms: 0 });
      k.count += 1;
      k.ms += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const server = createServer((req, res) => {
    if (req.url !== '/detail') {
      res.end(String(gcMs));
      return;
    }
    const spaces = Object.fromEntries(
      getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]),
    );
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ms: gcMs, byKind, spaces }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const configPath = process.argv[2];
if (configPath !== undefined && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as VariantConfig;
  const gcUrl = await startGcCounter();
  const running = await startVariant(config);
  process.stdout.write(`variant listening on ${running.url} gc ${gcUrl}\n`);
  const stop = (): void => {
    void running.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
