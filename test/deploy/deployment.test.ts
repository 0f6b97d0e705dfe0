/**
 * The deployment files, checked without a Docker engine: the Dockerfile's stages, user, port
 * and command, that everything it copies exists and is not excluded by `.dockerignore`; the
 * compose example's Redis persistence, and that its scopegate settings pass `loadConfig`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/config.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
/** Instructions with continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

describe('Dockerfile', () => {
  it('builds in one stage and runs production dependencies only, as a non-root user', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms).toEqual(['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE} AS runtime']);
    const runtime = instructions.slice(instructions.indexOf('FROM ${NODE_IMAGE} AS runtime'));
    expect(runtime.some((l) => /^RUN npm ci --omit=dev\b/.test(l))).toBe(true);
    expect(runtime).toContain('COPY --from=build /app/dist ./dist');
    const user = runtime.filter((l) => l.startsWith('USER '));
    expect(user).toEqual(['USER node']);
    expect(runtime).toContain('EXPOSE 4000');
    expect(runtime.at(-1)).toBe('CMD ["node", "dist/src/cli/main.js", "serve"]');
  });

  it('runs the compiled form of the CLI entry point', () => {
    const tsconfig = readFileSync(join(ROOT, 'tsconfig.json'), 'utf8');
    expect(tsconfig).toMatch(/"outDir": "dist"/);
    expect(tsconfig).toMatch(/"rootDir": "\."/);
    expect(existsSync(join(ROOT, 'src/cli/main.ts'))).toBe(true);
  });

  it('copies only files that exist and that .dockerignore does not exclude', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const copies = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='));
    expect(copies.length).toBeGreaterThan(3);
    for (const copy of copies) {
      const sources = copy.split(/\s+/).slice(1, -1);
      for (const src of sources) {
        expect(existsSync(join(ROOT, src)), src).toBe(true);
        expect(ignored, src).not.toContain(src);
      }
    }
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
  });
});

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<
      string,
      { command?: string[]; environment?: Record<string, string>; stop_grace_period?: string }
    >;
  };

  it('runs Redis with the append-only file on', () => {
    const cmd = compose.services['redis']?.command ?? [];
    expect(cmd.slice(cmd.indexOf('--appendonly'), cmd.indexOf('--appendonly') + 2)).toEqual([
      '--appendonly',
      'yes',
    ]);
  });

  it("gives scopegate settings that loadConfig accepts, and more stop time than the drain's", () => {
    const env = { ...compose.services['scopegate']?.environment };
    const dir = mkdtempSync(join(tmpdir(), 'sg-compose-'));
    try {
      // The compose secrets, as files with realistic content.
      writeFileSync(join(dir, 'upstream'), 'glpat-example-service-token\n');
      writeFileSync(join(dir, 'webhook'), 'a-webhook-secret-of-32-characters\n');
      env['SCOPEGATE_UPSTREAM_TOKEN_FILE'] = join(dir, 'upstream');
      env['SCOPEGATE_WEBHOOK_SECRET_FILE'] = join(dir, 'webhook');
      const config = loadConfig(env);
      expect(config.redis.url).toBe('redis://redis:6379');
      expect(config.issuers.map((i) => i.kind)).toEqual(['job', 'user']);
      expect(config.upstream.token).toBe('glpat-example-service-token');
      const stop = Number(
        /^(\d+)s$/.exec(compose.services['scopegate']?.stop_grace_period ?? '')?.[1],
      );
      expect(stop * 1000).toBeGreaterThan(config.shutdownGraceMs);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
