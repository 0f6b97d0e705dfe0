/**
 * `npm run bench [-- --quick | --smoke] [-- --profile | --profile-only] [--profile-case sg:W1:cold]
 *  [--profile-dir DIR] [--raw FILE]`: starts a private Redis, the embedded
 * upstream and every variant in their own processes, drives them with autocannon from yet
 * another process (alternating the variants' order between rounds to cancel drift), and prints
 * one table; also the policy micro-benchmark and the decision cache scale check. Writes
 * `bench/RESULTS.md`. Everything it starts is stopped when it ends, fails or is interrupted.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { LoadJob, LoadResult } from './load-worker.js';
import { runPolicyMicroBench } from './micro.js';
import { COUNTED_SECTIONS, sectionOf, withSection } from './callgrind.js';
import { ROOT, runNode, stopAll, stopOnSignals } from './processes.js';
import { summarizeProfile } from './profile-summary.js';
import {
  formatMicro,
  formatResults,
  formatScale,
  formatTable,
  type Column,
  type Row,
} from './report.js';
import type { ScaleResult } from './scale.js';
import { startRedis } from '../test/helpers/redis.js';
import { post, startStack, type BenchStack } from './stack.js';
import type { VariantConfig } from './variant-server.js';
import { WORKLOAD_HEADER, workloadBody, type WorkloadId } from './world.js';

interface Settings {
  readonly rounds: number;
  readonly durationSeconds: number;
  /** Smoke: a fixed number of requests per cell instead of a duration. */
  readonly amount?: number;
  readonly connections: number;
  /**
   * Warm-up per cell: a number of requests (smoke, full) or, when 0, 0.5 s (quick). Full runs
   * warm each cell with 3,000 requests: the processes' JIT settles by requests served, not by
   * seconds, and scopegate, with more code on the path, settles later than A (a W2 probe:
   * CPU sg÷A 1.07-1.17 over the first 40 s of W2 traffic, about 1.00 after it; see
   * bench/NOTES.md, round 10). A fixed 3 s gave W2 (about 110 req/s) a tenth of that.
   */
  readonly warmupAmount: number;
  /**
   * W4's tokens, split into one slice per run of a cell (warm-up, then each round) so that no
   * token is seen twice by a gateway process and every request pays a full verification.
   * A round's slice must outlast its fastest process: W4 reached 900 req/s on a quiet machine
   * (quick: 1,000 tokens a run were too few), so a slice's timed part (three quarters of it) is
   * sized for 1,500 req/s. Minting is cheap (20,000 ES256 tokens in about 1 s).
   */
  readonly w4Tokens: number;
  /**
   * The scale check's runs: pairs driven and process LRU size. The first has the default LRU;
   * the second four times as many, so that the heap a held decision costs is the difference of
   * the two levels (`--quick` drives fewer pairs through it, to stay under two minutes).
   */
  readonly scaleRuns: readonly { readonly pairs: number; readonly lruMax: number }[];
  readonly microIterations: number;
  /**
   * Rounds in which C (bare HTTP) runs, from the first: it is the ceiling of the HTTP layer,
   * shown for scale and judged by no target, so its time goes to more rounds of the others.
   */
  readonly cRounds: number;
  /**
   * Gateway processes per variant. Each pair of rounds (one order and its reverse) uses one set,
   * in turn. A process keeps its own cost per request for its whole life: two W2 probes of the
   * same code, each with a fresh sg and a fresh A process and 16 blocks of sg, A, A, sg, gave
   * median CPU sg÷A 1.07 (13 of 16 blocks above 1) and 1.00 (bench/NOTES.md, round 11). With
   * one set, every round of a run inherits its processes' draw; with two, the median of the
   * pairs sees two draws per variant. Full runs give each pair its own set (four): in a probe
   * (round 12) Node's own `process.nextTick` cost 9-12 times as much in one gateway process as
   * in the other, in W1 and W2 alike, under the same traffic; that alone was 2% of a W2 request.
   */
  readonly processSets: number;
  /**
   * Seconds of untimed load each timed run starts with (`LoadJob.preroll`): every gateway process
   * idles while the other cells of a round run, and comes back from it slowly.
   */
  readonly prerollSeconds: number;
}

