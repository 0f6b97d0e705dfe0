/**
 * Keeps the benchmark harness working: `bench/run.ts --smoke` starts Redis, the upstream and
 * two sets of every variant (the control A2 included) in their own processes, sends a few requests to each (the third
 * round runs on the second set), and prints the table.
 * Benchmarks are not tests, so no figure is asserted; only that the table is printed, every
 * response succeeded, and nothing the harness started is still running afterwards.
 */
import { describe, expect, it } from 'vitest';
import { expectNothingLeftBehind, runBenchScript } from '../helpers/bench-script.js';

describe('bench --smoke', () => {
  // About 50 s on an idle 2-core machine (two sets of six gateways start); the bound leaves room
  // for a loaded CI runner.
  it(
    'prints the table for every workload and leaves no process or Redis behind',
    { timeout: 240_000 },
    async () => {
      const { code, stdout, stderr } = await runBenchScript('run.ts', ['--smoke']);
      expect(code, stderr).toBe(0);
      // Six rows of scopegate, A and B, and the four rows A2 (the control) serves.
      expect(stderr).toContain('round 3/3: 22 runs on process set 2');
      expect(stdout).toContain('| workload | scopegate req/s |');
      for (const row of ['W1 warm', 'W1 cold', 'W2 warm', 'W2 cold', 'W3', 'W4'])
        expect(stdout).toMatch(new RegExp(`^\\| ${row} \\| \\d+ \\|`, 'm'));
      // Every request of every variant was answered with a 2xx.
      for (const line of stdout.split('\n').filter((l) => /^\| W\d/.test(l))) {
        expect(line.split('|')[14]?.trim(), line).toBe('0');
        // Each gateway reported its GC time (a number, zero included) around the runs.
        expect(line.split('|')[18]?.trim(), line).toMatch(/^\d+\.\d{3}, \d+\.\d{3}, \d+\.\d{3}$/);
        // The control ran in the rows scopegate's warm process serves, and only in those.
        expect(line.split('|')[19]?.trim(), line).toMatch(
          line.includes(' cold |') ? /^-$/ : /^\d+\.\d\d.*; \d+\.\d\d/,
        );
      }
      // W4 sends every gateway tokens it has not seen (its verified-token cache cannot help).
      expect(stdout).not.toContain('tokens reused');
      expect(stdout).toContain('Policy evaluation');
      expect(stdout).toContain('Decision cache scale');
      // Both scale runs reported four quarters and wrote decisions of their own to Redis.
      expect(stdout).toMatch(
        /V8 heap after each quarter of the pairs: (\d+(\.\d+)?, ){3}\d+(\.\d+)? MiB/,
      );
      expect(stdout).toMatch(
        /with LRU max 2000: .* -?\d+ bytes of heap per decision the process holds/,
      );
      expect(stdout).toMatch(/Redis: 5000 decisions/);

      expectNothingLeftBehind(stderr);
    },
  );
});
