/**
 * What the directive adds to GraphQL execution alone: `npx tsx bench/execute-ab.ts`.
 *
 * The W1 document (one project, 100 releases x 2 guarded fields) executed by graphql-js against
 * the gateway's schema with and without the directive, in one process, over 80 interleaved
 * pairs of 300 executions; prints the median of the per-pair ratios (on/off) with its
 * quartiles. No HTTP, no forge and no Redis: the context holds one decision that meets the
 * requirements (as every request below a `project` field does) and the forge's page is a fixed
 * array, so what differs between the two sides is the field checks and their usage reports.
 * Run with `NODE_ENV=production` (graphql-js's development checks off, as the gateway runs).
 */
import { execute, parse } from 'graphql';
import type { TargetDecision } from '../src/cache/request-authorizer.js';
import { RESOURCES, type JobTokenResource } from '../src/policy/types.js';
import { buildGatewaySchema } from '../src/server/schema.js';
import { W1_RELEASES } from './world.js';

const on = buildGatewaySchema({});
const off = buildGatewaySchema({ authorization: false });
const document = parse(
  `{ project(fullPath: "bench/w1/app") { releases(first: ${W1_RELEASES}) { nodes { tagName name } } } }`,
);
const project = {
  id: 2001,
  name: 'app',
  path: 'app',
  path_with_namespace: 'bench/w1/app',
  namespace: { id: 1010, full_path: 'bench/w1' },
  visibility: 'private' as const,
};
const resources = Object.fromEntries(
  RESOURCES.map((r) => [
    r,
    { level: r === 'RELEASES' ? 'READ' : 'NONE', reason: 'ENTRY_GRANTS', auditWouldDeny: false },
  ]),
) as unknown as TargetDecision['set']['resources'];
const decision = {
  project,
  roleAccessLevel: 30,
  visible: true,
  set: { targetProjectId: project.id, resources, auditWouldDeny: false, principalKind: 'job' },
} as unknown as TargetDecision;
const page = Array.from({ length: W1_RELEASES }, (_, i) => ({
  tag_name: `v1.${i}.0`,
  name: `release v1.${i}.0`,
  description: 'notes',
  created_at: '2026-01-01T00:00:00Z',
  released_at: '2026-01-01T00:00:00Z',
  author: { id: 1, username: 'bench-bot', name: 'bench-bot' },
}));

let requests = 0;
let reported = 0;
/** A request's context: what the resolvers and the directive read, a new request id each. */
function context(): unknown {
  // As the authorizer does: each request holds a decision object of its own.
  const held = { ...decision, checked: 0 };
  return {
    requestId: `r${requests++}`,
    principal: { kind: 'job' },
    authz: {
      peek: (id: number) => (id === project.id ? held : undefined),
      forProjectRef: () => Promise.resolve(held),
      explainContext: () => ({ targetPath: project.path_with_namespace, roleAccessLevel: 30 }),
    },
    upstream: { list: () => Promise.resolve({ items: page, nextPage: undefined }) },
    callOptions: {},
    onUsed: (_d: TargetDecision, _r: readonly { resource: JobTokenResource }[]) => {
      reported++;
    },
  };
}

let onRequests = 0;
async function run(schema: typeof on, n: number): Promise<number> {
  if (schema === on) onRequests += n;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const result = await execute({ schema, document, contextValue: context() });
    if (result.errors) throw new Error(JSON.stringify(result.errors));
  }
  return (performance.now() - started) / n;
}

await run(on, 2_000);
await run(off, 2_000);
const PAIRS = 80;
const ratios: number[] = [];
let sumOn = 0;
let sumOff = 0;
for (let k = 0; k < PAIRS; k++) {
  // Alternate which side runs first.
  const first = k % 2 === 0 ? on : off;
  const a = await run(first, 300);
  const b = await run(first === on ? off : on, 300);
  const [tOn, tOff] = first === on ? [a, b] : [b, a];
  ratios.push(tOn / tOff);
  sumOn += tOn;
  sumOff += tOff;
}
ratios.sort((x, y) => x - y);
const at = (q: number): string => (ratios[Math.floor(q * (ratios.length - 1))] ?? NaN).toFixed(3);
console.log(
  `execution µs per request: on ${((sumOn / PAIRS) * 1000).toFixed(1)}, off ${((sumOff / PAIRS) * 1000).toFixed(1)}; ` +
    `on/off median ${at(0.5)} (quartiles ${at(0.25)}-${at(0.75)}); usage reports per request (on) ${(reported / onRequests).toFixed(2)}`,
);
