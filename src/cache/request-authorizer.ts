/**
 * The authorization state of one request: each target project's `PermissionSet` is computed
 * on first sight (one batch of look-ups) and then held, so every later field check on that
 * project is a synchronous Map read (DESIGN.md section 6: no promise on the hot path).
 *
 * With a {@link DecisionCache} (fleet mode), first sights go process cache → Redis → engine:
 * every target first seen in the same tick (one resolution level) is read from Redis in one
 * round trip. A Redis failure fails closed with `POLICY_UNAVAILABLE` for the targets of that
 * batch (memoized for the request, so each target fails once); nothing is ever allowed on error.
 */
import DataLoader from 'dataloader';
import type { Principal } from '../auth/principal.js';
import { policyUnavailableError } from '../errors/codes.js';
import { decide, needsSourceAncestors } from '../policy/engine.js';
import type { ExplainContext } from '../policy/explain.js';
import { isProjectFullPath } from '../policy/project-path.js';
import type {
  InstanceSettings,
  JobTokenProfile,
  PermissionSet,
  SourceProject,
  TargetProject,
} from '../policy/types.js';
import { LEVEL_RANK, RESOURCES, ROLES } from '../policy/types.js';
import type { ProfileStore } from '../store/profile-store.js';
import { groupAncestors, type UpstreamLoaders } from '../upstream/loaders.js';
import type { RestProject } from '../upstream/types.js';
import { requestKeys, toTargetProject } from './decision-key.js';
import {
  type DecisionCache,
  type RoundTripCounter,
  type LocalDecision,
  type WriteBack,
} from './decision-cache.js';
import type { ReadResult } from './redis-decisions.js';

export { toTargetProject } from './decision-key.js';

/** What the authorizer knows about one target project after its first sight. */
export interface TargetDecision {
  readonly project: RestProject;
  readonly set: PermissionSet;
  /** Forge access level of the principal's user in the target (0: not a member). */
  readonly roleAccessLevel: number;
  /** Whether `project(fullPath)` may show the project to this principal at all. */
  readonly visible: boolean;
  /**
   * The requirement lists (one bit each, given by the directive) already met and reported on
   * this project in this request. A decision object belongs to one request: the authorizer makes
   * a new one for every request that sees the project, so the memo never crosses requests.
   */
  checked: number;
}

/** Shared, long-lived dependencies of every request's authorizer. */
export interface AuthorizerDeps {
  readonly store: ProfileStore;
  readonly instance: InstanceSettings;
  /** Fleet mode: process and Redis cache layers. Absent: decide from `store` per request. */
  readonly decisions?: DecisionCache | undefined;
  /** Clock, ms since the epoch (decision TTLs against token expiry). Default `Date.now`. */
  readonly now?: () => number;
  /** Told why a check failed closed (clients see `POLICY_UNAVAILABLE`); a throw is ignored. */
  readonly onPolicyError?: (err: unknown) => void;
  /** Uniform in [0, 1), for the spread of cache lifetimes (`spread`). Default `Math.random`. */
  readonly random?: () => number;
  /** Told of each decision cache look-up in fleet mode (metrics); must not throw. */
  readonly onCacheLookup?: (layer: DecisionCacheLayer, hit: boolean) => void;
}

/** One target of a batch of first sights. */
interface BatchItem {
  readonly project: RestProject;
  readonly target: TargetProject;
  readonly key: string;
  readonly gen: number;
}

/**
 * How much of a cache lifetime is cut off at random, at most: decisions and roles made together
 * (the targets of one request, the first requests after a deploy) would otherwise expire
 * together, and every request in flight then waits for all of them to be made again at once.
 */
export const LIFETIME_SPREAD = 0.1;

/** A layer of the decision cache: the process LRU, or Redis. */
export type DecisionCacheLayer = 'process' | 'redis';

