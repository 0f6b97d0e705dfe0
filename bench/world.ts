/**
 * The benchmark's world: a seed for the embedded upstream, the policy file loaded into Redis,
 * and the GraphQL documents of every workload.
 *
 * The job runs in `bench/l1/l2/l3/l4/l5/ci` (six levels of groups), triggered by `bench-bot`,
 * a Developer of the top group (inherited everywhere). Every target is private, so every level
 * it gets comes from an allowlist entry, never from a public floor:
 * - W1 `bench/w1/app`: 100 releases, a GROUP entry for `bench/l1` (found five levels up);
 * - W2 `bench/w2/p00` … `p19`: 5 releases each, a GROUP entry for `bench/l1/l2`;
 * - W3 `bench/w3/releases`: a PROJECT entry for the job's project with RELEASES and TAGS WRITE
 *   (each request releases a new tag, which the forge creates from `ref`: a tag write too).
 */
import type { DemoSeed, DemoSeedGroup, DemoSeedProject } from '../src/demo/seed.js';

/** Forge ids the load generator puts in the job token. */
export const BENCH_JOB = Object.freeze({
  projectId: 2000,
  projectPath: 'bench/l1/l2/l3/l4/l5/ci',
  namespaceId: 1005,
  namespacePath: 'bench/l1/l2/l3/l4/l5',
  userId: 9001,
  userLogin: 'bench-bot',
});

/** Number of W2 target projects. */
export const W2_PROJECTS = 20;
/** Releases per W2 project asked for (× 2 fields = 10 guarded fields per project). */
export const W2_RELEASES = 5;
/** Releases of the W1 project (× 2 fields = 200 guarded fields). */
export const W1_RELEASES = 100;

const w2Path = (i: number): string => `bench/w2/p${String(i).padStart(2, '0')}`;

/** The upstream's seed (no tags, containers or notes beyond what the workloads read). */
export function benchSeed(): DemoSeed {
  const groups: DemoSeedGroup[] = [{ id: 1000, full_path: 'bench', parent_id: null }];
  let path = 'bench';
  for (let level = 1; level <= 5; level++) {
    path = `${path}/l${level}`;
    groups.push({ id: 1000 + level, full_path: path, parent_id: 1000 + level - 1 });
  }
  groups.push(
    { id: 1010, full_path: 'bench/w1', parent_id: 1000 },
    { id: 1011, full_path: 'bench/w2', parent_id: 1000 },
    { id: 1012, full_path: 'bench/w3', parent_id: 1000 },
  );
  const projects: DemoSeedProject[] = [
    {
      id: BENCH_JOB.projectId,
      path_with_namespace: BENCH_JOB.projectPath,
      namespace_id: BENCH_JOB.namespaceId,
      visibility: 'private',
    },
    {
      id: 2001,
      path_with_namespace: 'bench/w1/app',
      namespace_id: 1010,
      visibility: 'private',
      sample: { releases: W1_RELEASES },
    },
    {
      id: 2200,
      path_with_namespace: 'bench/w3/releases',
      namespace_id: 1012,
      visibility: 'private',
      sample: { releases: 0 },
    },
  ];
  for (let i = 0; i < W2_PROJECTS; i++) {
    projects.push({
      id: 2100 + i,
      path_with_namespace: w2Path(i),
      namespace_id: 1011,
      visibility: 'private',
      sample: { releases: W2_RELEASES },
    });
  }
  return {
    groups,
    projects,
    users: [{ id: BENCH_JOB.userId, username: BENCH_JOB.userLogin, bot: true }],
    members: {},
    groupMembers: { bench: { [BENCH_JOB.userLogin]: 30 } },
    sample: { releases: 3, tags: 0, containerRepositories: 0, containerTags: 0, notes: 0 },
  };
}

/** The policy file (raw JSON shape) of {@link benchSeed}'s targets. */
export function benchPolicy(): unknown {
  const projects: Record<string, unknown> = {
    'bench/w1/app': {
      entries: [{ source: 'bench/l1', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
    },
    'bench/w3/releases': {
      entries: [
        {
          source: BENCH_JOB.projectPath,
          kind: 'PROJECT',
          permissions: { RELEASES: 'WRITE', TAGS: 'WRITE' },
        },
      ],
    },
  };
  for (let i = 0; i < W2_PROJECTS; i++) {
    projects[w2Path(i)] = {
      entries: [{ source: 'bench/l1/l2', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
    };
  }
  return { version: 1, projects };
}

/** The request header that tells the bare HTTP baseline (C) which workload's answer to send. */
export const WORKLOAD_HEADER = 'x-bench-workload';

/** The workloads measured against the gateways. */
export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4';

/** A workload's request body; `__UNIQUE__` is replaced per request by the load generator. */
export function workloadBody(id: WorkloadId): string {
  switch (id) {
    case 'W1':
    case 'W4':
      return JSON.stringify({
        query: `{ project(fullPath: "bench/w1/app") { releases(first: ${W1_RELEASES}) { nodes { tagName name } } } }`,
      });
    case 'W2': {
      const fields = Array.from(
        { length: W2_PROJECTS },
        (_, i) =>
          `p${i}: project(fullPath: "${w2Path(i)}") { releases(first: ${W2_RELEASES}) { nodes { tagName name } } }`,
      );
      return JSON.stringify({ query: `{ ${fields.join(' ')} }` });
    }
    case 'W3':
      return JSON.stringify({
        query:
          'mutation($tag: String!) { releaseCreate(input: { projectPath: "bench/w3/releases", tagName: $tag, ref: "main" }) { release { tagName } errors } }',
        variables: { tag: 'b-__UNIQUE__' },
      });
  }
}
