/**
 * Reading callgrind's dumps for `bench/instructions.ts`: the self cost of every function, the
 * parts of a count that are compilation and major GCs, a variant's counts pooled, and the
 * section of `bench/RESULTS.md` the counts go to. No process is started here.
 */
import { quantile } from './report.js';

/** What a count holds: all instructions, and the parts spent compiling and in major GCs. */
export interface Count {
  readonly total: number;
  readonly compile: number;
  readonly major: number;
}

// V8's compilers (the parser, Ignition, Sparkplug, Maglev, TurboFan, Liftoff) by the names
// of their C++ functions: a server compiles a function once, or again after a deoptimization,
// so what they cost per request tends to zero natively; under callgrind a window of 15
// requests still saw a TurboFan job now and then, which alone moved a count by 2x.
export const COMPILE =
  /v8::internal::(compiler|maglev|interpreter|baseline|wasm)::|v8::internal::(Parser|PreParser|ParserBase|Scanner|Compiler|AstValueFactory|AstNode|Rewriter|DeclarationScope|Scope|ScopeInfo|Zone|CodeGenerator|Assembler|Pipeline|OptimizedCompilationInfo|TurbofanCompilationJob)\b|Builtins_CompileLazy/;
// The young generation's collector runs every few requests: it stays in the count.
export const YOUNG_GC = /Scavenge/;
// A major GC (mark-compact, with its incremental marking) costs about 120 M instructions in
// W1 and comes once in a few hundred requests: a window of 60 holds none or one, which moved
// a count by 40%. It gets its own column; the main table's GC ms/req measures it natively.
export const MAJOR_GC =
  /MarkCompact|Marking|Evacuat|Sweeper|RecordMigratedSlot|PointersUpdating|LiveObjectRange|RememberedSetUpdating|InternalizedStringTableCleaner|ClearWeak|ShouldFlushCode|NeedsResetDueToFlushedBytecode|GCTracer|RelocIterator/;

/**
 * Self cost by function of a callgrind dump (its text format: `fn=` opens a function, a cost
 * line is `<position> <Ir>`, and the line after `calls=` is a callee's inclusive cost, not
 * the caller's own). Names are compressed: `(id) name` the first time, `(id)` after.
 */
export function selfCosts(text: string): Map<string, number> {
  const names = new Map<string, string>();
  const costs = new Map<string, number>();
  const nameOf = (spec: string): string => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!m) return spec;
    if (m[2] !== undefined) names.set(m[1] ?? '', m[2]);
    return names.get(m[1] ?? '') ?? spec;
  };
  let fn = '';
  let callCost = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('fn=')) fn = nameOf(line.slice(3));
    else if (line.startsWith('cfn=')) nameOf(line.slice(4));
    else if (line.startsWith('calls=')) callCost = true;
    else if (/^[-+*\d]/.test(line)) {
      if (callCost) {
        callCost = false;
        continue;
      }
      const ir = Number(line.split(' ')[1] ?? 0);
      costs.set(fn, (costs.get(fn) ?? 0) + ir);
    }
  }
  return costs;
}

/**
 * What one dump counted: its `totals:` line, and of that the compilers' and major GCs' self
 * costs. Throws unless the functions' self costs add up to the total (within 0.1%), which
 * checks the reading of the format on every dump.
 */
export function countOf(text: string, what = 'the dump'): Count {
  const m = /^totals:\s+(\d+)/m.exec(text);
  if (!m?.[1]) throw new Error(`no totals in ${what}`);
  const total = Number(m[1]);
  let compile = 0;
  let major = 0;
  let sum = 0;
  for (const [name, ir] of selfCosts(text)) {
    sum += ir;
    if (COMPILE.test(name)) compile += ir;
    else if (!YOUNG_GC.test(name) && MAJOR_GC.test(name)) major += ir;
  }
  if (Math.abs(sum - total) > total * 0.001)
    throw new Error(`${what}: the functions' self costs add up to ${sum}, the total is ${total}`);
  return { total, compile, major };
}

/** A variant's counts in one row, per request. */
export interface Cell {
  /** All windows pooled: instructions without compilation and major GCs ÷ requests. */
  readonly work: number;
  /** Compilation ÷ requests (pooled). */
  readonly compile: number;
  /** Major GCs ÷ requests (pooled). */
  readonly major: number;
  /** Each window's `work` alone. */
  readonly windows: number[];
}

