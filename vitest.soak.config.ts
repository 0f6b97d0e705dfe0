import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * `npm run test:soak` only (not CI): the long mixed-load run of `test/soak/`. Its files end in
 * `.soak.ts`, so the default `vitest run` (which includes `test/**\/*.test.ts`) never picks
 * them up.
 */
export default defineConfig({
  resolve: { alias: { graphql: require.resolve('graphql') } },
  test: {
    include: ['test/soak/**/*.soak.ts'],
    testTimeout: 60 * 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    execArgv: ['--expose-gc'],
    reporters: ['default'],
  },
});
