/**
 * In-process A/B of the hot path alone: one embedded forge, two gateways in the same process
 * (authorization on, and the same schema without the directive), 20 sequential requests each,
 * alternating order over 40 rounds; prints the median of the per-round ratios (on/off) with its
 * quartiles, and the medians of each side. Both share one event loop and one machine moment,
 * so process scheduling noise cancels out.
 * - `npx tsx bench/in-process-ab.ts` (W1): one project, 100 releases x 2 guarded fields, a
 *   same-project job token;
 * - `npx tsx bench/in-process-ab.ts W2`: the bench world's W2, 20 private projects x 10 guarded
 *   fields reached through a group entry five levels up (cross-project: every target is a
 *   decision and an authorization-log check, kept in memory here).
 * - `npx tsx bench/in-process-ab.ts W4`: the bench world's W1 query (100 releases, a
 *   cross-project target) with a new job token on every request (its own job id and `jti`):
 *   a full JWT verification, a new decision and an authorization-log check of a new job each.
 */
import { loadSeedFile, parseSeed } from '../src/demo/seed.js';
import { createTestGateway } from '../test/helpers/gateway.js';
import { SCENARIOS_PATH } from '../test/helpers/scenarios.js';
import { BENCH_JOB, benchPolicy, benchSeed, workloadBody } from './world.js';

const w4 = process.argv.includes('W4');
const w2 = process.argv.includes('W2') || w4;
const seed = w2
  ? benchSeed()
  : parseSeed({ ...loadSeedFile(SCENARIOS_PATH), sample: { releases: 100 } });
const policy = w2 ? benchPolicy() : undefined;
const on = await createTestGateway({ seed, policy });
const off = await createTestGateway({
  seed,
  policy,
  upstream: on.upstream,
  gateway: { authorization: false },
});
// The bench job (cross-project, through a group entry) in the bench world; else a same-project
// job of the scenarios' world.
const [source, user] = w2
  ? [BENCH_JOB.projectPath, BENCH_JOB.userLogin]
  : ['acme/apps/web', 'alice'];
const token = await on.jobToken(source, user);
const tokenOff = await off.jobToken(source, user);
const q = w2
  ? (JSON.parse(workloadBody(w4 ? 'W4' : 'W2')) as { query: string }).query
  : '{ project(fullPath: "acme/apps/web") { releases(first: 100) { nodes { name tagName } } } }';
for (const [name, g, tk] of [
  ['on', on, token],
  ['off', off, tokenOff],
] as const) {
  const r = await g.gql<Record<string, unknown>>(q, {}, { token: tk });
  const text = JSON.stringify(r.body.data ?? {});
  console.log(name, 'status', r.status, 'errors', r.body.errors?.length ?? 0, 'bytes', text.length);
}
const times: Record<string, number[]> = { on: [], off: [] };
const ROUNDS = 40;
const PER_CELL = 20;
// W4: a fresh token (job) for every request of either side, minted before timing.
const fresh: Record<string, string[]> = { on: [], off: [] };
if (w4) {
  for (let i = 0; i < ROUNDS * PER_CELL; i++) {
    const claims = { job_id: String(50_000 + i), pipeline_id: String(60_000 + i) };
    fresh['on']!.push(await on.jobToken(source, user, { claims }));
    fresh['off']!.push(await off.jobToken(source, user, { claims }));
  }
}
const used: Record<string, number> = { on: 0, off: 0 };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, g, tk] of (round % 2
    ? [
        ['on', on, token],
        ['off', off, tokenOff],
      ]
    : [
        ['off', off, tokenOff],
        ['on', on, token],
      ]) as [string, typeof on, string][]) {
    const t0 = performance.now();
    for (let i = 0; i < PER_CELL; i++)
      await g.gql(q, {}, { token: w4 ? (fresh[name]![used[name]!++] ?? tk) : tk });
    times[name]!.push(performance.now() - t0);
  }
}
const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
const at = (a: number[], q: number) => sorted(a)[Math.floor(q * (a.length - 1))] ?? NaN;
const ratios = (times.on ?? []).map((v, i) => v / (times.off?.[i] ?? NaN));
console.log(
  `per-round ratio on/off: median ${at(ratios, 0.5).toFixed(3)}`,
  `(quartiles ${at(ratios, 0.25).toFixed(3)}-${at(ratios, 0.75).toFixed(3)});`,
  `median ms per ${PER_CELL} requests: on ${at(times.on ?? [], 0.5).toFixed(1)},`,
  `off ${at(times.off ?? [], 0.5).toFixed(1)}`,
);
await off.close();
await on.close();
