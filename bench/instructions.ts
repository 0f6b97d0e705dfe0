/**
 * Instructions per request, counted: each gateway variant runs under valgrind's callgrind, which
 * counts the instructions a process executes (its own code, V8's generated code, the GC, libuv
 * and OpenSSL alike) whatever else the machine is doing. A time measured on this shared
 * two-CPU machine moves by more than the gaps the targets judge (bench/NOTES.md, rounds 14-17:
 * two identical processes 17% apart); a count of the same requests through the same process does
 * not move with the machine, so the ratios here say what authorization costs the gateway itself,
 * with the machine's noise out (what is left, the control A2÷A measures).
 *
 * `npx tsx bench/instructions.ts [--quick | --smoke] [--rows 'W1 warm,W2'] [--variants sg,A]
 *   [--repeats N] [--scale X] [--tail N] [--sets K] [--time-scale X] [--keep-dumps DIR]
 *   [--raw FILE] [--write]`, or `--merge-raw A.json,B.json [--raw FILE] [--write]`
 *
 * - Every variant process starts under `valgrind --tool=callgrind --instr-atstart=no` with
 *   `node --single-threaded` (V8 compiles and collects on the main thread, so a count does not
 *   depend on how threads were scheduled: two runs of the same script agree to 0.003%, against
 *   1.4% with helper threads). Uninstrumented, a process runs a few times slower than natively;
 *   it is warmed up so, then instrumentation is switched on (`callgrind_control -i on`) for
 *   the measured requests only.
 * - A row's measured requests are sent one at a time (no concurrency, so no two requests share
 *   a batch or a forge call that they would not share the next time); the counters are zeroed,
 *   `perRepeat` requests sent and the counters dumped, `repeats` times per process. The table
 *   pools the windows (their instructions ÷ their requests) and gives the windows' spread.
 * - Variants: scopegate (sg), A (authorization off), A2 (a second A process: the control; as
 *   the processes are the same code, A2÷A is the method's own error) and B (graphql-shield).
 *   Cold rows use processes whose process cache is off (sg and B).
 * - Caches expire and timers fire by the clock, and a counted request takes 100-200 times as
 *   long as natively: with the native settings W2's 20 project records (kept 5 s) were fetched
 *   again every 5 requests instead of every 1,000, and scopegate's process decisions (5 s) read
 *   from Redis as often, which moved a W2 count by 10% and left A2÷A at 0.94. Every variant runs
 *   with its clock-driven settings multiplied by {@link TIME_SCALE} (`VariantConfig.timeScale`):
 *   cache lifetimes, the authorization log's flush interval, the revocation resync.
 * - V8's compilers and major GCs are counted apart (`bench/callgrind.ts`): both come in bursts
 *   (a TurboFan job, a mark-compact of about 120 M instructions) that a window holds or not.
 *   What is left, the request's own work and the young generation's GC, is what the ratios
 *   compare; the main table's "GC ms/req" measures the major GCs natively.
 *
 * - `--tail N` counts N requests one by one instead of in windows (a dump after every request,
 *   sg, A and A2 by default) for the distribution of what one request costs: its p99 against A's
 *   is the latency target counted (bench/NOTES.md, round 19). W1's p99 is the size of one
 *   scavenge, which differs between processes of the same code; the control shows by how much.
 * - `--sets K` runs everything in K fresh sets of processes, one set after the other (each
 *   counting N requests or `repeats` windows per variant), and pools their counts: the tail of K
 *   processes of each variant, instead of one draw of each.
 * - `--time-scale X` multiplies the variants' clock-driven settings by X instead of
 *   {@link TIME_SCALE}; a row counted so names its factor.
 * - `--merge-raw A.json,B.json` counts nothing: it pools the counts that earlier runs wrote with
 *   `--raw` (two runs of `--sets 2` at once, say) into the table one run of all their sets would
 *   have printed, and `--write`s it so. Runs of different commits, or counted with a different
 *   `--tail`, `--time-scale` or window size, are refused.
 *
 * `--write` replaces the "Instructions per request" section of `bench/RESULTS.md` (or adds it
 * before the notes); with `--tail`, the rows it counted of the "Latency tail" section.
 * `npm run bench` (full) keeps both sections as they are. `--raw FILE` writes every count.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import {
  countOf,
  mergeRows,
  SECTION,
  sectionOf,
  summarize,
  TAIL_SECTION,
  tailOf,
  withSection,
  type Cell,
  type Count,
  type Tail,
} from './callgrind.js';
import { ROOT, stopAll, stopOnSignals } from './processes.js';
import { post, startStack, type Variant } from './stack.js';
import type { VariantConfig } from './variant-server.js';
import { workloadBody, type WorkloadId } from './world.js';

const run = promisify(execFile);

/** A measured row. */
interface Row {
  readonly id: string;
  readonly w: WorkloadId;
  readonly cache: 'warm' | 'cold';
  /** Uninstrumented requests before the first count. */
  readonly warmup: number;
  /** Requests per count. */
  readonly perRepeat: number;
}

