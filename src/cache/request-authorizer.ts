/**
 * The authorization state of one request: each target project's `PermissionSet` is computed
 * on first sight (one batch of look-ups) and then held, so every later field check on that
 * project is a synchronous Map read (DESIGN.md section 6: no promise on the hot path).
 */
import type { Principal } from '../auth/principal.js';
import { decide, needsSourceAncestors } from '../policy/engine.js';
import type { ExplainContext } from '../policy/explain.js';
import type {
  FeatureAccessLevel,
  InstanceSettings,
  JobTokenResource,
  PermissionSet,
  SourceProject,
  TargetProject,
} from '../policy/types.js';
import { FEATURE_OF, LEVEL_RANK, RESOURCES, ROLES } from '../policy/types.js';
import type { ProfileStore } from '../store/profile-store.js';
import { groupAncestors, type UpstreamLoaders } from '../upstream/loaders.js';
import type { RestProject } from '../upstream/types.js';

/** What the authorizer knows about one target project after its first sight. */
export interface TargetDecision {
  readonly project: RestProject;
  readonly set: PermissionSet;
  /** Forge access level of the principal's user in the target (0: not a member). */
  readonly roleAccessLevel: number;
  /** Whether `project(fullPath)` may show the project to this principal at all. */
  readonly visible: boolean;
}

/** Shared, long-lived dependencies of every request's authorizer. */
export interface AuthorizerDeps {
  readonly store: ProfileStore;
  readonly instance: InstanceSettings;
}

/** Per-request authorization state. */
export interface RequestAuthorizer {
  readonly principal: Principal;
  /** Synchronous: the decision for a project already seen in this request, else `undefined`. */
  peek(projectId: number): TargetDecision | undefined;
  /** The decision for a project, computing it on first sight. */
  forProject(project: RestProject): Promise<TargetDecision>;
  /** Resolves an id or full path first; `null` when the upstream has no such project. */
  forProjectRef(idOrPath: number | string): Promise<TargetDecision | null>;
  /** Who and what, for denial messages and explanations (no token, no claims). */
  explainContext(decision: TargetDecision): ExplainContext;
}

/** Turns the upstream's project into the engine's target (absent feature levels count as enabled). */
export function toTargetProject(p: RestProject): TargetProject {
  const features = {} as Record<JobTokenResource, FeatureAccessLevel>;
  for (const r of RESOURCES) {
    const v = (p as unknown as Record<string, unknown>)[FEATURE_OF[r]];
    features[r] = v === 'private' || v === 'disabled' ? v : 'enabled';
  }
  return { id: p.id, fullPath: p.path_with_namespace, visibility: p.visibility, features };
}

/** Longest full path accepted (the forge limits each of up to 21 segments to 255 characters). */
const MAX_FULL_PATH_LENGTH = 2048;
/** `group[/subgroup...]/project`: each segment starts with a letter, digit or `_`. */
const FULL_PATH = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$/;

/**
 * Whether `value` has the shape of a project's full path. Anything else (a numeric id, `..`,
 * an encoded slash, a query string) names no project and is never sent upstream.
 */
export function isProjectFullPath(value: string): boolean {
  return value.length <= MAX_FULL_PATH_LENGTH && FULL_PATH.test(value);
}

/** Creates the authorizer of one request. */
export function createRequestAuthorizer(
  principal: Principal,
  loaders: UpstreamLoaders,
  deps: AuthorizerDeps,
): RequestAuthorizer {
  const held = new Map<number, TargetDecision>();
  const inFlight = new Map<number, Promise<TargetDecision>>();

  async function roleIn(projectId: number): Promise<number> {
    switch (principal.kind) {
      case 'anonymous':
        return 0;
      case 'user':
        if (principal.isAdmin) return ROLES.OWNER;
        return (
          (await loaders.member.load({ projectId, userId: principal.userId }))?.access_level ?? 0
        );
      case 'job':
        return (
          (await loaders.member.load({ projectId, userId: principal.userId }))?.access_level ?? 0
        );
    }
  }

  async function compute(project: RestProject): Promise<TargetDecision> {
    const target = toTargetProject(project);
    const [roleAccessLevel, profile] = await Promise.all([
      roleIn(project.id),
      deps.store.get(project.id),
    ]);
    let source: SourceProject | undefined;
    if (principal.kind === 'job' && principal.projectId !== project.id) {
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
    const set = decide({
      principal,
      target,
      profile,
      roleAccessLevel,
      source,
      instance: deps.instance,
    });
    const visible =
      roleAccessLevel > 0 ||
      project.visibility === 'public' ||
      (project.visibility === 'internal' && principal.kind !== 'anonymous') ||
      (principal.kind === 'job' && principal.projectId === project.id) ||
      RESOURCES.some((r) => LEVEL_RANK[set.resources[r].level] > 0);
    const decision: TargetDecision = { project, set, roleAccessLevel, visible };
    held.set(project.id, decision);
    return decision;
  }

  const forProject = (project: RestProject): Promise<TargetDecision> => {
    const known = held.get(project.id);
    if (known) return Promise.resolve(known);
    let p = inFlight.get(project.id);
    if (!p) {
      p = compute(project).finally(() => inFlight.delete(project.id));
      inFlight.set(project.id, p);
    }
    return p;
  };

  return {
    principal,
    peek: (id) => held.get(id),
    forProject,
    async forProjectRef(idOrPath) {
      // A string is a full path and nothing else: a numeric string would be read by the
      // forge as a project id, and `..` or an empty path would reach other endpoints.
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
