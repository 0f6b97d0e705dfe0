/**
 * The bench table's ratios (`bench/report.ts`): paired by round, so a round in which the whole
 * machine was slower moves both sides of a ratio, not one.
 */
import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../../bench/load-worker.js';
import { formatTable, pairedRatio, targetVerdicts, type Row } from '../../bench/report.js';

const run = (rps: number, p99Ms = 10): LoadResult => ({
  requests: rps,
  ok: rps,
  non2xx: 0,
  errors: 0,
  seconds: 1,
  rps,
  p50Ms: p99Ms / 2,
  p99Ms,
  tokenReuses: 0,
});

describe('pairedRatio', () => {
  it('divides round by round and takes the median, with the range', () => {
    // Round 2 ran while the machine was busy: both sides slowed down together.
    const sg = [run(100), run(30), run(96)];
    const a = [run(100), run(40), run(100)];
    const r = pairedRatio(sg, a, (x) => x.rps);
    expect(r.median).toBeCloseTo(0.96, 5);
    expect(r.min).toBeCloseTo(0.75, 5);
    expect(r.max).toBeCloseTo(1, 5);
    // The ratio of the means would have called this a miss of the 0.95 target.
    expect((100 + 30 + 96) / (100 + 40 + 100)).toBeLessThan(0.95);
  });

  it('averages the middle two of an even number of rounds, and is NaN with none', () => {
    expect(pairedRatio([run(1), run(3)], [run(1), run(1)], (x) => x.rps).median).toBe(2);
    expect(pairedRatio([], [run(1)], (x) => x.rps).median).toBeNaN();
    expect(pairedRatio([run(1)], [run(0)], (x) => x.rps).median).toBeNaN();
  });
});

describe('targetVerdicts', () => {
  const row = (sg: LoadResult[], a: LoadResult[], b: LoadResult[]): Row => ({
    id: 'W1 warm',
    description: '',
    targets: 'warm',
    samples: { scopegate: sg, A: a, B: b, C: [run(10_000)] },
    roundTrips: { scopegate: 0 },
  });

  it('judges each target on the median paired ratio', () => {
    const r = row(
      [run(100, 10), run(40, 30), run(98, 11)],
      [run(100, 10), run(60, 10), run(100, 10)],
      [run(40), run(15), run(45)],
    );
    expect(targetVerdicts(r)).toEqual(['ok ≥0.95×A', 'ok ≥2×B', 'ok p99≤1.1×A', 'ok RT=0']);
    expect(formatTable([r])).toContain(
      '| 0.98 (0.67–1.00) | 2.50 (2.18–2.67) | 0.01 | 1.10 (1.00–3.00) |',
    );
  });

  it('says MISS when the median round misses', () => {
    const r = row([run(90), run(90)], [run(100), run(100)], [run(80), run(80)]);
    expect(targetVerdicts(r).slice(0, 2)).toEqual(['MISS ≥0.95×A', 'MISS ≥2×B']);
  });
});
