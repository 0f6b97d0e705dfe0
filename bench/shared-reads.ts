/**
 * What shared forge reads (`src/upstream/shared-reads.ts`) change under load:
 * `npx tsx bench/shared-reads.ts [--quick] [--latency MS]`.
 *
 * Two scopegate processes, identical but for `shareReads` (on, as `serve` runs, and off, as
 * the main table's variants run), driven in turn with W1 and W2 (10 connections, the same job
 * token, warm process cache: each timed run follows 1 s of untimed load, as in `run.ts`, since a
 * process idle for longer than the caches' 5 s comes back cold), alternating the order each
 * round. Prints per workload the median of the per-round ratios (on ÷ off) of req/s and of CPU
 * per request, the p99 of all of a side's timed requests together, and the forge calls per
 * request and the share of reads that joined another call, read from each process's own
 * `/metrics` around each run (the pre-roll included). Then bursts: 50 identical requests at
 * once after 6 s idle (the process caches expired), as a pipeline's jobs starting together. `--latency MS`: the forge sends each
 * answer MS ms after making it, as one across a network would (default 0: the forge on the same
 * machine answers in about a millisecond, so few reads ever coincide).
 */
import type { LoadJob, LoadResult } from './load-worker.js';
import { stopAll, stopOnSignals } from './processes.js';
import { pooledP99 } from './report.js';
import { post, startStack } from './stack.js';
import { WORKLOAD_HEADER, workloadBody, type WorkloadId } from './world.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 6;
const SECONDS = quick ? 1 : 5;
const WARMUP_REQUESTS = quick ? 300 : 3_000;
const WORKLOADS: readonly WorkloadId[] = ['W1', 'W2'];
const BURST = 50;
const BURST_IDLE_MS = 6_000;
const BURST_ROUNDS = quick ? 1 : 3;
const latencyAt = process.argv.indexOf('--latency');
const LATENCY_MS = latencyAt === -1 ? 0 : Number(process.argv[latencyAt + 1]);
if (!Number.isInteger(LATENCY_MS) || LATENCY_MS < 0) throw new Error('--latency MS: an integer');

const t0 = performance.now();
const log = (line: string): void =>
  void process.stderr.write(
    `[shared-reads ${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}\n`,
  );

/** The counters this measurement reads from a gateway's `/metrics`. */
interface Counts {
  readonly graphql: number;
  readonly forgeCalls: number;
  readonly shared: number;
}

function sumOf(text: string, prefix: string): number {
  let total = 0;
  for (const line of text.split('\n'))
    if (line.startsWith(prefix)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  return total;
}

async function countsOf(url: string): Promise<Counts> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    graphql: sumOf(text, 'scopegate_http_requests_total{route="/graphql"'),
    forgeCalls: sumOf(text, 'scopegate_upstream_requests_total{'),
    shared: sumOf(text, 'scopegate_upstream_shared_reads_total '),
  };
}

interface Sample {
  readonly load: LoadResult;
  readonly graphql: number;
  readonly forgeCalls: number;
  readonly shared: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};
const f = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');