/** Pools the counts of `perWindow` requests each. */
export function summarize(counts: readonly Count[], perWindow: number): Cell {
  const sum = (f: (c: Count) => number): number => counts.reduce((a, c) => a + f(c), 0);
  const requests = counts.length * perWindow;
  const work = (c: Count): number => c.total - c.compile - c.major;
  return {
    work: sum(work) / requests,
    compile: sum((c) => c.compile) / requests,
    major: sum((c) => c.major) / requests,
    windows: counts.map((c) => work(c) / perWindow),
  };
}

/** A variant's requests counted one by one: quantiles of what each request cost. */
export interface Tail {
  readonly requests: number;
  /** Nearest-rank quantiles of each request's whole count (everything the thread ran). */
  readonly total: Quantiles;
  /** The same without compilation and major GCs (the request's own work, scavenges included). */
  readonly work: Quantiles;
  /** Requests whose count held more than {@link MAJOR_BURST} instructions of major GC. */
  readonly withMajor: number;
}

export interface Quantiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** A major GC's share of a request above which the request "held" one (a full one is ~120 M). */
export const MAJOR_BURST = 5_000_000;

/** The quantiles of per-request counts (one {@link Count} per request). */
export function tailOf(counts: readonly Count[]): Tail {
  const of = (f: (c: Count) => number): Quantiles => {
    const sorted = counts.map(f).sort((a, b) => a - b);
    return {
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? NaN,
    };
  };
  return {
    requests: counts.length,
    total: of((c) => c.total),
    work: of((c) => c.total - c.compile - c.major),
    withMajor: counts.filter((c) => c.major > MAJOR_BURST).length,
  };
}

/** The headings of the sections `bench/instructions.ts --write` keeps in `bench/RESULTS.md`. */
export const SECTION = '## Instructions per request (callgrind)';
export const TAIL_SECTION = '## Latency tail, counted (callgrind, per request)';
/** Both, in the order they are kept in. */
export const COUNTED_SECTIONS = [SECTION, TAIL_SECTION] as const;
const NOTES_HEADING = '## Notes (hand-written, kept across runs)';

/** Where the section `heading` of `results` starts and ends (the next `## `), if it has one. */
function sectionBounds(
  results: string,
  heading: string,
): { start: number; end: number } | undefined {
  const start = results.indexOf(`${heading}\n`);
  if (start < 0) return undefined;
  const after = results.indexOf('\n## ', start + heading.length);
  return { start, end: after >= 0 ? after : results.length };
}

/**
 * `results` with the section that `section` replaces (the one with the same first line) replaced
 * by it, or with `section` added before the notes (or at the end) when it has none.
 */
export function withSection(results: string, section: string): string {
  const body = section.replace(/\n+$/, '');
  const heading = body.split('\n', 1)[0] ?? '';
  const bounds = sectionBounds(results, heading);
  if (bounds) return `${results.slice(0, bounds.start)}${body}\n${results.slice(bounds.end)}`;
  const notes = results.indexOf(NOTES_HEADING);
  return notes >= 0
    ? `${results.slice(0, notes)}${body}\n\n${results.slice(notes)}`
    : `${results}\n${body}\n`;
}

/** The section `heading` of `results` (without its trailing blank lines), if it has one. */
export function sectionOf(results: string, heading: string = SECTION): string | undefined {
  const bounds = sectionBounds(results, heading);
  return bounds && results.slice(bounds.start, bounds.end).replace(/\n+$/, '');
}

/**
 * `section` (a fresh table) with the rows of `previous` (the same section as RESULTS.md had it)
 * that `section` does not have, every row in the order of `rowIds` (a row is a table line
 * `| <id> | ...`): a run that counted some rows replaces those and keeps the others.
 */
export function mergeRows(
  section: string,
  previous: string | undefined,
  rowIds: readonly string[],
): string {
  const idOf = (line: string): string | undefined => {
    const id = line.split('|')[1]?.trim();
    return line.startsWith('| ') && id !== undefined && rowIds.includes(id) ? id : undefined;
  };
  const rowsOf = (text: string | undefined): [string, string][] =>
    (text ?? '').split('\n').flatMap((l) => {
      const id = idOf(l);
      return id === undefined ? [] : [[id, l] as [string, string]];
    });
  const merged = new Map([...rowsOf(previous), ...rowsOf(section)]);
  const rest = section
    .replace(/\n+$/, '')
    .split('\n')
    .filter((l) => idOf(l) === undefined);
  return [...rest, ...rowIds.flatMap((id) => merged.get(id) ?? [])].join('\n');
}