const ROWS: readonly Row[] = [
  { id: 'W1 warm', w: 'W1', cache: 'warm', warmup: 3000, perRepeat: 60 },
  { id: 'W1 cold', w: 'W1', cache: 'cold', warmup: 3000, perRepeat: 60 },
  { id: 'W2 warm', w: 'W2', cache: 'warm', warmup: 1000, perRepeat: 20 },
  { id: 'W2 cold', w: 'W2', cache: 'cold', warmup: 1000, perRepeat: 20 },
  { id: 'W3', w: 'W3', cache: 'warm', warmup: 600, perRepeat: 30 },
  { id: 'W4', w: 'W4', cache: 'warm', warmup: 1000, perRepeat: 40 },
];

type Name = 'sg' | 'A' | 'A2' | 'B';

/**
 * The default factor by which every cache lifetime and timer of the variants is multiplied, as
 * the processes run slower instrumented than natively (`--time-scale` sets another: a W1
 * request counted alone is about 370 times slower, a W2 request about 100; round 20 of
 * bench/NOTES.md).
 */
const TIME_SCALE = 100;

const args = process.argv.slice(2);
const NAMES_ALL: readonly Name[] = ['sg', 'A', 'A2', 'B'];
/** The variants of the tail table, in its order. */
const TAIL_NAMES: readonly Name[] = ['sg', 'A', 'A2'];

/** The value after `flag` in `argv` (`--rows 'W1 warm'`), if it was given. */
const valueIn = (argv: readonly string[], flag: string): string | undefined =>
  argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined;
const numberIn = (argv: readonly string[], flag: string): number | undefined => {
  const value = valueIn(argv, flag);
  return value === undefined ? undefined : Number(value);
};
const valueArg = (flag: string): string | undefined => valueIn(args, flag);
const listArg = (flag: string): string[] | undefined => {
  const value = valueArg(flag);
  return value ? value.split(',') : undefined;
};

/** What a run's arguments make it count (read again from a `--raw` file's arguments). */
interface Settings {
  readonly smoke: boolean;
  readonly quick: boolean;
  /** `--tail N`: requests counted one by one, or undefined for windows. */
  readonly tail: number | undefined;
  readonly repeats: number;
  readonly scale: number;
  readonly sets: number;
  readonly timeScale: number;
}

function settingsOf(argv: readonly string[]): Settings {
  // `--smoke` (test/bench/instructions-smoke.test.ts): W1 warm, sg and A, one count of 5
  // requests after 30, to keep the harness working; its figures mean nothing.
  const smoke = argv.includes('--smoke');
  const quick = argv.includes('--quick');
  // `--tail N`: N requests counted one by one (a dump after each) instead of windows, for the
  // distribution of what a request costs; its p99 is the latency target's counted measure.
  const tail = numberIn(argv, '--tail');
  if (tail !== undefined && !(Number.isInteger(tail) && tail > 0))
    throw new Error('--tail takes a number of requests');
  // `--sets K`: K fresh processes of each variant, one set after the other, their counts pooled.
  // A W1 p99 is the size of one scavenge, which is a property of the process (bench/NOTES.md,
  // round 19): more processes, not more requests from one, are what make it a property of the
  // code.
  const sets = numberIn(argv, '--sets') ?? 1;
  if (!(Number.isInteger(sets) && sets > 0)) throw new Error('--sets takes a number of processes');
  // `--time-scale X`: see TIME_SCALE.
  const timeScale = numberIn(argv, '--time-scale') ?? TIME_SCALE;
  if (!(timeScale >= 1)) throw new Error('--time-scale takes a factor of at least 1');
  return {
    smoke,
    quick,
    tail,
    repeats: numberIn(argv, '--repeats') ?? (smoke ? 1 : quick ? 2 : 3),
    scale: numberIn(argv, '--scale') ?? (smoke ? 0.01 : quick ? 0.25 : 1),
    sets,
    timeScale,
  };
}

