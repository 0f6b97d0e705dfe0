/**
 * `bench/instructions.ts --merge-raw` pools the counts of earlier runs' `--raw` files into one
 * table without starting anything: the table is the one a single run of all their sets would
 * have printed, and runs that counted different code, or counted it differently, are refused.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBenchScript } from '../helpers/bench-script.js';

const dir = mkdtempSync(join(tmpdir(), 'sg-merge-raw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const M = 1e6;
const counts = (totals: number[]): { total: number; compile: number; major: number }[] =>
  totals.map((t) => ({ total: t, compile: 0, major: 0 }));

function rawFile(name: string, commit: string, extra: string[], sg: number[], a: number[]): string {
  const file = join(dir, name);
  const args = ['--rows', 'W1 warm', '--tail', '4', '--sets', '1', ...extra];
  const raw = { 'W1 warm': { sg: counts(sg), A: counts(a), A2: counts(a), B: [] } };
  writeFileSync(file, JSON.stringify({ commit, args, raw }));
  return file;
}

const first = rawFile(
  'one.json',
  'abc1234',
  ['--time-scale', '370'],
  [5 * M, 6 * M, 7 * M, 8 * M],
  [5 * M, 5 * M, 5 * M, 5 * M],
);
const second = rawFile(
  'two.json',
  'abc1234',
  ['--time-scale', '370'],
  [5 * M, 5 * M, 5 * M, 9 * M],
  [5 * M, 5 * M, 5 * M, 6 * M],
);

describe('bench/instructions.ts --merge-raw', () => {
  it('prints the tail of both runs pooled, and writes them as one run of their sets', async () => {
    const pooled = join(dir, 'pooled.json');
    const { code, stdout, stderr } = await runBenchScript('instructions.ts', [
      '--merge-raw',
      `${first},${second}`,
      '--raw',
      pooled,
    ]);
    expect(code, stderr).toBe(0);
    const row = stdout.split('\n').find((l) => l.startsWith('| W1 warm |'));
    const cells = (row ?? '').split('|').map((c) => c.trim());
    // p99 of 8 requests is the largest: sg 9 M, A and A2 6 M each; p50 the 4th smallest.
    expect(cells[2], stdout).toBe('5.00, 5.00, 5.00');
    expect(cells[4]).toBe('9.00, 6.00, 6.00');
    expect(cells[6]).toBe('1.500'); // sg÷A
    expect(cells[7]).toBe('1.000'); // control A2÷A
    expect(cells[8]).toBe('1.500'); // sg÷(A, A2)
    expect(cells[15]).toBe('2 × 4');
    expect(cells[16]).toMatch(/^abc1234, \d{4}-\d{2}-\d{2}, clock ×370, 2 runs pooled$/);

    const written = JSON.parse(readFileSync(pooled, 'utf8')) as {
      commit: string;
      args: string[];
      raw: Record<string, Record<string, unknown[]>>;
    };
    expect(written.commit).toBe('abc1234');
    expect(written.args.slice(-2)).toEqual(['--sets', '2']);
    expect(written.raw['W1 warm']?.['sg']).toHaveLength(8);
  });

  it('refuses runs of different code or a different clock, and writes nothing', async () => {
    const other = rawFile('other.json', 'def5678', ['--time-scale', '370'], [5 * M], [5 * M]);
    const clock = rawFile('clock.json', 'abc1234', [], [5 * M], [5 * M]);
    for (const [file, why] of [
      [other, 'different code'],
      [clock, '--time-scale'],
    ] as const) {
      const out = join(dir, 'refused.json');
      const { code, stdout, stderr } = await runBenchScript('instructions.ts', [
        '--merge-raw',
        `${first},${file}`,
        '--raw',
        out,
      ]);
      expect(code).not.toBe(0);
      expect(stderr).toContain(why);
      expect(stdout).toBe('');
      expect(() => readFileSync(out)).toThrow();
    }
  });
});
