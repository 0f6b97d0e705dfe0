/**
 * What every bench script starts before it measures anything: a private Redis, the embedded
 * upstream in its own process (seeded with the bench world, the bench policy loaded into
 * Redis), a token issuer, and the means to start gateway variants (`variant-server.ts`) and to
 * drive them with the load generator (`load-worker.ts`), each in its own process. Everything
 * started is stopped by `stopAll()` (`processes.ts`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DEMO_UPSTREAM_TOKEN } from '../src/demo/http-server.js';
import { parsePolicyFile } from '../src/policy/policy-file.js';
import { resolvePolicyFile } from '../src/store/policy-loader.js';
import { createRedisConnection, waitUntilReady } from '../src/store/redis-client.js';
import { createRedisProfileStore } from '../src/store/redis-profile-store.js';
import { createUpstreamClient } from '../src/upstream/client.js';
import { freePort, startRedis } from '../test/helpers/redis.js';
import type { LoadJob, LoadResult } from './load-worker.js';
import { onStop, runNode, startNode } from './processes.js';
import { createBenchIssuer, type BenchIssuer } from './tokens.js';
import type { VariantConfig } from './variant-server.js';
import { benchPolicy, benchSeed } from './world.js';

/** A started variant process. */
export interface Variant {
  readonly url: string;
  /** Where it serves its total GC time (gateways only). */
  readonly gcUrl: string | undefined;
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** How a variant process is started (default: plain node, 60 s to start). */
export interface VariantStart {
  readonly nodeArgs?: readonly string[];
  readonly wrapper?: readonly string[];
  readonly timeoutMs?: number;
}

/** The started pieces. */
export interface BenchStack {
  /** A private directory, removed at the end. */
  readonly work: string;
  readonly redisUrl: string;
  /** What every variant's config starts from (upstream, Redis, issuer). */
  readonly base: Omit<VariantConfig, 'kind'>;
  readonly issuer: BenchIssuer;
  /** One job token of the bench job, for every workload but W4. */
  readonly token: string;
  /**
   * Resolves once the upstream answers and the bench policy is in Redis: variants may be
   * started before (they only need the upstream's address), but not asked anything.
   */
  readonly ready: Promise<void>;
  /** `how`: see `startNode` (`wrapper`: the variant runs inside it, e.g. under valgrind). */
  startVariant(config: VariantConfig, how?: VariantStart): Promise<Variant>;
  /** Runs the jobs one after the other in one load-worker process. */
  runJobs(jobs: LoadJob[], tag: string): Promise<LoadResult[]>;
}

/**
 * Starts Redis and the upstream (in the background: see `ready`) and mints the token.
 * `upstreamLatencyMs`: the upstream sends each answer that long after making it (a forge across
 * a network; `demo-upstream --latency`).
 */
export async function startStack(
  log: (line: string) => void,
  options: { upstreamLatencyMs?: number } = {},
): Promise<BenchStack> {
  const work = mkdtempSync(join(tmpdir(), 'sg-bench-'));
  onStop(() => Promise.resolve(rmSync(work, { recursive: true, force: true })));
  const redis = await startRedis();
  onStop(() => redis.stop());
  // The smoke test checks that nothing with these names is left running afterwards.
  log(`work dir ${work}; redis port ${redis.port}`);
  const seedPath = join(work, 'seed.json');
  writeFileSync(seedPath, JSON.stringify(benchSeed()));
  // The upstream's port is chosen here so that it and every variant start at the same time.
  const upstreamPort = await freePort();
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}/api/v4`;
  const upstreamStarted = startNode(
    [
      'src/cli/main.ts',
      'demo-upstream',
      '--seed',
      seedPath,
      '--port',
      String(upstreamPort),
      '--latency',
      String(options.upstreamLatencyMs ?? 0),
    ],
    /listening on (http:\/\/\S+)/,
    { timeoutMs: 60_000 },
  );
  const ready = (async () => {
    await upstreamStarted;
    const conn = createRedisConnection({ url: redis.url });
    await waitUntilReady(conn);
    const client = createUpstreamClient({
      baseUrl: upstreamUrl,
      token: DEFAULT_DEMO_UPSTREAM_TOKEN,
    });
    try {
      await createRedisProfileStore({ redis: conn }).replaceAll(
        await resolvePolicyFile(parsePolicyFile(benchPolicy()), client),
      );
    } finally {
      conn.disconnect();
      await client.close();
    }
  })();
  // Awaited by the caller; until then a failure must not count as unhandled.
  ready.catch(() => undefined);
  const issuer = await createBenchIssuer();
  const token = await issuer.mint(1);
  const base = {
    upstreamUrl,
    upstreamToken: DEFAULT_DEMO_UPSTREAM_TOKEN,
    redisUrl: redis.url,
    issuer: issuer.options,
  };
  let configs = 0;
  let jobFiles = 0;
  return {
    work,
    redisUrl: redis.url,
    base,
    issuer,
    token,
    ready,
    async startVariant(config, { nodeArgs = [], wrapper = [], timeoutMs = 60_000 } = {}) {
      const path = join(work, `variant-${configs++}.json`);
      writeFileSync(path, JSON.stringify(config));
      const started = await startNode(
        ['bench/variant-server.ts', path],
        /listening on (http:\/\/\S+)(?: gc (http:\/\/\S+))?/,
        // As `scopegate serve` and the Docker image run (graphql-js's development checks off).
        { nodeArgs, wrapper, timeoutMs, env: { NODE_ENV: 'production' } },
      );
      return {
        url: started.match[1] ?? '',
        gcUrl: started.match[2],
        pid: started.child.pid,
        stop: () => started.stop(),
      };
    },
    async runJobs(jobs, tag) {
      const path = join(work, `jobs-${tag}-${jobFiles++}.json`);
      writeFileSync(path, JSON.stringify(jobs));
      const out = await runNode(['bench/load-worker.ts', path]);
      return out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as LoadResult);
    },
  };
}

/** POSTs one GraphQL request and returns its JSON; throws unless it is a clean 200. */
export async function post(
  url: string,
  body: string,
  token: string,
  debug: boolean,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      ...(debug ? { 'x-scopegate-debug': '1' } : {}),
    },
    body,
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200 || json['errors'] !== undefined || !json['data'])
    throw new Error(`${url} answered ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
  return json;
}