/** A `--raw` file: the code counted, the run's arguments and every count by row and variant. */
interface RawRun {
  readonly commit: string;
  readonly args: readonly string[];
  readonly raw: Record<string, Partial<Record<Name, Count[]>>>;
}

// `--merge-raw A.json,B.json`: counts nothing; pools the counts of earlier runs' `--raw` files
// into one table (and, with `--write`, into bench/RESULTS.md), as one run of their sets together
// would have made it. The runs must have counted the same commit the same way.
const mergeFiles = listArg('--merge-raw');
const merged = mergeFiles?.map((file): RawRun => {
  const run = JSON.parse(readFileSync(file, 'utf8')) as Partial<RawRun>;
  if (typeof run.commit !== 'string' || !Array.isArray(run.args) || !run.raw)
    throw new Error(`${file} is not a --raw file of bench/instructions.ts`);
  return run as RawRun;
});

/** The settings the pooled runs share, with their sets added up. */
function pooledSettings(runs: readonly RawRun[]): Settings {
  const each = runs.map((r) => settingsOf(r.args));
  const first = each[0];
  if (!first) throw new Error('--merge-raw takes at least one file');
  const differs = (f: (s: Settings) => unknown): boolean => each.some((s) => f(s) !== f(first));
  if (new Set(runs.map((r) => r.commit)).size > 1)
    throw new Error(`the runs counted different code (${runs.map((r) => r.commit).join(', ')})`);
  if (differs((s) => s.tail) || differs((s) => s.timeScale))
    throw new Error('the runs counted differently (--tail or --time-scale differ)');
  if (first.tail === undefined && (differs((s) => s.scale) || differs((s) => s.smoke)))
    throw new Error('the runs counted windows of different sizes (--scale or --smoke differ)');
  return { ...first, sets: each.reduce((n, s) => n + s.sets, 0) };
}

const {
  smoke,
  quick,
  tail: tailArg,
  repeats,
  scale,
  sets,
  timeScale,
} = merged ? pooledSettings(merged) : settingsOf(args);
const write = args.includes('--write');
const NAMES =
  (listArg('--variants') as Name[] | undefined) ??
  (merged
    ? (tailArg ? TAIL_NAMES : NAMES_ALL).filter((n) =>
        merged.every((r) => Object.values(r.raw).every((counts) => counts[n]?.length)),
      )
    : smoke
      ? ['sg', 'A']
      : tailArg
        ? TAIL_NAMES
        : NAMES_ALL);
const wanted = listArg('--rows') ?? (smoke ? ['W1 warm'] : undefined);
// `--raw FILE`: every count (total, compilation, major GC) of every row and variant, as JSON.
const rawPath = valueArg('--raw');
const keepDir = valueArg('--keep-dumps');
if (keepDir) mkdirSync(keepDir, { recursive: true });
const rows = ROWS.filter((r) =>
  wanted
    ? wanted.some((w) => r.id === w || r.id.startsWith(`${w} `) || r.id === `${w} warm`)
    : true,
)
  .filter((r) => !quick || r.cache === 'warm')
  .filter((r) => !merged || merged.every((run) => run.raw[r.id]));
if (merged && rows.length === 0) throw new Error('the --merge-raw runs have no row in common');

/** Requests per window of a row. */
const perRepeatOf = (row: Row): number => Math.max(5, Math.round(row.perRepeat * scale));

const t0 = performance.now();
// The code counted: read when the run starts (files edited while it runs were not counted), or
// the pooled runs'.
const measured = merged?.[0]?.commit ?? commit();
const log = (line: string): void =>
  void process.stderr.write(
    `[instructions ${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}\n`,
  );