/** Per-request authorization state. */
export interface RequestAuthorizer {
  readonly principal: Principal;
  /** Redis round trips (waited for) and write-backs of this request so far. */
  readonly redis: Readonly<RoundTripCounter>;
  /** Synchronous: the decision for a project already seen in this request, else `undefined`. */
  peek(projectId: number): TargetDecision | undefined;
  /** The decision for a project, computing it on first sight. */
  forProject(project: RestProject): Promise<TargetDecision>;
  /** Resolves an id or full path first; `null` when the upstream has no such project. */
  forProjectRef(idOrPath: number | string): Promise<TargetDecision | null>;
  /** Who and what, for denial messages and explanations (no token, no claims). */
  explainContext(decision: TargetDecision): ExplainContext;
}

/** Creates the authorizer of one request. */
export function createRequestAuthorizer(
  principal: Principal,
  loaders: UpstreamLoaders,
  deps: AuthorizerDeps,
): RequestAuthorizer {
  const held = new Map<number, TargetDecision>();
  const inFlight = new Map<number, Promise<TargetDecision>>();
  const counter: RoundTripCounter = { roundTrips: 0, writes: 0 };
  const now = deps.now ?? Date.now;
  // A hook that throws must not turn a denial into a crash or fail the rest of a batch.
  const onPolicyError = (err: unknown): void => {
    try {
      deps.onPolicyError?.(err);
    } catch {
      // the denial stands: the caller still answers POLICY_UNAVAILABLE
    }
  };
  const random = deps.random ?? Math.random;
  const keyedTarget = requestKeys(principal, deps.instance);
  /** A lifetime shortened by up to {@link LIFETIME_SPREAD}, never lengthened. */
  const spread = (ms: number): number => ms - Math.floor(random() * LIFETIME_SPREAD * ms);

  /** The role when it needs no look-up; `undefined` when the upstream must be asked. */
  const fixedRole = (): number | undefined =>
    principal.kind === 'anonymous'
      ? 0
      : principal.kind === 'user' && principal.isAdmin
        ? ROLES.OWNER
        : undefined;

  async function upstreamRole(projectId: number): Promise<number> {
    if (principal.kind === 'anonymous') return 0;
    return (await loaders.member.load({ projectId, userId: principal.userId }))?.access_level ?? 0;
  }

  async function computeSet(
    target: TargetProject,
    profile: JobTokenProfile | undefined,
    roleAccessLevel: number,
  ): Promise<PermissionSet> {
    let source: SourceProject | undefined;
    if (principal.kind === 'job' && principal.projectId !== target.id) {
      // Without the walk, the job's own namespace is still its nearest group.
      const ancestors = needsSourceAncestors(principal, target, profile, deps.instance)
        ? await groupAncestors(loaders, principal.namespaceId)
        : [principal.namespaceId];
      source = {
        id: principal.projectId,
        fullPath: principal.projectPath,
        ancestorGroupIds: ancestors,
      };
    }
    return decide({ principal, target, profile, roleAccessLevel, source, instance: deps.instance });
  }

  function hold(project: RestProject, set: PermissionSet, roleAccessLevel: number): TargetDecision {
    const visible =
      roleAccessLevel > 0 ||
      project.visibility === 'public' ||
      (project.visibility === 'internal' && principal.kind !== 'anonymous') ||
      (principal.kind === 'job' && principal.projectId === project.id) ||
      RESOURCES.some((r) => LEVEL_RANK[set.resources[r].level] > 0);
    const decision: TargetDecision = { project, set, roleAccessLevel, visible, checked: 0 };
    held.set(project.id, decision);
    return decision;
  }

  /** The target's profile from the store; POLICY_UNAVAILABLE when the store fails. */
  const readProfile = (projectId: number): Promise<JobTokenProfile | undefined> =>
    deps.store.get(projectId).catch((err: unknown) => {
      onPolicyError(err);
      throw policyUnavailableError();
    });

  async function computeDirect(project: RestProject): Promise<TargetDecision> {
    const [roleAccessLevel, profile] = await Promise.all([
      fixedRole() ?? upstreamRole(project.id),
      readProfile(project.id),
    ]);
    return hold(
      project,
      await computeSet(toTargetProject(project), profile, roleAccessLevel),
      roleAccessLevel,
    );
  }

  /** Longest a decision may be cached: the token's expiry bounds it. */
  const tokenTtlMs = (): number =>
    principal.kind === 'anonymous' ? Infinity : principal.expiresAt * 1000 - now();

  /**
   * Decides targets no other request of this process is deciding: one Redis read for all of
   * them, then the forge and the engine for those Redis had no usable answer for. `settles[k]`
   * (when given) hands target k's answer to the requests that joined it, or `undefined` when it
   * failed; every one is called by the time this resolves.
   */
  async function decideOwn(
    cache: DecisionCache,
    items: readonly BatchItem[],
    settles: readonly ((d: LocalDecision | undefined) => void)[],
  ): Promise<(TargetDecision | Error)[]> {
    try {
      return await readAndDecide(cache, items, settles);
    } finally {
      for (const settle of settles) settle(undefined); // no-op for those already settled
    }
  }

  async function readAndDecide(
    cache: DecisionCache,
    items: readonly BatchItem[],
    settles: readonly ((d: LocalDecision | undefined) => void)[],
  ): Promise<(TargetDecision | Error)[]> {
    if (items.length === 0) return [];
    const fixed = fixedRole();
    const roleUserId =
      fixed === undefined && principal.kind !== 'anonymous' ? principal.userId : undefined;
    let reads;
    try {
      reads = await cache.readMany(
        items.map((it) => ({ projectId: it.project.id, principalKey: it.key, roleUserId })),
        counter,
      );
    } catch (err) {
      onPolicyError(err);
      return items.map(() => policyUnavailableError());
    }
    const writes: WriteBack[] = [];
    // Target k decided (`set` for `role`): written back if new, remembered, handed on, held.
    // `fetchedTtl`: the role came from the forge just now, to be cached that long.
    const settle = (
      it: BatchItem,
      k: number,
      r: ReadResult,
      set: PermissionSet,
      role: number,
      fetchedTtl?: number,
    ): TargetDecision => {
      const fetched = fetchedTtl !== undefined;
      const roleTtl = fetchedTtl ?? (fixed !== undefined ? Infinity : (r.roleTtlMs ?? 0));
      const ttlMs = Math.min(spread(cache.decisionTtlMs), roleTtl, tokenTtlMs());
      if (set !== r.set || fetched) {
        writes.push({
          projectId: it.project.id,
          version: r.version,
          principalKey: it.key,
          set,
          ttlMs,
          notAfterMs: principal.kind === 'anonymous' ? undefined : principal.expiresAt * 1000,
          role:
            fetched && roleUserId !== undefined
              ? { userId: roleUserId, level: role, ttlMs: roleTtl }
              : undefined,
        });
      }
      cache.rememberLocal(it.project.id, it.key, { set, roleAccessLevel: role }, it.gen, ttlMs);
      settles[k]?.({ set, roleAccessLevel: role });
      return hold(it.project, set, role);
    };
    const failed = (k: number, err: unknown): Error => {
      settles[k]?.(undefined);
      if (err instanceof Error && 'extensions' in err) return err; // upstream errors keep their code
      onPolicyError(err);
      return policyUnavailableError();
    };
    /** Decides target k again: Redis had no usable decision for it, or no role. */
    const recompute = async (it: BatchItem, k: number, r: ReadResult, cached?: number) => {
      const role = cached ?? (await upstreamRole(it.project.id));
      // A stored decision Redis could not rule out (malformed, another project's) left the
      // profile unread: read it now rather than decide as if there were none.
      const profile = r.profileRead ? r.profile : await readProfile(it.project.id);
      const set = await computeSet(it.target, profile, role);
      return settle(
        it,
        k,
        r,
        set,
        role,
        cached === undefined ? spread(cache.roleTtlMs) : undefined,
      );
    };
    // A target Redis answered in full is settled at once, with no async function and promise of
    // its own (a cold W2 request reads 20; bench/NOTES.md round 19). The rest wait for the forge.
    const out = await Promise.all(
      items.map((it, k): TargetDecision | Error | Promise<TargetDecision | Error> => {
        try {
          const r = reads[k];
          if (!r) throw new Error('missing read result');
          const role = fixed ?? r.role;
          deps.onCacheLookup?.('redis', r.set !== undefined && role !== undefined);
          if (r.set === undefined || role === undefined)
            return recompute(it, k, r, role).catch((err: unknown) => failed(k, err));
          return settle(it, k, r, r.set, role);
        } catch (err) {
          return failed(k, err);
        }
      }),
    );
    cache.writeBack(writes, counter);
    return out;
  }

  async function batch(
    cache: DecisionCache,
    projects: readonly RestProject[],
  ): Promise<(TargetDecision | Error)[]> {
    const items: BatchItem[] = projects.map((project) => {
      const { target, key } = keyedTarget(project);
      return { project, target, key, gen: cache.generation(project.id) };
    });
    // A target another request of this process is deciding right now is waited for, not read
    // and decided once more: when a decision and its role expire, every request in flight
    // misses it at once (and asked the forge for the same role, each on its own).
    const claims = items.map((it) => cache.inFlight.claim(it.project.id, it.key, it.gen));
    const mine: BatchItem[] = [];
    const settles: ((d: LocalDecision | undefined) => void)[] = [];
    claims.forEach((c, k) => {
      if (c.settle === undefined) return;
      mine.push(items[k] as BatchItem);
      settles.push(c.settle);
    });
    const own = decideOwn(cache, mine, settles);
    if (mine.length === items.length) return own;
    const waited = await Promise.all(
      items.map(async (it, k): Promise<TargetDecision | Error | undefined> => {
        const waiting = claims[k]?.joined;
        if (waiting === undefined) return undefined; // one of `mine`
        const d = await waiting;
        // The request it waited for failed: decide on its own, as if it had not waited.
        if (d === undefined)
          return (await decideOwn(cache, [it], []))[0] ?? policyUnavailableError();
        return hold(it.project, d.set, d.roleAccessLevel);
      }),
    );
    const decided = (await own).values();
    return waited.map((w) => w ?? decided.next().value ?? policyUnavailableError());
  }

  const cached = deps.decisions;
  const loader = cached
    ? new DataLoader<RestProject, TargetDecision, number>((ps) => batch(cached, ps), {
        cacheKeyFn: (p) => p.id,
      })
    : undefined;

  const forProject = (project: RestProject): Promise<TargetDecision> => {
    const known = held.get(project.id);
    if (known) return Promise.resolve(known);
    if (cached && loader) {
      const { key } = keyedTarget(project);
      const hit = cached.peekLocal(project.id, key);
      deps.onCacheLookup?.('process', hit !== undefined);
      if (hit) return Promise.resolve(hold(project, hit.set, hit.roleAccessLevel));
      return loader.load(project);
    }
    let p = inFlight.get(project.id);
    if (!p) {
      p = computeDirect(project).finally(() => inFlight.delete(project.id));
      inFlight.set(project.id, p);
    }
    return p;
  };

  return {
    principal,
    redis: counter,
    peek: (id) => held.get(id),
    forProject,
    async forProjectRef(idOrPath) {
      // A string names a project by full path only (never an id, `..` or an empty path).
      if (typeof idOrPath === 'string' && !isProjectFullPath(idOrPath)) return null;
      const project = await loaders.project.load(idOrPath);
      return project ? forProject(project) : null;
    },
    explainContext(d) {
      const ctx: ExplainContext = {
        targetPath: d.project.path_with_namespace,
        roleAccessLevel: d.roleAccessLevel,
      };
      if (principal.kind === 'job')
        return { ...ctx, sourcePath: principal.projectPath, userLabel: principal.userLogin };
      if (principal.kind === 'user')
        return { ...ctx, userLabel: principal.username ?? `user ${principal.userId}` };
      return ctx;
    },
  };
}