const argv = process.argv.slice(2);
const mode = argv.includes('--smoke') ? 'smoke' : argv.includes('--quick') ? 'quick' : 'full';
const SETTINGS: Record<typeof mode, Settings> = {
  // Two sets of gateways and a third round, so that the second set serves a round too.
  smoke: {
    rounds: 3,
    durationSeconds: 1,
    amount: 20,
    connections: 4,
    warmupAmount: 4,
    w4Tokens: 160,
    scaleRuns: [
      { pairs: 5_000, lruMax: 500 },
      { pairs: 5_000, lruMax: 2_000 },
    ],
    microIterations: 10_000,
    cRounds: 1,
    processSets: 2,
    prerollSeconds: 0.2,
  },
  // Under two minutes in all on a 2-CPU machine, from a fresh clone (nothing compiled yet): with
  // 1 s timed after a 0.25 s pre-roll it took 121.7 s there.
  quick: {
    rounds: 2,
    durationSeconds: 0.75,
    connections: 10,
    warmupAmount: 0,
    w4Tokens: 9_000,
    scaleRuns: [
      { pairs: 200_000, lruMax: 10_000 },
      { pairs: 80_000, lruMax: 40_000 },
    ],
    microIterations: 100_000,
    cRounds: 2,
    processSets: 1,
    prerollSeconds: 0.2,
  },
  // 45-55 minutes (2766 s on a quiet day, with the control A2), a fifth to a half of it warming
  // up four sets (each just before its pair of rounds, 3-7 minutes each): eight rounds are four
  // pairs of one order and its reverse (see `pairedRatio`); a shared 2-CPU machine has a bad pair in most runs, and single pairs of the same code range over ±10%, so
  // the more pairs the steadier the median. C runs in the first pair only. Four sets of gateway
  // processes, each warmed up, serve one pair each.
  full: {
    rounds: 8,
    durationSeconds: 6,
    connections: 10,
    warmupAmount: 3_000,
    w4Tokens: 108_000,
    scaleRuns: [
      { pairs: 200_000, lruMax: 10_000 },
      { pairs: 200_000, lruMax: 40_000 },
    ],
    microIterations: 300_000,
    cRounds: 2,
    processSets: 4,
    prerollSeconds: 2,
  },
};
const settings = SETTINGS[mode];
/** `--profile-only`: skip the timed rounds, scale check and RESULTS.md; just profile. */
const profileOnly = argv.includes('--profile-only');
const profiling = profileOnly || argv.includes('--profile') || argv.includes('--profile-case');
const resultsPath = mode === 'smoke' ? undefined : join(ROOT, 'bench', 'RESULTS.md');

/**
 * Gateway processes: scopegate, A and B, warm and cold, and A2 (the control, a second A); C
 * (bare HTTP) is started later.
 */
type ProcessName = 'sg' | 'sg-cold' | 'A' | 'A-of-cold' | 'A2' | 'B' | 'B-cold' | 'C';

interface RowPlan {
  readonly id: string;
  readonly description: string;
  readonly workload: WorkloadId;
  readonly targets: Row['targets'];
  readonly procs: Partial<Record<Column, ProcessName>>;
}