/** One process under callgrind, with its dump counter. */
interface Counted {
  readonly variant: Variant;
  readonly out: string;
  /** The process's key as part of a file name (`sg-warm`). */
  readonly file: string;
  dumps: number;
}

async function control(p: Counted, ...flags: string[]): Promise<void> {
  await run('callgrind_control', [...flags, String(p.variant.pid)], { timeout: 120_000 });
}

/** Dumps the counters (which zeroes them) and returns what was counted since. */
async function dump(p: Counted): Promise<Count> {
  await control(p, '-d');
  p.dumps += 1;
  const file = `${p.out}.${p.dumps}`;
  for (let i = 0; i < 100 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
  if (keepDir) copyFileSync(file, join(keepDir, basename(file)));
  return countOf(readFileSync(file, 'utf8'), file);
}

async function main(): Promise<void> {
  const raw = merged ? pooledCounts(merged) : await countAll();
  const countsOf = (row: Row): Record<Name, Count[]> => {
    const counts = raw.get(row.id);
    if (!counts) throw new Error(`no counts for ${row.id}`);
    return counts;
  };
  const results: Result[] = rows.map((row) => {
    const counts = countsOf(row);
    return {
      row,
      cells: Object.fromEntries(
        NAMES.map((n) => [n, summarize(counts[n], tailArg ? 1 : perRepeatOf(row))]),
      ),
      tails: tailArg ? Object.fromEntries(NAMES.map((n) => [n, tailOf(counts[n])])) : {},
      // A and A2 are the same code: their requests pooled are a larger sample of A.
      pooledA:
        tailArg && counts.A.length && counts.A2.length
          ? tailOf([...counts.A, ...counts.A2])
          : undefined,
    };
  });
  if (rawPath) {
    // Pooled runs are written as one run of all their sets (so they can be pooled again).
    const as = merged ? withSets(merged[0]?.args ?? [], sets) : args;
    writeFileSync(
      rawPath,
      JSON.stringify({ commit: measured, args: as, raw: Object.fromEntries(raw) }),
    );
    log(`wrote every count to ${rawPath}`);
  }
  const section = tailArg ? tailReport(results, tailArg) : report(results, repeats * sets);
  process.stdout.write(`${section}\n`);
  if (write) writeSection(section);
}

/** `argv` with `--sets` set to `k` and without `--raw` (what a pooled run is written as). */
function withSets(argv: readonly string[], k: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sets' || argv[i] === '--raw') i += 1;
    else out.push(argv[i] ?? '');
  }
  return [...out, '--sets', String(k)];
}

/** The counts of the `--merge-raw` runs, pooled by row and variant. */
function pooledCounts(runs: readonly RawRun[]): Map<string, Record<Name, Count[]>> {
  return new Map(
    rows.map((row) => {
      const counts: Record<Name, Count[]> = { sg: [], A: [], A2: [], B: [] };
      for (const r of runs)
        for (const n of NAMES_ALL) counts[n].push(...(r.raw[row.id]?.[n] ?? []));
      return [row.id, counts];
    }),
  );
}

