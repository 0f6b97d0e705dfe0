/**
 * The bench table's ratios (`bench/report.ts`): paired by round, so a round in which the whole
 * machine was slower moves both sides of a ratio, not one.
 */
import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../../bench/load-worker.js';
import {
  controlOf,
  formatScale,
  formatTable,
  heapBounded,
  heapBytesPerHeldDecision,
  pairedRatio,
  pooledP99,
  resolves,
  targetVerdicts,
  type Row,
} from '../../bench/report.js';
import type { ScaleResult } from '../../bench/scale.js';

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
  it('divides round by round, combines each round with its reverse, and takes the median, with the range', () => {
    // Round 2 ran while the machine was busy: both sides slowed down together.
    const sg = [run(100), run(30), run(96), run(100)];
    const a = [run(100), run(40), run(100), run(100)];
    const r = pairedRatio(sg, a, (x) => x.rps);
    // Pairs: sqrt(1 x 0.75) and sqrt(0.96 x 1); the median of two is their mean.
    expect(r.median).toBeCloseTo((Math.sqrt(0.75) + Math.sqrt(0.96)) / 2, 5);
    expect(r.min).toBeCloseTo(0.75, 5);
    expect(r.max).toBeCloseTo(1, 5);
    // The ratio of the means would have called this a much lower figure.
    expect((100 + 30 + 96 + 100) / (100 + 40 + 100 + 100)).toBeLessThan(0.96);
  });

  it('cancels a drift that favours whichever side runs second', () => {
    // Each side pays 10% more when it runs first; the first of each pair runs sg first.
    const sg = [run(90), run(100), run(90), run(100)];
    const a = [run(100), run(90), run(100), run(90)];
    expect(pairedRatio(sg, a, (x) => x.rps).median).toBeCloseTo(1, 5);
  });

  it('counts a round without a partner alone, and is NaN with none', () => {
    expect(
      pairedRatio([run(1), run(4), run(3)], [run(1), run(1), run(1)], (x) => x.rps).median,
    ).toBe(2.5);
    expect(pairedRatio([], [run(1)], (x) => x.rps).median).toBeNaN();
    expect(pairedRatio([run(1)], [run(0)], (x) => x.rps).median).toBeNaN();
  });
});

