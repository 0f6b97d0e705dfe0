/**
 * The reading of callgrind dumps behind `bench/instructions.ts`: self costs by function (a
 * call's inclusive cost is the callee's, not the caller's), what is compilation and what a
 * major GC, the check that the parts add up to the dump's total, the pooling of windows, and
 * the section it keeps in `bench/RESULTS.md`.
 */
import { describe, expect, it } from 'vitest';
import {
  SECTION,
  countOf,
  sectionOf,
  selfCosts,
  summarize,
  withSection,
} from '../../bench/callgrind.js';

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
});