/** Starts the variants under callgrind, set after set, and counts every row in each. */
async function countAll(): Promise<Map<string, Record<Name, Count[]>>> {
  stopOnSignals();
  await run('valgrind', ['--version']).catch(() => {
    throw new Error('valgrind is not installed (apt-get install -y valgrind)');
  });
  const stack = await startStack(log);
  const { issuer, token, work } = stack;
  await stack.ready;
  // Clock-driven settings scaled as the processes are slowed, and a GET retried after a closed
  // connection (see `VariantConfig.timeScale` and `upstreamRetries`).
  const base = { ...stack.base, timeScale, upstreamRetries: true };
  const configs: [string, VariantConfig][] = [
    ['sg:warm', { ...base, kind: 'scopegate' }],
    ['sg:cold', { ...base, kind: 'scopegate', cache: 'cold' }],
    ['A:warm', { ...base, kind: 'baseline-a' }],
    ['A2:warm', { ...base, kind: 'baseline-a' }],
    ['B:warm', { ...base, kind: 'shield' }],
    ['B:cold', { ...base, kind: 'shield', cache: 'cold' }],
  ];
  // Only the processes a row asks for: the named variants, cold ones for cold rows.
  const needed = configs.filter(([key]) => {
    const [name, cache] = key.split(':');
    const used = (r: Row): boolean => cache === (name === 'sg' || name === 'B' ? r.cache : 'warm');
    return NAMES.includes(name as Name) && rows.some(used);
  });
  /** Starts a fresh process of every needed variant under callgrind (set `set`). */
  const startProcesses = async (set: number): Promise<Map<string, Counted>> => {
    const procs = new Map<string, Counted>();
    log(`starting ${needed.length} variant processes under callgrind (set ${set + 1} of ${sets})`);
    await Promise.all(
      needed.map(async ([key, config]) => {
        const file = `${key.replace(':', '-')}${sets > 1 ? `-${set + 1}` : ''}`;
        const out = join(work, `callgrind-${file}.out`);
        // `--keep-dumps` also keeps V8's map of its generated code (`/tmp/perf-<pid>.map`), so
        // that a dump's anonymous addresses can be named (JavaScript functions) afterwards.
        // (It also makes V8 write a log, kept there too instead of in the repository.)
        const naming = keepDir
          ? [
              '--perf-basic-prof',
              '--no-logfile-per-isolate',
              `--logfile=${join(keepDir, `v8-${file}.log`)}`,
            ]
          : [];
        const variant = await stack.startVariant(config, {
          nodeArgs: ['--single-threaded', ...naming],
          wrapper: [
            'valgrind',
            '--tool=callgrind',
            '--instr-atstart=no',
            `--callgrind-out-file=${out}`,
          ],
          timeoutMs: 600_000,
        });
        procs.set(key, { variant, out, file, dumps: 0 });
      }),
    );
    return procs;
  };
  let jobId = 1000;
  // Every count of the run by row and variant (all sets pooled), for the table and `--raw`.
  const raw = new Map<string, Record<Name, Count[]>>(
    rows.map((row) => [row.id, { sg: [], A: [], A2: [], B: [] }]),
  );
  const countsOf = (row: Row): Record<Name, Count[]> => {
    const counts = raw.get(row.id);
    if (!counts) throw new Error(`no counts for ${row.id}`);
    return counts;
  };
  for (let set = 0; set < sets; set++) {
    const procs = await startProcesses(set);
    for (const row of rows) await countRow(procs, row, countsOf(row));
    if (keepDir)
      for (const p of procs.values()) {
        const map = `/tmp/perf-${String(p.variant.pid)}.map`;
        if (existsSync(map)) copyFileSync(map, join(keepDir, `perf-${p.file}.map`));
      }
    await Promise.all([...procs.values()].map((p) => p.variant.stop()));
  }
  await stopAll();
  return raw;

  /** Counts one row in this set's processes, adding each variant's counts to `counts`. */
  async function countRow(
    procs: ReadonlyMap<string, Counted>,
    row: Row,
    counts: Record<Name, Count[]>,
  ): Promise<void> {
    const warmup = Math.max(30, Math.round(row.warmup * scale));
    const perRepeat = perRepeatOf(row);
    for (const name of NAMES) {
      const key = `${name}:${name === 'sg' || name === 'B' ? row.cache : 'warm'}`;
      const p = procs.get(key);
      if (!p) throw new Error(`no process ${key}`);
      let sent = 0;
      const send = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          const body = workloadBody(row.w).replace('__UNIQUE__', `i-${name}-${row.id}-${sent}`);
          const tk = row.w === 'W4' ? await issuer.mint(jobId++) : token;
          sent += 1;
          await post(p.variant.url, body, tk, false);
        }
      };
      const started = performance.now();
      await send(warmup);
      await control(p, '-i', 'on');
      // Instrumentation starts with new translations of the code: not counted, but slow.
      await send(3);
      // Not a full collection before each count: one made every count start from a heap whose
      // inline caches and compiled code were thrown away (compilation 10 times as high, the
      // rest 15% higher than without it).
      await control(p, '-z');
      const mine: Count[] = [];
      if (tailArg)
        for (let r = 0; r < tailArg; r++) {
          await send(1);
          mine.push(await dump(p));
        }
      else
        for (let r = 0; r < repeats; r++) {
          await send(perRepeat);
          mine.push(await dump(p));
        }
      await control(p, '-i', 'off');
      counts[name].push(...mine);
      const cell = summarize(mine, tailArg ? 1 : perRepeat);
      log(
        `${row.id} ${name}: ${cell.windows.map((c) => (c / 1e6).toFixed(3)).join(', ')} M instructions/request ` +
          `without compilation and major GCs (compilation ${(cell.compile / 1e6).toFixed(3)} M, major GC ${(cell.major / 1e6).toFixed(3)} M; ${((performance.now() - started) / 1000).toFixed(0)} s)`,
      );
    }
  }
}

