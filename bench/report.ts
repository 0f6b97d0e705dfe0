/**
 * The benchmark's one table and `bench/RESULTS.md`: figures per workload and variant, ratios
 * against the baselines, Redis round trips per request, and which targets are met.
 */
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import type { LoadResult } from './load-worker.js';
import type { PolicyMicroResult } from './micro.js';
import type { ScaleResult } from './scale.js';

/**
 * Columns of the table: scopegate, the three baselines, and A2, the control: a second A process
 * with scopegate's history, which warm rows measure against A like scopegate.
 */
export type Column = 'scopegate' | 'A' | 'B' | 'C' | 'A2';

/** The measurements of one table row (a workload, warm or cold). */
export interface Row {
  readonly id: string;
  readonly description: string;
  /** W1/W2: the issue's throughput and latency targets apply. */
  readonly targets: 'warm' | 'cold' | 'none';
  readonly samples: Record<Column, LoadResult[]>;
  /** Redis round trips of one request after warm-up, per gateway column. */
  readonly roundTrips: Partial<Record<Column, number>>;
}

/** Mean req/s, pooled p99 and median CPU per request of a cell's rounds. */
export interface CellSummary {
  readonly rps: number;
  readonly p99: number;
  readonly failures: number;
  /** Gateway process CPU per request, ms (NaN when not measured). */
  readonly cpuMs: number;
  /** Of which garbage collection, ms (NaN when not measured). */
  readonly gcMs: number;
}

/** The median of the values measured, NaN when none were. */
function medianOf(values: readonly (number | undefined)[]): number {
  const sorted = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : (sorted[Math.floor(sorted.length / 2)] ?? NaN);
}

/**
 * The p99 of every timed request of a cell's rounds taken together (nearest rank); the median
 * of the rounds' own p99s when a round did not record its latencies.
 */
export function pooledP99(samples: readonly LoadResult[]): number {
  if (samples.length === 0) return NaN;
  if (samples.some((s) => s.latenciesMs === undefined))
    return medianOf(samples.map((s) => s.p99Ms));
  return quantile(
    samples.flatMap((s) => s.latenciesMs ?? []).sort((a, b) => a - b),
    0.99,
  );
}

/** Nearest-rank quantile `q` (0-1) of `sorted` (ascending); NaN when it is empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

/** Summarises one cell. */
export function summarize(samples: readonly LoadResult[]): CellSummary {
  if (samples.length === 0) return { rps: 0, p99: 0, failures: 0, cpuMs: NaN, gcMs: NaN };
  return {
    cpuMs: medianOf(samples.map((s) => s.cpuMsPerRequest)),
    gcMs: medianOf(samples.map((s) => s.gcMsPerRequest)),
    rps: samples.reduce((t, s) => t + s.rps, 0) / samples.length,
    p99: pooledP99(samples),
    failures: samples.reduce((t, s) => t + s.non2xx + s.errors, 0),
  };
}