async function main(): Promise<void> {
  stopOnSignals();
  const stack = await startStack(log, { upstreamLatencyMs: LATENCY_MS });
  const sides = { on: true, off: false } as const;
  const variants = await Promise.all(
    Object.values(sides).map((shareReads) =>
      stack.startVariant({ ...stack.base, kind: 'scopegate', shareReads }),
    ),
  );
  await stack.ready;
  const [on, off] = variants as [(typeof variants)[0], (typeof variants)[0]];
  const byName = { on, off };
  for (const w of WORKLOADS)
    for (const v of variants) await post(v.url, workloadBody(w), stack.token, false);

  const job = (v: typeof on, w: WorkloadId, prefix: string, amount?: number): LoadJob => ({
    url: `${v.url}/graphql`,
    body: workloadBody(w),
    tokens: [stack.token],
    headers: { [WORKLOAD_HEADER]: w },
    connections: 10,
    durationSeconds: SECONDS,
    ...(amount !== undefined ? { amount } : {}),
    uniquePrefix: prefix,
    ...(amount === undefined ? { preroll: { seconds: 1, tokens: [stack.token] } } : {}),
    ...(v.pid !== undefined ? { pid: v.pid } : {}),
    ...(v.gcUrl !== undefined ? { gcUrl: v.gcUrl } : {}),
  });
  log('warming up');
  await stack.runJobs(
    WORKLOADS.flatMap((w) => variants.map((v, k) => job(v, w, `warm-${w}-${k}`, WARMUP_REQUESTS))),
    'warmup',
  );

  const samples = Object.fromEntries(
    WORKLOADS.map((w) => [w, { on: [] as Sample[], off: [] as Sample[] }]),
  ) as Record<WorkloadId, Record<'on' | 'off', Sample[]>>;
  for (let round = 0; round < ROUNDS; round++) {
    log(`round ${round + 1}/${ROUNDS}`);
    for (const w of WORKLOADS) {
      const order: ('on' | 'off')[] = round % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const name of order) {
        const v = byName[name];
        const before = await countsOf(v.url);
        const [load] = await stack.runJobs([job(v, w, `r${round}-${w}-${name}`)], `r${round}`);
        const after = await countsOf(v.url);
        if (!load) throw new Error('the load worker returned nothing');
        samples[w][name].push({
          load,
          graphql: after.graphql - before.graphql,
          forgeCalls: after.forgeCalls - before.forgeCalls,
          shared: after.shared - before.shared,
        });
      }
    }
  }

  const lines = [
    `Shared forge reads, on vs off (${ROUNDS} rounds × ${SECONDS} s, 10 connections, warm, forge latency ${LATENCY_MS} ms; ratios are medians of the per-round on÷off)`,
    '',
    '| workload | req/s on | req/s off | req/s on÷off | CPU ms/req on | CPU ms/req off | CPU on÷off | p99 ms on | p99 ms off | forge calls/req on | forge calls/req off | reads shared (on) | failures |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const w of WORKLOADS) {
    const s = samples[w];
    const pairs = s.on.map((a, i) => [a, s.off[i]] as const).filter((p) => p[1] !== undefined);
    const mean = (xs: readonly Sample[], pick: (x: Sample) => number | undefined): number =>
      xs.reduce((t, x) => t + (pick(x) ?? NaN), 0) / xs.length;
    const perRequest = (xs: readonly Sample[]): number =>
      xs.reduce((t, x) => t + x.forgeCalls, 0) / xs.reduce((t, x) => t + x.graphql, 0);
    const sharedShare = (xs: readonly Sample[]): number =>
      xs.reduce((t, x) => t + x.shared, 0) / xs.reduce((t, x) => t + x.shared + x.forgeCalls, 0);
    const ratio = (pick: (x: Sample) => number | undefined): number =>
      median(pairs.map(([a, b]) => (pick(a) ?? NaN) / (pick(b as Sample) ?? NaN)));
    const p99 = (xs: readonly Sample[]): number => pooledP99(xs.map((x) => x.load));
    const failures = [...s.on, ...s.off].reduce((t, x) => t + x.load.non2xx + x.load.errors, 0);
    lines.push(
      `| ${w} | ${f(
        mean(s.on, (x) => x.load.rps),
        0,
      )} | ${f(
        mean(s.off, (x) => x.load.rps),
        0,
      )} | ${f(ratio((x) => x.load.rps))} | ${f(
        mean(s.on, (x) => x.load.cpuMsPerRequest),
        3,
      )} | ${f(
        mean(s.off, (x) => x.load.cpuMsPerRequest),
        3,
      )} | ${f(ratio((x) => x.load.cpuMsPerRequest))} | ${f(p99(s.on))} | ${f(p99(s.off))} | ${f(perRequest(s.on))} | ${f(perRequest(s.off))} | ${f(100 * sharedShare(s.on), 1)}% | ${failures} |`,
    );
  }
  // A burst: what a pipeline's jobs starting together look like. Each side sits idle until its
  // process caches have expired (5 s), then gets BURST identical requests at once.
  lines.push(
    '',
    `Bursts: ${BURST} identical requests at once after ${BURST_IDLE_MS / 1000} s idle (process caches expired), ${BURST_ROUNDS} per side and workload`,
    '',
    '| workload | forge calls/request on | forge calls/request off | reads shared (on) | failures |',
    '|---|---|---|---|---|',
  );
  for (const w of WORKLOADS) {
    const got = {
      on: { calls: 0, requests: 0, shared: 0 },
      off: { calls: 0, requests: 0, shared: 0 },
    };
    let failures = 0;
    for (let round = 0; round < BURST_ROUNDS; round++) {
      for (const name of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        await new Promise((r) => setTimeout(r, BURST_IDLE_MS));
        const v = byName[name];
        const before = await countsOf(v.url);
        const answers = await Promise.allSettled(
          Array.from({ length: BURST }, () => post(v.url, workloadBody(w), stack.token, false)),
        );
        failures += answers.filter((a) => a.status === 'rejected').length;
        const after = await countsOf(v.url);
        got[name].calls += after.forgeCalls - before.forgeCalls;
        got[name].requests += after.graphql - before.graphql;
        got[name].shared += after.shared - before.shared;
      }
    }
    lines.push(
      `| ${w} | ${f(got.on.calls / got.on.requests)} | ${f(got.off.calls / got.off.requests)} | ${f((100 * got.on.shared) / (got.on.shared + got.on.calls), 1)}% | ${failures} |`,
    );
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

try {
  await main();
} finally {
  await stopAll();
}
