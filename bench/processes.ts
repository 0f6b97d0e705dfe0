/**
 * Child processes of the benchmark: every one is registered here so that a normal end, an
 * error or Ctrl-C stops them all (and the private Redis) before the harness exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/..). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];

/** A started child with the first line that matched what it was waited for. */
export interface StartedChild {
  readonly child: ChildProcess;
  readonly match: RegExpMatchArray;
  /** Sends SIGTERM and waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
  children.delete(child);
}

/**
 * Starts `node <args>` (tsx loaded) and resolves once a stdout line matches `ready`; rejects
 * when the child exits first or `timeoutMs` passes (its stderr in the message). `wrapper`: a
 * command that runs node as its own child in the same process (`valgrind --tool=callgrind`),
 * so the child's pid is node's.
 */
export async function startNode(
  args: readonly string[],
  ready: RegExp,
  opts: {
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    nodeArgs?: readonly string[];
    wrapper?: readonly string[];
  } = {},
): Promise<StartedChild> {
  const argv = [process.execPath, ...(opts.nodeArgs ?? []), '--import', 'tsx', ...args];
  const [command = process.execPath, ...rest] = [...(opts.wrapper ?? []), ...argv];
  const child = spawn(command, rest, {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`${args.join(' ')} did not start: ${stderr}`)),
      opts.timeoutMs ?? 30_000,
    );
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited with ${String(code)}: ${stderr}`));
    });
  });
  return { child, match, stop: (graceMs = 5_000) => stopChild(child, graceMs) };
}

/** Runs `node <args>` (tsx loaded) to completion and returns its stdout; rejects on failure. */
export async function runNode(
  args: readonly string[],
  opts: { nodeArgs?: readonly string[]; timeoutMs?: number } = {},
): Promise<string> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  children.delete(child);
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${String(code)}: ${err}`);
  return out;
}

/** Registers a clean-up (e.g. stopping Redis) run by {@link stopAll} after the children. */
export function onStop(fn: () => Promise<void>): void {
  cleanups.push(fn);
}

/** Stops every child still running, then runs the registered clean-ups. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, 3_000)));
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
}

/** Stops everything on SIGINT/SIGTERM, then exits with 130. */
export function stopOnSignals(): void {
  const handler = (): void => {
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