/** A ratio between two columns: the median of its per-round-pair values, and the range of rounds. */
export interface PairedRatio {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/**
 * `pick(num[r]) / pick(den[r])` for every round r both columns ran (a round runs every cell
 * once, round r+1 in the reverse order of round r), combined two by two: rounds 2k and 2k+1
 * (geometric mean), then the median of those pair values (a round left without a partner
 * counts alone). Pairing by round cancels what moves the whole machine between rounds (another
 * tenant's load, CPU frequency), which a ratio of the columns' means keeps; pairing a round with
 * its reverse cancels what drifts within a round (a process still warming up pays more per
 * request the earlier it runs, and the column that runs first alternates), an ABBA design.
 * `min`/`max` are the range of the single rounds.
 */
export function pairedRatio(
  num: readonly LoadResult[],
  den: readonly LoadResult[],
  pick: (r: LoadResult) => number | undefined,
): PairedRatio {
  const perRound: (number | undefined)[] = [];
  for (let i = 0; i < Math.min(num.length, den.length); i++) {
    const n = num[i] && pick(num[i] as LoadResult);
    const d = den[i] && pick(den[i] as LoadResult);
    perRound.push(n !== undefined && d !== undefined && d > 0 ? n / d : undefined);
  }
  const singles = perRound.filter((r): r is number => r !== undefined && Number.isFinite(r));
  if (singles.length === 0) return { median: NaN, min: NaN, max: NaN };
  const pairs: number[] = [];
  for (let i = 0; i < perRound.length; i += 2) {
    const [x, y] = [perRound[i], perRound[i + 1]];
    if (x !== undefined && y !== undefined) pairs.push(Math.sqrt(x * y));
    else if (x !== undefined || y !== undefined) pairs.push((x ?? y) as number);
  }
  pairs.sort((x, y) => x - y);
  const mid = Math.floor(pairs.length / 2);
  const median =
    pairs.length % 2 === 1
      ? (pairs[mid] ?? NaN)
      : ((pairs[mid - 1] ?? NaN) + (pairs[mid] ?? NaN)) / 2;
  return { median, min: Math.min(...singles), max: Math.max(...singles) };
}

const rpsOf = (r: LoadResult): number => r.rps;
const p99Of = (r: LoadResult): number => r.p99Ms;
const cpuOf = (r: LoadResult): number | undefined => r.cpuMsPerRequest;

const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toString() : '-');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');
const f3 = (n: number): string => (Number.isFinite(n) ? n.toFixed(3) : '-');
/** `0.96 (0.91–1.02)`: a ratio and, with several rounds, the range of the single rounds'. */
const fRange = (value: number, min: number, max: number): string =>
  Number.isFinite(value) && max > min ? `${f2(value)} (${f2(min)}–${f2(max)})` : f2(value);
const fRatio = (r: PairedRatio): string => fRange(r.median, r.min, r.max);

/** A pooled p99 ratio, with the range of the single rounds' ratios. */
export interface P99Ratio {
  readonly value: number;
  readonly min: number;
  readonly max: number;
}

/**
 * scopegate's p99 against a baseline's: the pooled p99s of their rounds (the same rounds, in
 * the same alternating order), with the range of the single rounds' ratios.
 */
export function p99Ratio(sg: readonly LoadResult[], base: readonly LoadResult[]): P99Ratio {
  const rounds = pairedRatio(sg, base, p99Of);
  return { value: pooledP99(sg) / pooledP99(base), min: rounds.min, max: rounds.max };
}

/**
 * The control of a row (undefined when A2 did not run in it): A2 against A by the estimators
 * that judge scopegate against A. A2 and A are the same code, so every distance from 1.00 is the
 * run's own error: a target whose bound that distance reaches is one this run cannot resolve.
 */
export interface Control {
  readonly rps: PairedRatio;
  readonly p99: P99Ratio;
}

export function controlOf(row: Row): Control | undefined {
  const { A2, A } = row.samples;
  if (A2.length === 0 || A.length === 0) return undefined;
  return { rps: pairedRatio(A2, A, rpsOf), p99: p99Ratio(A2, A) };
}

/**
 * Whether a control value, truly 1.00, stays inside the band a target's bound leaves either side
 * of 1.00 (`≥ 0.95`: 0.95 to 1/0.95; `≤ 1.1`: 1/1.1 to 1.1). Outside it, an estimate as far off
 * in scopegate's column could turn a met target into a miss, or a miss into a met one.
 */
export function resolves(control: number, bound: number): boolean {
  const low = Math.min(bound, 1 / bound);
  return Number.isFinite(control) && control >= low && control <= 1 / low;
}

/** A row's ratios, each computed once for the table and the verdicts. */
export interface RowRatios {
  readonly xA: PairedRatio;
  readonly xB: PairedRatio;
  readonly xC: PairedRatio;
  readonly p99: P99Ratio;
  readonly cpuSgA: PairedRatio;
  readonly cpuBSg: PairedRatio;
  readonly control: Control | undefined;
}

