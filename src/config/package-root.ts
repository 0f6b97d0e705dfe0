/**
 * The package's root folder (where `package.json`, `schema.graphql` and `demo/` live), found by
 * walking up from this module, so it is the same from `src/` under tsx and from `dist/src/`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** Absolute path of the package root. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'schema.graphql')))
      return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the scopegate package root (schema.graphql)');
    dir = up;
  }
}
