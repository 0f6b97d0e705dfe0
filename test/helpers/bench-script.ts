/**
 * Runs a bench script the way the smoke tests do (`node --import tsx bench/<script> <args>`), and
 * checks that nothing it started outlived it: its work directory (named in its log as
 * `work dir <dir>; redis port <port>`) is gone, and no process names that directory or its
 * private Redis.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect } from 'vitest';

export interface BenchRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runBenchScript(script: string, args: readonly string[]): Promise<BenchRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', `bench/${script}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

export function expectNothingLeftBehind(stderr: string): void {
  const m = /work dir (\S+); redis port (\d+)/.exec(stderr);
  expect(m, stderr).not.toBeNull();
  const [, workDir = '', port = ''] = m ?? [];
  expect(existsSync(workDir)).toBe(false);
  const running = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  const leftovers = running
    .split('\n')
    .filter((l) => l.includes(workDir) || l.includes(`redis-server 127.0.0.1:${port}`));
  expect(leftovers).toEqual([]);
}