interface Result {
  readonly row: Row;
  readonly cells: Partial<Record<Name, Cell>>;
  /** With `--tail`: each variant's per-request quantiles. */
  readonly tails: Partial<Record<Name, Tail>>;
  /** With `--tail`: the quantiles of A's and A2's requests together. */
  readonly pooledA: Tail | undefined;
}

/** The spread of a cell's windows: largest÷smallest − 1, in percent. */
function spread(cell: Cell | undefined): string {
  if (!cell) return '-';
  return `${((Math.max(...cell.windows) / Math.min(...cell.windows) - 1) * 100).toFixed(1)}%`;
}

function report(results: readonly Result[], reps: number): string {
  const f = (x: number | undefined): string =>
    x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(3);
  const lines = [
    SECTION,
    '',
    `Written by \`npx tsx bench/instructions.ts${args.length ? ` ${args.join(' ')}` : ''}\` at ${measured} on ${new Date().toISOString()}; ` +
      `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. ` +
      'Millions of instructions each gateway process executed per request, counted by callgrind ' +
      `(${reps} windows of requests sent one at a time to a warm process, pooled). V8's compilers (a cost ` +
      'paid once per function, not per request) and major GCs (one in a few hundred requests, so a ' +
      "window holds none or one) are left out and shown in their own columns; the young generation's " +
      'GC stays in. "A÷sg" is the throughput a CPU-bound scopegate would reach against A (the ≥ 0.95× ' +
      'target), "B÷sg" the same against B (the ≥ 2× target), and "A2÷A" the control: two processes ' +
      'of the same code, so its distance from 1.000 is the method\'s own error. "spread" is the largest ' +
      'window÷the smallest − 1. How it is measured: the header of `bench/instructions.ts`.',
    '',
    '| row | sg | A | A2 | B | A÷sg | A2÷A (control) | B÷sg | major GC (sg, A, A2, B) | compilation (sg, A, A2, B) | spread (sg, A, A2, B) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { row, cells } of results) {
    const w = (n: Name): number | undefined => cells[n]?.work;
    const ratio = (a: Name, b: Name): number | undefined => {
      const x = w(a);
      const y = w(b);
      return x === undefined || y === undefined ? undefined : x / y;
    };
    lines.push(
      `| ${row.id} | ${NAMES_ALL.map((n) => f((w(n) ?? NaN) / 1e6)).join(' | ')} | ${f(ratio('A', 'sg'))} | ` +
        `${f(ratio('A2', 'A'))} | ${f(ratio('B', 'sg'))} | ${NAMES_ALL.map((n) => f((cells[n]?.major ?? NaN) / 1e6)).join(', ')} | ` +
        `${NAMES_ALL.map((n) => f((cells[n]?.compile ?? NaN) / 1e6)).join(', ')} | ${NAMES_ALL.map((n) => spread(cells[n])).join(', ')} |`,
    );
  }
  return lines.join('\n');
}

/**
 * The `--tail` table: the quantiles of what single requests cost, and scopegate's p99 against A's
 * (the latency target, p99 ≤ 1.1× A), with the control A2÷A beside it. Each row names the
 * requests it counted and the commit, so that rows of separate runs can share the table.
 */