// A2, the control, is a second A process, identical to A, that serves every cell scopegate's
// warm process does, in the same rounds, so it has the same history (load, idleness) as the
// process it stands in for. A2 against A is a comparison in which nothing differs: its ratios
// show how far this run's estimators stray from 1.00 on their own, and so which targets the run
// can resolve at all. The order of a row's cells (this object's) puts A and A2 either side of
// scopegate, so that each runs right after scopegate in one direction and right before it in the
// other. In round 14's runs (order scopegate, A, B, A2) A ran next to its row's scopegate in
// both directions and A2 in neither, and A2's p99 came out below A's in 13 of 16 estimates
// (bench/NOTES.md, round 14).
const warm = { A2: 'A2', scopegate: 'sg', A: 'A', B: 'B', C: 'C' } as const;
// The cold rows' A is a second, identical A process: it serves only the rows sg-cold and
// B-cold serve, so it sits idle between rounds exactly as long as they do. A process that idled
// for two minutes spends far more CPU per request for a while afterwards (W1: 2.2 ms before a
// 130 s pause, 4.1 ms in the 6 s after it), so comparing sg-cold with the A that every other
// row keeps busy measured idleness, not authorization. See bench/NOTES.md, round 4.
const cold = { scopegate: 'sg-cold', A: 'A-of-cold', B: 'B-cold', C: 'C' } as const;
const PLAN: readonly RowPlan[] = [
  {
    id: 'W1 warm',
    description: '1 project, 100 releases × 2 guarded fields',
    workload: 'W1',
    targets: 'warm',
    procs: warm,
  },
  {
    id: 'W1 cold',
    description: 'W1, process cache off',
    workload: 'W1',
    targets: 'cold',
    procs: cold,
  },
  {
    id: 'W2 warm',
    description: '20 projects × 10 guarded fields, group entries',
    workload: 'W2',
    targets: 'warm',
    procs: warm,
  },
  {
    id: 'W2 cold',
    description: 'W2, process cache off',
    workload: 'W2',
    targets: 'cold',
    procs: cold,
  },
  {
    id: 'W3',
    description: 'releaseCreate, a new tag per request',
    workload: 'W3',
    targets: 'none',
    procs: warm,
  },
  {
    id: 'W4',
    description: 'W1 with a token no gateway process has seen before, per request',
    workload: 'W4',
    targets: 'none',
    procs: warm,
  },
];

const t0 = performance.now();
const log = (line: string): void =>
  void process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);