/** Computes {@link RowRatios}. */
export function rowRatios(row: Row): RowRatios {
  const { scopegate: sg, A, B, C } = row.samples;
  return {
    xA: pairedRatio(sg, A, rpsOf),
    xB: pairedRatio(sg, B, rpsOf),
    xC: pairedRatio(sg, C, rpsOf),
    p99: p99Ratio(sg, A),
    cpuSgA: pairedRatio(sg, A, cpuOf),
    cpuBSg: pairedRatio(B, sg, cpuOf),
    control: controlOf(row),
  };
}

/** Targets checked for a row; empty when none apply. */
export function targetVerdicts(row: Row, ratios: RowRatios = rowRatios(row)): string[] {
  const reused = Object.values(row.samples)
    .flat()
    .some((r) => r.tokenReuses > 0);
  // W4 measures first sights of tokens: a run with more requests than fresh tokens says so.
  if (row.targets === 'none') return reused ? ['tokens reused (add w4Tokens)'] : [];
  const need = row.targets === 'warm' ? 0.95 : 0.85;
  const { control } = ratios;
  // With a control, a verdict its bound cannot resolve says so (the verdict itself is unchanged).
  const check = (value: number | undefined, bound: number): string =>
    control && value !== undefined && !resolves(value, bound)
      ? ` (A2÷A ${f2(value)}: unresolved)`
      : '';
  const out = [
    `${ratios.xA.median >= need ? 'ok' : 'MISS'} ≥${need}×A${check(control?.rps.median, need)}`,
    `${ratios.xB.median >= 2 ? 'ok' : 'MISS'} ≥2×B`,
    `${ratios.p99.value <= 1.1 ? 'ok' : 'MISS'} p99≤1.1×A${check(control?.p99.value, 1.1)}`,
  ];
  if (row.targets === 'warm') out.push(`${row.roundTrips.scopegate === 0 ? 'ok' : 'MISS'} RT=0`);
  return out;
}

/** The table as Markdown (also readable in a terminal). */
export function formatTable(rows: readonly Row[]): string {
  const head =
    '| workload | scopegate req/s | p99 ms | A req/s | p99 ms | B req/s | p99 ms | C req/s | ×A | ×B | ×C | p99 ×A | Redis RT/req (sg, A, B) | failures | CPU ms/req (sg, A, B) | CPU sg÷A | CPU B÷sg | GC ms/req (sg, A, B) | control A2: ×A; p99 ×A | targets |';
  const sep = `|${head
    .split('|')
    .slice(1, -1)
    .map(() => '---')
    .join('|')}|`;
  const lines = rows.map((row) => {
    const s = summarize(row.samples.scopegate);
    const a = summarize(row.samples.A);
    const b = summarize(row.samples.B);
    const c = summarize(row.samples.C);
    const rt = (['scopegate', 'A', 'B'] as const)
      .map((k) => (row.roundTrips[k] === undefined ? '-' : String(row.roundTrips[k])))
      .join(', ');
    const failures = s.failures + a.failures + b.failures + c.failures;
    const cpu = `${f3(s.cpuMs)}, ${f3(a.cpuMs)}, ${f3(b.cpuMs)}`;
    const gc = `${f3(s.gcMs)}, ${f3(a.gcMs)}, ${f3(b.gcMs)}`;
    const r = rowRatios(row);
    const controlCell = r.control
      ? `${fRatio(r.control.rps)}; ${fRange(r.control.p99.value, r.control.p99.min, r.control.p99.max)}`
      : '-';
    const ratios = [
      fRatio(r.xA),
      fRatio(r.xB),
      f2(r.xC.median),
      fRange(r.p99.value, r.p99.min, r.p99.max),
    ].join(' | ');
    return `| ${row.id} | ${f0(s.rps)} | ${f2(s.p99)} | ${f0(a.rps)} | ${f2(a.p99)} | ${f0(b.rps)} | ${f2(b.p99)} | ${f0(c.rps)} | ${ratios} | ${rt} | ${failures} | ${cpu} | ${f2(r.cpuSgA.median)} | ${f2(r.cpuBSg.median)} | ${gc} | ${controlCell} | ${targetVerdicts(row, r).join(', ')} |`;
  });
  return [head, sep, ...lines].join('\n');
}