function tailReport(results: readonly Result[], n: number): string {
  const m = (x: number | undefined): string =>
    x === undefined || !Number.isFinite(x) ? '-' : (x / 1e6).toFixed(2);
  const r = (x: number | undefined, y: number | undefined): string =>
    x === undefined || y === undefined ? '-' : (x / y).toFixed(3);
  const lines = [
    TAIL_SECTION,
    '',
    'Written by `npx tsx bench/instructions.ts --tail N [--sets K] [--rows ...] --write`: each row ' +
      'was counted in the run its last columns name (a run replaces only its own rows). N requests ' +
      'per variant and row ("K × N": in each of K fresh processes of every variant, pooled), sent ' +
      'one at a time to a warm process under callgrind, each counted alone (the ' +
      'counters are dumped after every request), so that the distribution of what one request costs ' +
      "is read without the machine's noise. A request's latency is its work on the CPU plus its " +
      'waits for the forge and Redis; a warm row waits the same in every variant (no Redis read, ' +
      'the same forge calls), so there the quantiles of the count are those of the latency the ' +
      "gateway adds, and a cold row's scopegate also waits for one Redis read per request, which " +
      'is not counted. "whole" is everything the thread ran during the request: with ' +
      '`--single-threaded` that includes compilation and major GCs, which natively run mostly on ' +
      'helper threads, so "work" (without them; scavenges stay in) is the closer measure of a ' +
      'native request. Millions of instructions, variants in the order sg, A, A2; quantiles are ' +
      'nearest-rank (p99 of 500 is the 6th largest, of 300 the 4th). "A2÷A" is the control: two ' +
      "processes of the same code, so its distance from 1.000 is the method's own error, and " +
      '"sg÷(A, A2)" divides by the p99 of A\'s and A2\'s requests together (twice the sample of ' +
      'authorization off; the verdict is judged on it). "major" ' +
      'counts the requests that held more than 5 M instructions of major GC.',
    '',
    '| row | work p50 | work p90 | work p99 | work max | work p99 sg÷A | control A2÷A | sg÷(A, A2) | whole p99 | whole p99 sg÷A | control A2÷A | sg÷(A, A2) | mean work sg÷A | major | requests | counted |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const when = `${measured}, ${new Date().toISOString().slice(0, 10)}${timeScale === TIME_SCALE ? '' : `, clock ×${timeScale}`}${merged && merged.length > 1 ? `, ${merged.length} runs pooled` : ''}`;
  for (const { row, cells, tails, pooledA } of results) {
    const q = (pick: (t: Tail) => number): string =>
      TAIL_NAMES.map((x) => m(tails[x] && pick(tails[x]))).join(', ');
    const ratio = (a: Name, b: Name, pick: (t: Tail) => number): string => {
      const ta = tails[a];
      const tb = tails[b];
      return r(ta && pick(ta), tb && pick(tb));
    };
    lines.push(
      `| ${row.id} | ${q((t) => t.work.p50)} | ${q((t) => t.work.p90)} | ${q((t) => t.work.p99)} | ` +
        `${q((t) => t.work.max)} | ${ratio('sg', 'A', (t) => t.work.p99)} | ${ratio('A2', 'A', (t) => t.work.p99)} | ` +
        `${r(tails.sg?.work.p99, pooledA?.work.p99)} | ` +
        `${q((t) => t.total.p99)} | ${ratio('sg', 'A', (t) => t.total.p99)} | ${ratio('A2', 'A', (t) => t.total.p99)} | ` +
        `${r(tails.sg?.total.p99, pooledA?.total.p99)} | ` +
        `${r(cells.sg?.work, cells.A?.work)} | ${TAIL_NAMES.map((x) => String(tails[x]?.withMajor ?? '-')).join(', ')} | ${sets > 1 ? `${sets} × ${n}` : n} | ${when} |`,
    );
  }
  return lines.join('\n');
}

/** The commit measured, marked when the work tree had changes. */
function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'an unknown commit';
  }
}

function writeSection(section: string): void {
  const path = join(ROOT, 'bench', 'RESULTS.md');
  const results = readFileSync(path, 'utf8');
  const merged = tailArg
    ? mergeRows(
        section,
        sectionOf(results, TAIL_SECTION),
        ROWS.map((r) => r.id),
      )
    : section;
  writeFileSync(path, withSection(results, merged));
  log(`wrote the section into ${path}`);
}

main().catch(async (e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  await stopAll();
  process.exit(1);
});