describe('targetVerdicts', () => {
  const row = (sg: LoadResult[], a: LoadResult[], b: LoadResult[]): Row => ({
    id: 'W1 warm',
    description: '',
    targets: 'warm',
    samples: { scopegate: sg, A: a, B: b, C: [run(10_000)], A2: [] },
    roundTrips: { scopegate: 0 },
  });

  it('judges each target on the median paired ratio', () => {
    // Six rounds, three pairs; the second pair ran on a busy machine (round 3 badly).
    const r = row(
      [run(100, 10), run(98, 11), run(40, 30), run(39, 10), run(99, 10), run(100, 11)],
      [run(100, 10), run(100, 10), run(60, 10), run(40, 10), run(100, 10), run(100, 10)],
      [run(40), run(45), run(15), run(15), run(45), run(40)],
    );
    expect(targetVerdicts(r)).toEqual(['ok ≥0.95×A', 'ok ≥2×B', 'ok p99≤1.1×A', 'ok RT=0']);
    expect(formatTable([r])).toContain(
      // No latencies recorded: p99 is the median of the rounds' own (11 against 10).
      '| 0.99 (0.67–1.00) | 2.35 (2.18–2.67) | 0.01 | 1.10 (1.00–3.00) |',
    );
  });

  it('says MISS when the median round misses', () => {
    const r = row([run(90), run(90)], [run(100), run(100)], [run(80), run(80)]);
    expect(targetVerdicts(r).slice(0, 2)).toEqual(['MISS ≥0.95×A', 'MISS ≥2×B']);
  });

  it('judges p99 on the requests of all rounds together, not on single rounds', () => {
    // 100 requests a round at 10 ms; `slow` of them at 200 ms. A round's own p99 (the 99th of
    // 100) is 200 ms as soon as it has two slow requests.
    const timed = (slow: number): LoadResult => ({
      ...run(100),
      latenciesMs: [...Array<number>(100 - slow).fill(10), ...Array<number>(slow).fill(200)],
      p99Ms: slow >= 2 ? 200 : 10,
    });
    // One stall of two requests in two of four rounds each, on each side, in other rounds.
    const level = row(
      [timed(2), timed(0), timed(2), timed(0)],
      [timed(0), timed(2), timed(0), timed(2)],
      [run(10), run(10), run(10), run(10)],
    );
    expect(pooledP99(level.samples.scopegate)).toBe(10);
    expect(targetVerdicts(level)).toContain('ok p99≤1.1×A');
    expect(formatTable([level])).toContain('| 1.00 (0.05–20.00) |');
    // scopegate stalls twice as often: 8 of its 400 requests are slow, its p99 is 200 ms.
    const worse = row(
      [timed(2), timed(2), timed(2), timed(2)],
      [timed(0), timed(2), timed(0), timed(2)],
      [run(10), run(10), run(10), run(10)],
    );
    expect(pooledP99(worse.samples.scopegate)).toBe(200);
    expect(targetVerdicts(worse)).toContain('MISS p99≤1.1×A');
  });

  it('takes the nearest rank of the pooled latencies', () => {
    const r = (ms: number[]): LoadResult => ({ ...run(ms.length), latenciesMs: ms });
    // 200 requests: the 198th smallest.
    const ms = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(pooledP99([r(ms.slice(0, 120)), r(ms.slice(120))])).toBe(198);
    expect(pooledP99([])).toBeNaN();
  });

  describe('the control (A2, a second A process)', () => {
    const timed = (rps: number, slow: number): LoadResult => ({
      ...run(rps),
      latenciesMs: [...Array<number>(100 - slow).fill(10), ...Array<number>(slow).fill(200)],
      p99Ms: slow >= 2 ? 200 : 10,
    });
    const withControl = (a2: LoadResult[]): Row => ({
      ...row([], [], []),
      samples: {
        scopegate: [timed(99, 0), timed(98, 0)],
        A: [timed(100, 0), timed(100, 0)],
        B: [run(60), run(60)],
        C: [],
        A2: a2,
      },
    });

    it('is A2 against A by the same estimators, and leaves verdicts alone when it is level', () => {
      const r = withControl([timed(100, 0), timed(100, 0)]);
      expect(controlOf(r)?.rps.median).toBe(1);
      expect(controlOf(r)?.p99.value).toBe(1);
      expect(targetVerdicts(r)).toEqual(['ok ≥0.95×A', 'MISS ≥2×B', 'ok p99≤1.1×A', 'ok RT=0']);
      expect(formatTable([r])).toContain('| 1.00; 1.00 | ok ≥0.95×A,');
    });

    it('marks a verdict unresolved when the same code is already that far from 1.00', () => {
      // A2 stalls in a way A does not: its pooled p99 is 20× A's, its req/s 0.9×.
      const r = withControl([timed(90, 2), timed(90, 2)]);
      expect(targetVerdicts(r)).toEqual([
        'ok ≥0.95×A (A2÷A 0.90: unresolved)',
        'MISS ≥2×B',
        'ok p99≤1.1×A (A2÷A 20.00: unresolved)',
        'ok RT=0',
      ]);
      expect(formatTable([r])).toContain('| 0.90; 20.00 |');
    });

    it('is absent from rows A2 does not serve', () => {
      const r = row([run(100)], [run(100)], [run(40)]);
      expect(controlOf(r)).toBeUndefined();
      expect(targetVerdicts(r)).toEqual(['ok ≥0.95×A', 'ok ≥2×B', 'ok p99≤1.1×A', 'ok RT=0']);
      expect(formatTable([r])).toContain('| - | ok ≥0.95×A,');
    });

    it('resolves a bound when the control stays within it on both sides of 1.00', () => {
      expect(resolves(1.05, 0.95)).toBe(true);
      expect(resolves(0.95, 0.95)).toBe(true);
      expect(resolves(1.06, 0.95)).toBe(false);
      expect(resolves(0.94, 0.95)).toBe(false);
      expect(resolves(1.1, 1.1)).toBe(true);
      expect(resolves(0.91, 1.1)).toBe(true);
      expect(resolves(0.9, 1.1)).toBe(false);
      expect(resolves(1.11, 1.1)).toBe(false);
      expect(resolves(NaN, 1.1)).toBe(false);
    });
  });
});

describe('the scale check', () => {
  const scale = (lruMax: number, heaps: number[]): ScaleResult => ({
    pairs: 200_000,
    lruMax,
    rssBeforeMiB: 100,
    rssAfterMiB: 180,
    heapBeforeMiB: 12,
    heapAfterMiB: heaps[3] ?? 0,
    quarters: heaps.map((heapMiB, k) => ({ pairs: (k + 1) * 50_000, heapMiB, rssMiB: 180 })),
    redisKeys: 200_000,
    redisBytesPerDecision: 120,
    memoryUsageSample: 112,
    sampleKey: 'sg:{p:1}:d:0:1 j:1',
    seconds: 4.5,
  });

  it('calls the heap bounded when it stays level from half of the pairs on', () => {
    expect(heapBounded(scale(10_000, [20.5, 20.4, 20.3, 20.3]))).toEqual({
      growthMiB: -0.1,
      ok: true,
    });
    // A heap that keeps growing with the pairs is what an unbounded cache looks like.
    expect(heapBounded(scale(10_000, [20, 30, 40, 50]))).toEqual({ growthMiB: 20, ok: false });
    // Without its quarters nothing can be judged, which is not a pass.
    expect(heapBounded({ ...scale(10_000, []), quarters: [] }).ok).toBe(false);
  });

  it('prices a held decision by the heap two LRU sizes take, and prints both runs', () => {
    const small = scale(10_000, [20.5, 20.4, 20.3, 20.3]);
    const large = scale(40_000, [41.5, 43.1, 42.9, 42.9]);
    // (42.9 - 20.3) MiB over 30,000 more decisions held.
    expect(heapBytesPerHeldDecision(small, large)).toBe(790);
    const text = formatScale([small, large]);
    expect(text).toContain('V8 heap after each quarter of the pairs: 20.5, 20.4, 20.3, 20.3 MiB');
    expect(text).toContain('-0.1 MiB (bounded by the LRU, ≤ 1 MiB or 5%: ok)');
    expect(text).toContain('with LRU max 40000');
    expect(text).toContain('790 bytes of heap per decision the process holds');
    expect(text).toContain('120 bytes per decision');
  });
});
