/**
 * The reading of callgrind dumps behind `bench/instructions.ts`: self costs by function (a
 * call's inclusive cost is the callee's, not the caller's), what is compilation and what a
 * major GC, the check that the parts add up to the dump's total, the pooling of windows, and
 * per-request quantiles of `--tail`, and the sections it keeps in `bench/RESULTS.md`.
 */
import { describe, expect, it } from 'vitest';
import {
  SECTION,
  TAIL_SECTION,
  countOf,
  mergeRows,
  sectionOf,
  selfCosts,
  summarize,
  tailOf,
  withSection,
} from '../../bench/callgrind.js';
import { quantile } from '../../bench/report.js';

// A dump in callgrind's text format (`--dump-instr=no`: positions are lines), with name
// compression, relative positions and a call whose inclusive cost follows `calls=`.
const DUMP = [
  'version: 1',
  'creator: callgrind-3.19.0',
  'pid: 4242',
  'cmd:  node --single-threaded app.js',
  'part: 2',
  '',
  'positions: line',
  'events: Ir',
  'summary: 1000',
  '',
  'ob=(1) /usr/bin/node',
  'fl=(1) ???',
  'fn=(1) uv_run',
  '0 100',
  'cfl=(1)',
  'cfn=(2) v8::internal::compiler::GraphReducer::ReduceTop()',
  'calls=3 0',
  '0 300',
  'fn=(2)',
  '0 300',
  'fn=(3) heap::base::SlotCallbackResult v8::internal::Scavenger::ScavengeObject(v8::internal::FullHeapObjectSlot)',
  '0 50',
  'fn=(4) v8::internal::MarkCompactCollector::ProcessMarkingWorklist(unsigned long)',
  '+2 40',
  '* 10',
  'fn=(1)',
  '-1 500',
  '',
  'totals: 1000',
  '',
].join('\n');