/** The micro-benchmark's line. */
export function formatMicro(m: PolicyMicroResult): string {
  return `Policy evaluation (\`decide\`, best of rounds, ${m.iterations} calls each): 10 entries ${f0(m.smallNs)} ns, 400 entries with the match 6 group levels up ${f0(m.largeNs)} ns → ratio ${f2(m.ratio)} (target ≤ 1.5: ${m.ratio <= 1.5 ? 'ok' : 'MISS'})`;
}

/**
 * Whether the heap stayed level once the LRU was full: from half of the pairs to all of them it
 * may grow by at most 1 MiB or 5% of its level at half, whichever is more (a full GC precedes
 * each reading; the LRU fills within the first quarter).
 */
export function heapBounded(s: ScaleResult): { readonly growthMiB: number; readonly ok: boolean } {
  const half = s.quarters[1];
  const last = s.quarters[s.quarters.length - 1];
  if (!half || !last) return { growthMiB: 0, ok: false };
  const growthMiB = Math.round((last.heapMiB - half.heapMiB) * 10) / 10;
  return { growthMiB, ok: growthMiB <= Math.max(1, 0.05 * half.heapMiB) };
}

/** Heap bytes per decision the process LRU holds, from two runs with different LRU sizes. */
export function heapBytesPerHeldDecision(small: ScaleResult, large: ScaleResult): number {
  const heap = (s: ScaleResult) => s.quarters[s.quarters.length - 1]?.heapMiB ?? s.heapAfterMiB;
  const held = (s: ScaleResult) => Math.min(s.lruMax, s.pairs);
  return Math.round(((heap(large) - heap(small)) * 1024 * 1024) / (held(large) - held(small)));
}

/** The scale check's lines: the first run with the configured LRU size, then a larger LRU. */
export function formatScale(runs: readonly ScaleResult[]): string {
  const [s, larger] = runs;
  if (!s) return 'Decision cache scale: not run';
  const bounded = heapBounded(s);
  const quarters = (r: ScaleResult) => r.quarters.map((q) => q.heapMiB).join(', ');
  const lines = [
    `Decision cache scale (${s.pairs} distinct (token, target) pairs in ${s.seconds} s, process LRU max ${s.lruMax} entries):`,
    `- RSS ${s.rssBeforeMiB} MiB → ${s.rssAfterMiB} MiB; V8 heap ${s.heapBeforeMiB} MiB → ${s.heapAfterMiB} MiB (the LRU holds at most ${s.lruMax} decisions)`,
    `- V8 heap after each quarter of the pairs: ${quarters(s)} MiB (RSS ${s.quarters.map((q) => q.rssMiB).join(', ')} MiB); from half of the pairs to all of them ${bounded.growthMiB >= 0 ? '+' : ''}${bounded.growthMiB} MiB (bounded by the LRU, ≤ 1 MiB or 5%: ${bounded.ok ? 'ok' : 'MISS'})`,
  ];
  if (larger) {
    const b = heapBounded(larger);
    lines.push(
      `- ${larger.pairs === s.pairs ? 'The same pairs' : `${larger.pairs} pairs`} with LRU max ${larger.lruMax}: V8 heap ${larger.heapBeforeMiB} MiB → ${quarters(larger)} MiB by quarter (${b.ok ? 'level' : 'NOT level'} from half on, ${b.growthMiB >= 0 ? '+' : ''}${b.growthMiB} MiB), RSS ${larger.rssAfterMiB} MiB at the end: ${heapBytesPerHeldDecision(s, larger)} bytes of heap per decision the process holds (what \`SCOPEGATE_DECISION_CACHE_SIZE\` costs)`,
    );
  }
  lines.push(
    `- Redis: ${s.redisKeys} decisions (fields of per-project hashes), ${s.redisBytesPerDecision} bytes per decision (used_memory delta / decisions), MEMORY USAGE of the hashes ${s.memoryUsageSample} bytes per decision (target < 200: ${s.redisBytesPerDecision < 200 ? 'ok' : 'MISS'}); e.g. \`${s.sampleKey}\``,
  );
  return lines.join('\n');
}

