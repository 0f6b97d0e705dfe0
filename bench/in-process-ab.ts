/**
 * In-process A/B of the hot path alone: one embedded forge, two gateways in the same process
 * (authorization on, and the same schema without the directive), 20 sequential W1 requests
 * each (100 releases x 2 guarded fields), alternating order over 40 rounds; prints the median
 * of the per-round ratios (on/off) with its quartiles, and the medians of each side.
 * Both share one event loop and one machine moment, so process scheduling noise cancels out.
 * Run: `npx tsx bench/in-process-ab.ts`.
 */
import { loadSeedFile, parseSeed } from '../src/demo/seed.js';
import { createTestGateway } from '../test/helpers/gateway.js';
import { SCENARIOS_PATH } from '../test/helpers/scenarios.js';

const base = loadSeedFile(SCENARIOS_PATH);
const seed = parseSeed({ ...base, sample: { releases: 100 } });
const on = await createTestGateway({ seed });
const off = await createTestGateway({
  seed,
  upstream: on.upstream,
  gateway: { authorization: false },
});
const token = await on.jobToken('acme/apps/web', 'alice');
const tokenOff = await off.issuer.signJobToken({
  project_id: '102',
  project_path: 'acme/apps/web',
  namespace_id: '13',
  namespace_path: 'acme/apps',
  user_id: '1',
  user_login: 'alice',
});
const q =
  '{ project(fullPath: "acme/apps/web") { releases(first: 100) { nodes { name tagName } } } }';
const r = await on.gql<{ project: { releases: { nodes: unknown[] } } }>(q, {}, { token });
console.log('nodes', r.body.data?.project.releases.nodes.length, r.body.errors);
const times: Record<string, number[]> = { on: [], off: [] };
const ROUNDS = 40;
const PER_CELL = 20;
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
    for (let i = 0; i < PER_CELL; i++) await g.gql(q, {}, { token: tk });
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
