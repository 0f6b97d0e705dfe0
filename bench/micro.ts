/**
 * Micro-benchmark of the policy engine: `decide` in a tight loop for a cross-project job token
 * against a profile of 400 entries whose matching GROUP entry is six levels up the source's
 * ancestry, versus a profile of 10 entries matched on the job's own namespace. The engine
 * indexes entries by source id, so the ratio must stay near 1 (target ≤ 1.5).
 */
import type { JobTokenPrincipal } from '../src/auth/principal.js';
import { decide, DEFAULT_INSTANCE_SETTINGS, type DecisionInput } from '../src/policy/engine.js';
import type { AllowlistEntry, JobTokenProfile, TargetProject } from '../src/policy/types.js';

/** Result of {@link runPolicyMicroBench}. */
export interface PolicyMicroResult {
  /** Nanoseconds per `decide` call. */
  readonly smallNs: number;
  readonly largeNs: number;
  /** `largeNs / smallNs`. */
  readonly ratio: number;
  readonly iterations: number;
}

const principal: JobTokenPrincipal = {
  kind: 'job',
  issuer: 'https://issuer.bench',
  jti: 'bench',
  expiresAt: 4_000_000_000,
  projectId: 5000,
  projectPath: 'g1/g2/g3/g4/g5/g6/src',
  namespaceId: 106,
  namespacePath: 'g1/g2/g3/g4/g5/g6',
  userId: 7,
  userLogin: 'bench',
  jobId: 1,
  pipelineId: 1,
  ref: 'main',
  refType: 'branch',
  refProtected: true,
};

const target: TargetProject = {
  id: 9000,
  fullPath: 'targets/app',
  visibility: 'private',
  features: {
    RELEASES: 'enabled',
    TAGS: 'enabled',
    CONTAINERS: 'enabled',
    MERGE_REQUEST_NOTES: 'enabled',
  },
};

function entry(kind: 'PROJECT' | 'GROUP', sourceId: number): AllowlistEntry {
  return {
    sourceId,
    sourceKind: kind,
    sourcePath: `${kind.toLowerCase()}/${sourceId}`,
    defaultPermissions: false,
    permissions: { RELEASES: 'READ', TAGS: 'WRITE' },
    protectedRefsOnly: false,
    boundToUserRole: true,
  };
}

/** `count` entries, none for the source, then the matching GROUP entry for `matchGroupId`. */
function profile(count: number, matchGroupId: number): JobTokenProfile {
  const entries: AllowlistEntry[] = [];
  for (let i = 0; entries.length < count - 1; i++) {
    entries.push(entry(i % 2 === 0 ? 'PROJECT' : 'GROUP', 20_000 + i));
  }
  entries.push(entry('GROUP', matchGroupId));
  return { projectId: target.id, enforcement: 'ENFORCED', entries, version: 1 };
}

function timeIt(input: DecisionInput, iterations: number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += decide(input).resources.RELEASES.level.length;
  const ns = Number(process.hrtime.bigint() - start);
  if (sink < 0) throw new Error('unreachable');
  return ns / iterations;
}

/** Runs both cases, alternating, and keeps each case's best round. */
export function runPolicyMicroBench(iterations = 200_000, rounds = 5): PolicyMicroResult {
  // Ancestors nearest first: g6 (106) … g1 (101); the large profile matches g1, six levels up.
  const ancestors = [106, 105, 104, 103, 102, 101];
  const source = {
    id: principal.projectId,
    fullPath: principal.projectPath,
    ancestorGroupIds: ancestors,
  };
  const base = { principal, target, roleAccessLevel: 30, instance: DEFAULT_INSTANCE_SETTINGS };
  const small: DecisionInput = { ...base, profile: profile(10, 106), source };
  const large: DecisionInput = { ...base, profile: profile(400, 101), source };
  if (decide(large).matchedEntry?.sourceId !== 101 || decide(small).matchedEntry?.sourceId !== 106)
    throw new Error('the micro-benchmark profiles do not match as intended');
  timeIt(small, iterations / 4);
  timeIt(large, iterations / 4);
  let smallNs = Infinity;
  let largeNs = Infinity;
  for (let r = 0; r < rounds; r++) {
    smallNs = Math.min(smallNs, timeIt(small, iterations));
    largeNs = Math.min(largeNs, timeIt(large, iterations));
  }
  return { smallNs, largeNs, ratio: largeNs / smallNs, iterations };
}
