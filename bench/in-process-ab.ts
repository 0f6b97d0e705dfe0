/**
 * In-process A/B of the hot path alone: one embedded forge, two gateways in the same process
 * (authorization on, and the same schema without the directive), 60 sequential W1 requests
 * each (100 releases x 2 guarded fields), alternating order over 8 rounds; prints the medians.
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
for (let round = 0; round < 8; round++) {
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
    for (let i = 0; i < 60; i++) await g.gql(q, {}, { token: tk });
    times[name]!.push(performance.now() - t0);
  }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(
  'median ms per 60 requests: on',
  med(times.on!).toFixed(1),
  'off',
  med(times.off!).toFixed(1),
  'ratio on/off',
  (med(times.on!) / med(times.off!)).toFixed(3),
);
await off.close();
await on.close();
