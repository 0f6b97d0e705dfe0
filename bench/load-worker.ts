/**
 * The load generator, run in its own process so it never shares an event loop (or a CPU
 * profile) with a gateway: `node --import tsx bench/load-worker.ts <jobs.json>`. Drives each
 * job's target with autocannon and prints one JSON line per job, a {@link LoadResult}.
 *
 * Per request it picks the next body and token in turn, and replaces `__UNIQUE__` in the body
 * with a number unique to this run (W3 creates a release with a fresh tag every time).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import autocannon, { type AutocannonResult } from 'autocannon';

/** What the orchestrator asks of one load run. */
export interface LoadJob {
  readonly url: string;
  readonly body: string;
  /** Bearer tokens used in turn, one per request (W4: a different one every time). */
  readonly tokens: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
  readonly connections: number;
  /** Seconds; ignored when `amount` is set. */
  readonly durationSeconds: number;
  readonly amount?: number;
  /** Prefix of the `__UNIQUE__` numbers (so two runs never repeat a tag). */
  readonly uniquePrefix: string;
  /** The target gateway's process id, to measure the CPU time it spends per request. */
  readonly pid?: number;
  /** Where the target serves its total GC time in ms (`variant-server.ts`). */
  readonly gcUrl?: string;
  /**
   * An untimed run of the same requests just before the timed one, so that the timed one
   * measures the process under load and not its return from idleness: a gateway process that
   * sat idle for 30 s while the others ran answers its first W2 requests 2-4 times slower for
   * 1-3 s (bench/NOTES.md, round 13). Its own tokens, so that W4's timed run still sees none
   * twice; nothing of it is counted.
   */
  readonly preroll?: { readonly seconds: number; readonly tokens: readonly string[] };
}

/** One run's figures. */
export interface LoadResult {
  readonly requests: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /**
   * Every timed request's latency, ms (0.01 ms steps), in the order answered: the report takes
   * the p99 of all of a cell's rounds together, because one 6 s round of W2 has about 600
   * requests and its own p99 is decided by its worst few (bench/NOTES.md, round 13).
   */
  readonly latenciesMs?: readonly number[];
  /**
   * CPU time (user + system) the target process spent per successful request during the run,
   * in ms; absent when its `/proc/<pid>/stat` cannot be read. Unlike req/s it does not depend
   * on how much of a shared CPU the process was given, so it is the steadier measure of what a
   * gateway variant costs.
   */
  readonly cpuMsPerRequest?: number;
  /** Garbage collection time (main-thread pauses) per successful request, ms; part of the CPU. */
  readonly gcMsPerRequest?: number;
  /** Requests that had to reuse a token of a list of several (more requests than tokens). */
  readonly tokenReuses: number;
}

let ticksPerSecond: number | undefined;

/** CPU time of process `pid` so far, in ms (Linux `/proc`); `undefined` elsewhere. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    return Number.isFinite(ticks) ? (ticks * 1000) / ticksPerSecond : undefined;
  } catch {
    return undefined;
  }
}

/** The total GC time a variant reports, ms; `undefined` when it does not. */
async function gcMs(url: string | undefined): Promise<number | undefined> {
  if (url === undefined) return undefined;
  try {
    const n = Number(await (await fetch(url)).text());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one job: its pre-roll, if any, then the timed run. */
export async function runLoad(job: LoadJob): Promise<LoadResult> {
  if (job.preroll && job.preroll.seconds > 0)
    await drive(
      { ...job, durationSeconds: job.preroll.seconds, tokens: job.preroll.tokens },
      `${job.uniquePrefix}-pre`,
      undefined,
    );
  const gcBefore = await gcMs(job.gcUrl);
  const cpuBefore = job.pid === undefined ? undefined : processCpuMs(job.pid);
  const started = performance.now();
  const { result, sent, latencies } = await drive(job, job.uniquePrefix, job.amount);
  // autocannon's own `duration` is whole seconds; a short run needs the real elapsed time.
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = job.pid === undefined ? undefined : processCpuMs(job.pid);
  const gcAfter = await gcMs(job.gcUrl);
  const requests = result['2xx'] + result.non2xx;
  const cpu =
    cpuBefore !== undefined && cpuAfter !== undefined && result['2xx'] > 0
      ? { cpuMsPerRequest: (cpuAfter - cpuBefore) / result['2xx'] }
      : {};
  const gc =
    gcBefore !== undefined && gcAfter !== undefined && result['2xx'] > 0
      ? { gcMsPerRequest: (gcAfter - gcBefore) / result['2xx'] }
      : {};
  return {
    requests,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    seconds,
    rps: result['2xx'] / seconds,
    tokenReuses: job.tokens.length > 1 ? Math.max(0, sent - job.tokens.length) : 0,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    latenciesMs: latencies,
    ...cpu,
    ...gc,
  };
}

/**
 * Drives `job.url` with autocannon for `job.durationSeconds` (or `amount` requests), each
 * request with the next of `job.tokens` and `__UNIQUE__` replaced by `<prefix>-<n>`.
 */
async function drive(
  job: LoadJob,
  prefix: string,
  amount: number | undefined,
): Promise<{ result: AutocannonResult; sent: number; latencies: number[] }> {
  let n = 0;
  const unique = job.body.includes('__UNIQUE__');
  const latencies: number[] = [];
  const run = autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.durationSeconds,
    ...(amount !== undefined ? { amount } : {}),
    method: 'POST',
    timeout: 30,
    sampleInt: 50,
    requests: [
      {
        setupRequest: (req) => {
          const k = n++;
          const token = job.tokens[k % job.tokens.length];
          return {
            ...req,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...job.headers,
              ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
            },
            body: unique ? job.body.replace('__UNIQUE__', `${prefix}-${k}`) : job.body,
          };
        },
      },
    ],
  });
  run.on('response', (_client, _status, _bytes, ms) => latencies.push(Math.round(ms * 100) / 100));
  const result = await run;
  return { result, sent: n, latencies };
}

// A file holds the jobs of one round, run one after another in the order given (the
// orchestrator alternates variants between rounds); one JSON line per job.
const jobsPath = process.argv[2];
if (jobsPath !== undefined && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const jobs = JSON.parse(readFileSync(jobsPath, 'utf8')) as LoadJob[];
  for (const job of jobs) process.stdout.write(`${JSON.stringify(await runLoad(job))}\n`);
}