async function main(): Promise<void> {
  stopOnSignals();
  log(`mode ${mode}; policy micro-benchmark`);
  const micro = runPolicyMicroBench(settings.microIterations, mode === 'smoke' ? 2 : 5);

  const stack = await startStack(log);
  const { work, base, issuer, token, startVariant, runJobs } = stack;
  const w4Tokens = await Promise.all(
    Array.from({ length: settings.w4Tokens }, (_, i) => issuer.mint(10 + i)),
  );
  log(`starting the upstream and the variants (${settings.processSets} set(s) of gateways)`);
  // Keyed by `procKey`: a gateway of each set; C, judged by no target, has one process (set 0).
  const procKey = (name: ProcessName, set: number): string => `${name}#${name === 'C' ? 0 : set}`;
  const sets = Array.from({ length: settings.processSets }, (_, i) => i);
  const urls = new Map<string, string>();
  const pids = new Map<string, number | undefined>();
  const gcUrls = new Map<string, string | undefined>();
  const gateways: [ProcessName, VariantConfig][] = [
    ['sg', { ...base, kind: 'scopegate' }],
    ['sg-cold', { ...base, kind: 'scopegate', cache: 'cold' }],
    ['A', { ...base, kind: 'baseline-a' }],
    ['A-of-cold', { ...base, kind: 'baseline-a' }],
    ['A2', { ...base, kind: 'baseline-a' }],
    ['B', { ...base, kind: 'shield' }],
    ['B-cold', { ...base, kind: 'shield', cache: 'cold' }],
  ];
  // A few at a time (one per CPU): each start imports and compiles the gateway, so 28 started
  // at once on two CPUs (a fresh clone, nothing compiled yet) each took longer than its timeout.
  const starting = pLimit(Math.max(2, availableParallelism()));
  const variantsStarted = Promise.all(
    sets.flatMap((set) =>
      gateways.map(async ([name, config]) => {
        const v = await starting(() => startVariant(config));
        urls.set(procKey(name, set), v.url);
        pids.set(procKey(name, set), v.pid);
        gcUrls.set(procKey(name, set), v.gcUrl);
      }),
    ),
  );
  // Awaited below; until then a failure must not count as unhandled.
  variantsStarted.catch(() => undefined);
  await stack.ready;
  await variantsStarted;

  // Every gateway must answer every workload correctly before anything is timed.
  const bodyFor = (w: WorkloadId, unique: string): string =>
    workloadBody(w).replace('__UNIQUE__', unique);
  const answers: Record<string, string> = {};
  for (const w of ['W1', 'W2', 'W3'] as const) {
    answers[w] = JSON.stringify(
      await post(urls.get(procKey('sg', 0)) ?? '', bodyFor(w, 'answer'), token, false),
    );
    for (const set of sets) {
      for (const [name] of gateways) {
        const url = urls.get(procKey(name, set)) ?? '';
        await post(url, bodyFor(w, `check-${name}-${set}`), token, false);
      }
    }
  }
  answers['W4'] = answers['W1'] ?? '';
  const bare = await startVariant({ ...base, kind: 'bare-http', answers });
  urls.set(procKey('C', 0), bare.url);
  pids.set(procKey('C', 0), bare.pid);

  // Run 0 is the warm-up, run r + 1 the round r; each gets its own slice of W4's tokens, and a
  // round's slice gives its last quarter to the pre-roll. The warm-up (and a profile, which
  // starts with an untimed run of its own) has no pre-roll.
  const sliceSize = Math.floor(w4Tokens.length / (settings.rounds + 1));
  const tokensFor = (w: WorkloadId, run: number): string[] =>
    w === 'W4' ? w4Tokens.slice(run * sliceSize, (run + 1) * sliceSize) : [token];
  const prerollOf = (
    tokens: string[],
    run: number,
  ): { timed: string[]; preroll?: { seconds: number; tokens: string[] } } => {
    if (settings.prerollSeconds <= 0 || run === 0) return { timed: tokens };
    if (tokens.length === 1)
      return { timed: tokens, preroll: { seconds: settings.prerollSeconds, tokens } };
    const cut = tokens.length - Math.ceil(tokens.length / 4);
    return {
      timed: tokens.slice(0, cut),
      preroll: { seconds: settings.prerollSeconds, tokens: tokens.slice(cut) },
    };
  };
  const job = (
    name: ProcessName,
    w: WorkloadId,
    prefix: string,
    amount?: number,
    run = 0,
    set = 0,
  ): LoadJob => {
    // C answers recorded bytes and verifies nothing: it needs no fresh tokens.
    const { timed, preroll } = prerollOf(name === 'C' ? [token] : tokensFor(w, run), run);
    return {
      url: `${urls.get(procKey(name, set)) ?? ''}/graphql`,
      body: workloadBody(w),
      tokens: timed,
      ...(preroll ? { preroll } : {}),
      headers: { [WORKLOAD_HEADER]: w },
      connections: settings.connections,
      durationSeconds: settings.durationSeconds,
      ...(amount !== undefined ? { amount } : {}),
      uniquePrefix: prefix,
      ...(pids.get(procKey(name, set)) !== undefined ? { pid: pids.get(procKey(name, set)) } : {}),
      ...(gcUrls.get(procKey(name, set)) !== undefined
        ? { gcUrl: gcUrls.get(procKey(name, set)) }
        : {}),
    };
  };
  if (profileOnly) {
    const only = await runProfiles(base, job, runJobs, startVariant, work);
    process.stdout.write(`\n${only}\n`);
    return;
  }

  const cells = PLAN.flatMap((row) =>
    (Object.entries(row.procs) as [Column, ProcessName][]).map(([col, p]) => ({ row, col, p })),
  );
  // Each set is warmed up just before its first round, not all at the start: a full run's set
  // takes 4.5-6 minutes to warm up, and a set that then idled through the others' warm-ups came
  // back from minutes of idleness in its first round. One load worker per set: a worker is
  // stopped after 10 minutes.
  const warmedUp = new Set<number>();
  const warmUp = async (set: number): Promise<void> => {
    log(`warming up process set ${set + 1}`);
    await runJobs(
      cells
        // One C process serves every set.
        .filter((c) => set === 0 || c.col !== 'C')
        .map((c, k) => ({
          ...job(
            c.p,
            c.row.workload,
            `warm${set}-${k}`,
            settings.warmupAmount || undefined,
            0,
            set,
          ),
          // Quick runs warm up for 0.5 s; the others by a number of requests (`warmupAmount`).
          durationSeconds: 0.5,
        })),
      `warmup${set}`,
    );
    warmedUp.add(set);
  };

  const rows: Row[] = PLAN.map((p) => ({
    id: p.id,
    description: p.description,
    targets: p.targets,
    samples: { scopegate: [], A: [], B: [], C: [], A2: [] },
    roundTrips: {},
  }));
  for (let round = 0; round < settings.rounds; round++) {
    // Odd rounds run every row's variants in reverse order: drift hits each side alike.
    const these = round < settings.cRounds ? cells : cells.filter((c) => c.col !== 'C');
    const order = round % 2 === 0 ? these : [...these].reverse();
    // A pair of rounds (an order and its reverse) runs on one set of processes; the next pair on
    // the next set.
    const set = Math.floor(round / 2) % settings.processSets;
    if (!warmedUp.has(set)) await warmUp(set);
    log(`round ${round + 1}/${settings.rounds}: ${order.length} runs on process set ${set + 1}`);
    const results = await runJobs(
      order.map((c, k) =>
        job(c.p, c.row.workload, `r${round}-${k}`, settings.amount, round + 1, set),
      ),
      `round${round}`,
    );
    order.forEach((c, k) => {
      const r = results[k];
      if (r) rows[PLAN.indexOf(c.row)]?.samples[c.col].push(r);
    });
  }

  // Round trips of one request now that everything is warm (cold rows: process cache off).
  for (const [i, plan] of PLAN.entries()) {
    for (const col of ['scopegate', 'A', 'B'] as const) {
      const name = plan.procs[col];
      if (name === undefined) continue;
      const url = urls.get(procKey(name, 0)) ?? '';
      // The first request makes it warm again (the process cache keeps decisions 5 s).
      await post(url, bodyFor(plan.workload, `rt0-${i}-${col}`), token, false);
      const json = await post(url, bodyFor(plan.workload, `rt-${i}-${col}`), token, true);
      const ext = (json['extensions'] as { scopegate?: { redisRoundTrips?: number } } | undefined)
        ?.scopegate;
      const row = rows[i];
      if (row && ext?.redisRoundTrips !== undefined) row.roundTrips[col] = ext.redisRoundTrips;
    }
  }

  let profile: string | undefined;
  if (profiling) profile = await runProfiles(base, job, runJobs, startVariant, work);

  const scale: ScaleResult[] = [];
  // A Redis of its own: in the stack's, the gateways' decisions expire and their logs flush as
  // the check runs, which moved its `used_memory` delta and decision count (4,978 of 5,000 in
  // a smoke run on a loaded machine).
  const scaleRedis = await startRedis();
  try {
    for (const [k, { pairs, lruMax }] of settings.scaleRuns.entries()) {
      log(`scale check: ${pairs} pairs, process LRU max ${lruMax}`);
      // Each run its own job projects (`offset`), so the second writes its decisions too.
      const args = [scaleRedis.url, String(pairs), String(lruMax), String(k * 1_000_000)];
      const out = await runNode(['bench/scale.ts', ...args], { nodeArgs: ['--expose-gc'] });
      scale.push(JSON.parse(out.trim()) as ScaleResult);
    }
  } finally {
    await scaleRedis.stop();
  }

  const settingsLine = `${settings.rounds} round(s) per cell, ${settings.amount !== undefined ? `${settings.amount} requests` : `${settings.durationSeconds} s`} each${settings.prerollSeconds > 0 ? ` after ${settings.prerollSeconds} s of untimed load (a pre-roll: each process idles while the others run)` : ''}, ${settings.connections} connections (autocannon in its own process), C in the first ${Math.min(settings.cRounds, settings.rounds)} only; ${settings.processSets} set(s) of gateway processes; req/s is the mean of the rounds, p99 that of all their requests together.`;
  process.stdout.write(
    `\n${formatTable(rows)}\n\n${formatMicro(micro)}\n\n${formatScale(scale)}\n`,
  );
  if (profile) process.stdout.write(`\n${profile}\n`);
  // `--raw FILE`: every run's result, latencies included, for analysis after the run.
  const [rawPath] = optionValues('--raw');
  if (rawPath) {
    writeFileSync(rawPath, JSON.stringify({ mode, settings: settingsLine, rows }));
    log(`wrote ${rawPath}`);
  }
  if (resultsPath) {
    const notesPath = join(ROOT, 'bench', 'NOTES.md');
    const notes = existsSync(notesPath) ? readFileSync(notesPath, 'utf8') : undefined;
    // The sections `bench/instructions.ts --write` put there are kept: this run did not count.
    const previous = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '';
    const text = formatResults({
      mode,
      settings: settingsLine,
      rows,
      micro,
      scale,
      profile,
      notes,
    });
    const kept = COUNTED_SECTIONS.map((h) => sectionOf(previous, h)).filter(
      (x): x is string => x !== undefined,
    );
    writeFileSync(resultsPath, kept.reduce(withSection, text));
    log(`wrote ${resultsPath}`);
  }
}