/** The machine the run measured on. */
export function machineDescription(): string {
  const c = cpus();
  const model = c[0]?.model ?? 'unknown CPU';
  return [
    `- CPU: ${c.length} × ${model}`,
    `- memory: ${Math.round(totalmem() / 2 ** 30)} GiB; OS: ${platform()} ${release()}`,
    `- Node ${process.version}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  ].join('\n');
}

/** Everything `bench/RESULTS.md` shows. */
export interface Results {
  readonly mode: string;
  readonly settings: string;
  readonly rows: readonly Row[];
  readonly micro: PolicyMicroResult;
  /** The scale check with the configured LRU size, then with a larger one. */
  readonly scale: readonly ScaleResult[];
  readonly profile?: string | undefined;
  /** Hand-written notes kept across runs (`bench/NOTES.md`). */
  readonly notes?: string | undefined;
}

/** The Markdown of `bench/RESULTS.md`. */
export function formatResults(r: Results): string {
  return `# Benchmark results

Written by \`npm run bench\` (${r.mode}) on ${new Date().toISOString()}. Do not edit: the
next run rewrites this file; notes that must survive live in \`bench/NOTES.md\`.

## Machine

${machineDescription()}

## Throughput and latency

${r.settings}

Variants: **scopegate** (directive, Redis decision cache, process LRU on; "cold" rows turn the
LRU off so every target's decision is read from Redis); **A** the same gateway with
\`authorization: false\` (its LRU on; the cold rows use a second A process that serves only
them, so it has been idle between rounds as long as the cold variants); **B** the same rules
as graphql-shield rules on the same schema, calling the same authorizer and cache (cold rows:
its LRU off too); **C** a bare \`node:http\` server answering the same bytes; **A2**, the
control, a second A process that serves every cell scopegate's warm process serves, so it has
the same history: "control A2" gives A2 against A by the estimators that judge scopegate
against A. The two are the same code, so any distance from 1.00 there is this run's own error,
and a target whose bound that distance reaches (A2÷A outside 0.95–1.05 for ≥ 0.95×, outside
0.91–1.10 for p99 ≤ 1.1×) is marked "unresolved" beside its verdict. Every round runs
each cell once, each round in the reverse order of the one before. ×A, ×B, ×C and the
CPU ratios are paired: scopegate's req/s (CPU) in round r divided by the baseline's in the
same round; rounds 2k and 2k+1 (one order and its reverse) are then combined (geometric mean),
so a process that is still warming up, and pays more the earlier it runs, weighs on both sides
alike; the median of those pair values is shown, with the range of the single rounds in
brackets, and the targets are judged on it. With more than one set of gateway processes (the
line above says how many), each pair of rounds runs on one set, in turn: a process keeps its own
cost per request for its whole life (W2 CPU sg÷A 1.07 and 1.00 for two fresh pairs of processes
of the same code), so the pairs' median sees a draw of each variant per set instead of one.
The p99 columns are the p99 of every timed request of a cell's rounds taken together, and "p99
×A" divides scopegate's by A's (the single rounds' ratios in brackets): a 6 s round of W2 has
about 600 requests, so a round's own p99 is its sixth slowest request, decided by one stall.
"CPU ms/req" is the CPU time (user + system, from \`/proc/<pid>/stat\`) each gateway process
spent per successful request during the timed runs (median of the rounds): it does not depend
on how much of a shared machine a process was given, so "CPU sg÷A" (authorization's cost:
1.00 is free) and "CPU B÷sg" (how much more graphql-shield costs) are the steadier ratios
when the req/s columns move with the machine's load. "GC ms/req" is the part of it the process
spent in garbage collection pauses (its own \`perf_hooks\` GC entries, median of the rounds).

${formatTable(r.rows)}

## Policy evaluation

${formatMicro(r.micro)}

## Scale

${formatScale(r.scale)}
${r.profile ? `\n## CPU profile of this run (scopegate variant)\n\n${r.profile}\n` : ''}${r.notes ? `\n${r.notes.trim()}\n` : ''}`;
}
