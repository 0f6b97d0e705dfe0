/**
 * The `scopegate` command as a user runs it: spawned with tsx (so tests need no build), with
 * an environment cleaned of the parent's scopegate and Redis settings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

/** The parent's environment without any scopegate or Redis setting, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SCOPEGATE_') || k.startsWith('REDIS_') || k === 'PORT' || k === 'HOST')
      continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/** A spawned `scopegate` process with its output so far. */
export interface Cli {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stdout; rejects if the process exits first. */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (re) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out);
          if (m) {
            child.stdout?.off('data', check);
            resolve(m);
          }
        };
        child.stdout?.on('data', check);
        check();
        void exited.then((code) =>
          reject(new Error(`exited with ${code} before ${re}: ${err.slice(0, 500)}`)),
        );
      }),
  };
}

/** Runs a command to completion. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}