/** The values given to a command-line option, in order (`--name value`, repeatable). */
function optionValues(name: string): string[] {
  return argv.flatMap((a, i) => (a === name ? [argv[i + 1] ?? ''] : []));
}

/** One profiled run: which gateway, which workload, process cache on or off. */
interface ProfileCase {
  readonly kind: 'scopegate' | 'baseline-a' | 'shield';
  readonly w: WorkloadId;
  readonly cache: 'warm' | 'cold';
}

const PROFILE_KINDS = { sg: 'scopegate', A: 'baseline-a', B: 'shield' } as const;

/**
 * The profiled runs: `--profile` alone profiles scopegate under W1 and W2 (warm) and W1 cold;
 * `--profile-case sg:W2:warm` (repeatable; variants sg, A, B) chooses others.
 */
function profileCases(): ProfileCase[] {
  const picked = optionValues('--profile-case');
  if (picked.length === 0) {
    return [
      { kind: 'scopegate', w: 'W1', cache: 'warm' },
      { kind: 'scopegate', w: 'W2', cache: 'warm' },
      { kind: 'scopegate', w: 'W1', cache: 'cold' },
    ];
  }
  return picked.map((spec) => {
    const [v, w, cache = 'warm'] = spec.split(':');
    const kind = PROFILE_KINDS[v as keyof typeof PROFILE_KINDS] as ProfileCase['kind'] | undefined;
    if (!kind || !['W1', 'W2', 'W3', 'W4'].includes(w ?? '') || !['warm', 'cold'].includes(cache))
      throw new Error(`--profile-case ${spec}: expected sg|A|B:W1..W4[:warm|cold]`);
    return { kind, w: w as WorkloadId, cache: cache as ProfileCase['cache'] };
  });
}

