/**
 * Reads a `node --cpu-prof` profile and says where the time went: self time by function and
 * by package (graphql-js, Apollo, ioredis, our `src/`, ...), as Markdown.
 */
import { readFileSync } from 'node:fs';

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly hitCount?: number;
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
}

/** The package (or our folder) a script URL belongs to. */
export function packageOf(url: string): string {
  if (url === '') return '(native / idle / gc)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1]) return nm[1];
  // undici is node's fetch (the upstream client's HTTP calls); keep it apart from the rest.
  if (url.includes('deps/undici')) return 'node core: undici (fetch)';
  if (url.startsWith('node:internal/modules')) return 'node core: module loading (start-up)';
  if (url.startsWith('node:')) return 'node core: other';
  const ours = /\/(src\/[^/]+|directives|resolvers|bench)\//.exec(url);
  return ours?.[1] ?? url;
}

/** Where the gateway's authorization lives: what baseline (A) leaves out, or runs less of. */
export const AUTHORIZATION_PACKAGES = ['directives', 'src/cache', 'src/policy', 'src/audit'];

const pct = (n: number, total: number): string => `${((100 * n) / total).toFixed(1)}%`;

/** Summarises one profile file: the top `top` functions and packages by self time. */
export function summarizeProfile(path: string, title: string, top = 12): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const total = profile.nodes.reduce((t, n) => t + (n.hitCount ?? 0), 0);
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  let idle = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') idle += hits;
    const short = url
      .replace(/^.*node_modules\//, '')
      .replace(/^file:\/\/.*?\/(src|directives|resolvers|bench)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
    const pkg = functionName.startsWith('(') ? functionName : packageOf(url);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + hits);
  }
  const busy = total - idle;
  const authz = AUTHORIZATION_PACKAGES.reduce((t, pkg) => t + (byPkg.get(pkg) ?? 0), 0);
  const rows = (m: Map<string, number>): string =>
    [...m.entries()]
      .filter(([k]) => k !== '(idle)' && !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `| ${pct(v, busy)} | \`${k}\` |`)
      .join('\n');
  return `### ${title}

Busy ${pct(busy, total)} of ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s sampled; shares below are of busy time.
Authorization's own code (${AUTHORIZATION_PACKAGES.map((p) => `\`${p}\``).join(', ')}) is ${pct(authz, busy)} of busy time (self time; baseline A runs part of it too, for its one visibility check per project).

| self | package |
|---|---|
${rows(byPkg)}

| self | function |
|---|---|
${rows(byFn)}
`;
}
