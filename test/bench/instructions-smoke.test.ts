/**
 * Keeps `bench/instructions.ts` working: `--smoke` starts Redis, the upstream and scopegate and
 * A under valgrind's callgrind, counts one window of W1 requests in each, and prints the table.
 * Benchmarks are not tests, so no figure is judged; only that both counts were read (every
 * dump's functions add up to its total, or the run fails), and that nothing it started is still
 * running afterwards. CI installs valgrind (`.ci/run`).
 */
import { describe, expect, it } from 'vitest';
import { expectNothingLeftBehind, runBenchScript } from '../helpers/bench-script.js';

describe('bench/instructions.ts --smoke', () => {
  // About 40 s within the CI run (two gateways start under valgrind).
  it('counts W1 in scopegate and A and leaves nothing behind', { timeout: 300_000 }, async () => {
    const { code, stdout, stderr } = await runBenchScript('instructions.ts', ['--smoke']);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('## Instructions per request (callgrind)');
    const row = stdout.split('\n').find((l) => l.startsWith('| W1 warm |'));
    expect(row, stdout).toBeDefined();
    const cells = (row ?? '').split('|').map((c) => c.trim());
    // sg and A counted (a W1 request is millions of instructions); A2 and B not run.
    expect(Number(cells[2])).toBeGreaterThan(0.5);
    expect(Number(cells[3])).toBeGreaterThan(0.5);
    expect(cells[4]).toBe('-');
    expect(cells[5]).toBe('-');
    expect(Number(cells[6])).toBeGreaterThan(0);

    expectNothingLeftBehind(stderr);
  });
});