describe('callgrind dumps', () => {
  it('gives every function its own cost, not its callees', () => {
    const costs = selfCosts(DUMP);
    expect(costs.get('uv_run')).toBe(600);
    expect(costs.get('v8::internal::compiler::GraphReducer::ReduceTop()')).toBe(300);
    expect([...costs.values()].reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('counts the compilers and major GCs apart; the young generation stays with the work', () => {
    expect(countOf(DUMP)).toEqual({ total: 1000, compile: 300, major: 50 });
  });

  it('refuses a dump whose functions do not add up to its total', () => {
    expect(() => countOf(DUMP.replace('totals: 1000', 'totals: 1200'), 'part 2')).toThrow(
      /part 2: the functions' self costs add up to 1000, the total is 1200/,
    );
    expect(() => countOf(DUMP.replace('totals: 1000', ''))).toThrow(/no totals/);
  });

  it('pools windows: work leaves out compilation and major GCs', () => {
    const cell = summarize(
      [
        { total: 1000, compile: 300, major: 50 },
        { total: 700, compile: 0, major: 0 },
      ],
      10,
    );
    expect(cell.work).toBeCloseTo((650 + 700) / 20, 9);
    expect(cell.compile).toBeCloseTo(300 / 20, 9);
    expect(cell.major).toBeCloseTo(50 / 20, 9);
    expect(cell.windows).toEqual([65, 70]);
  });

  it('replaces its section in RESULTS.md, or adds it before the notes', () => {
    const notes = '## Notes (hand-written, kept across runs)\n\nkept\n';
    const fresh = `# Benchmark results\n\n## Scale\n\nx\n\n${notes}`;
    const once = withSection(fresh, `${SECTION}\n\nfirst\n`);
    expect(once).toBe(`# Benchmark results\n\n## Scale\n\nx\n\n${SECTION}\n\nfirst\n\n${notes}`);
    const twice = withSection(once, `${SECTION}\n\nsecond\n`);
    expect(twice).toContain('second');
    expect(twice).not.toContain('first');
    expect(twice.endsWith(notes)).toBe(true);
    expect(withSection('# only\n', `${SECTION}\n\nx`)).toBe(`# only\n\n${SECTION}\n\nx\n`);
    // What `npm run bench` carries over from the file it replaces.
    expect(sectionOf(twice)).toBe(`${SECTION}\n\nsecond`);
    expect(sectionOf(fresh)).toBeUndefined();
    expect(withSection(fresh, sectionOf(twice) ?? '')).toBe(twice);
  });

  it('keeps the tail section apart from the windows section', () => {
    const notes = '## Notes (hand-written, kept across runs)\n\nkept\n';
    const fresh = `# Benchmark results\n\n${notes}`;
    const both = withSection(
      withSection(fresh, `${SECTION}\n\nwindows\n`),
      `${TAIL_SECTION}\n\ntail 1\n`,
    );
    const again = withSection(both, `${TAIL_SECTION}\n\ntail 2\n`);
    expect(again).toBe(
      `# Benchmark results\n\n${SECTION}\n\nwindows\n\n${TAIL_SECTION}\n\ntail 2\n\n${notes}`,
    );
    expect(sectionOf(again, TAIL_SECTION)).toBe(`${TAIL_SECTION}\n\ntail 2`);
    expect(sectionOf(again)).toBe(`${SECTION}\n\nwindows`);
    // A heading that only starts like another one is not that one.
    expect(sectionOf(`${SECTION} (old)\n\nx\n`)).toBeUndefined();
  });

  it('reads nearest-rank quantiles of per-request counts', () => {
    const sorted = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(quantile(sorted, 0.5)).toBe(100);
    expect(quantile(sorted, 0.99)).toBe(198);
    expect(quantile(sorted, 1)).toBe(200);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
    // 100 requests: one with a major GC, one with a compilation burst, the rest 10 + i/100 M.
    const counts = Array.from({ length: 100 }, (_, i) => ({
      total: 10e6 + i * 1e4 + (i === 40 ? 120e6 : 0) + (i === 41 ? 3e6 : 0),
      compile: i === 41 ? 3e6 : 0,
      major: i === 40 ? 120e6 : i === 42 ? 1e6 : 0,
    }));
    const tail = tailOf(counts);
    expect(tail.requests).toBe(100);
    expect(tail.withMajor).toBe(1);
    expect(tail.total.max).toBe(10e6 + 40e4 + 120e6);
    expect(tail.total.p99).toBe(10e6 + 41e4 + 3e6);
    // Without compilation and major GCs, request 42's work is 1 M less than its total.
    expect(tail.work.max).toBe(10e6 + 99e4);
    expect(tail.work.p99).toBe(10e6 + 98e4);
    expect(tail.work.p50).toBe(10e6 + 49e4);
  });

  it('replaces only the rows a tail run counted', () => {
    const ids = ['W1 warm', 'W1 cold', 'W2 warm'];
    const head = `${TAIL_SECTION}\n\ntext\n\n| row | x |\n|---|---|`;
    const previous = `${TAIL_SECTION}\n\nold text\n\n| row | x |\n|---|---|\n| W1 warm | 1 |\n| W2 warm | 2 |`;
    // This run counted W1 cold and W2 warm: W1 warm is kept, W2 warm replaced, in row order.
    const fresh = `${head}\n| W2 warm | 20 |\n| W1 cold | 10 |\n`;
    expect(mergeRows(fresh, previous, ids)).toBe(
      `${head}\n| W1 warm | 1 |\n| W1 cold | 10 |\n| W2 warm | 20 |`,
    );
    expect(mergeRows(fresh, undefined, ids)).toBe(`${head}\n| W1 cold | 10 |\n| W2 warm | 20 |`);
    // A line that only looks like a row (an unknown id) stays where it is.
    expect(mergeRows(`${head}\n| W9 | 1 |`, previous, ids)).toBe(
      `${head}\n| W9 | 1 |\n| W1 warm | 1 |\n| W2 warm | 2 |`,
    );
  });
});