/**
 * Runs each profile case against its own process started with `--cpu-prof` and summarises it;
 * `--profile-dir DIR` also keeps the `.cpuprofile` files there (for a diff between cases).
 */
async function runProfiles(
  base: Omit<VariantConfig, 'kind'>,
  job: (name: ProcessName, w: WorkloadId, prefix: string) => LoadJob,
  runJobs: (jobs: LoadJob[], tag: string) => Promise<LoadResult[]>,
  startVariant: BenchStack['startVariant'],
  work: string,
): Promise<string> {
  const out: string[] = [];
  const [keepDir] = optionValues('--profile-dir');
  for (const [i, { kind, w, cache }] of profileCases().entries()) {
    // A case may be given twice (to see how much two profiles of one case differ).
    const name = `${kind}-${w}-${cache}-${i}`;
    const dir = join(work, `prof-${name}`);
    mkdirSync(dir);
    log(`profiling ${kind} under ${w} ${cache}`);
    const variant = await startVariant(
      { ...base, kind, cache },
      { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] },
    );
    const j = {
      ...job('sg', w, `prof-${name}`),
      url: `${variant.url}/graphql`,
      ...(variant.pid !== undefined ? { pid: variant.pid } : {}),
      gcUrl: variant.gcUrl,
    };
    const [, timed] = await runJobs(
      [
        { ...j, durationSeconds: 1 },
        { ...j, durationSeconds: Math.max(2, settings.durationSeconds * 3) },
      ],
      `prof-${name}`,
    );
    await variant.stop(); // SIGTERM: a clean exit, which writes the profile
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file && keepDir) {
      mkdirSync(keepDir, { recursive: true });
      copyFileSync(join(dir, file), join(keepDir, `${name}.cpuprofile`));
    }
    const measured = timed
      ? `${timed.ok} requests, ${timed.cpuMsPerRequest?.toFixed(3) ?? '?'} ms CPU per request`
      : 'no requests';
    out.push(
      file
        ? summarizeProfile(join(dir, file), `${w} (${kind}, ${cache}; ${measured})`)
        : `### ${w} (${kind}, ${cache})\n\n(no profile written)\n`,
    );
  }
  return out.join('\n');
}

try {
  await main();
} finally {
  await stopAll();
}
