/**
 * Finds the package root (the directory holding `package.json`), so shipped files such as
 * `demo/seed.json` are found both from `src/demo/` (tsx, vitest) and from `dist/src/demo/`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The absolute path of the nearest directory at or above this module that contains a
 * `package.json`. Throws when there is none (the module was copied out of its package).
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`no package.json found above ${fileURLToPath(import.meta.url)}`);
    }
    dir = parent;
  }
}
