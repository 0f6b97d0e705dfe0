/**
 * The cache key of a decision: everything a `PermissionSet` depends on besides the target's
 * profile (whose version is part of the Redis key) and the user's role (cached beside it); and
 * the engine's view of the forge's project that it is made from.
 */
import type { Principal } from '../auth/principal.js';
import type {
  FeatureAccessLevel,
  InstanceSettings,
  JobTokenResource,
  TargetProject,
} from '../policy/types.js';
import { FEATURE_OF, LEVELS, RESOURCES } from '../policy/types.js';
import type { RestProject } from '../upstream/types.js';

const VIS = { public: 'p', internal: 'i', private: 'v' } as const;
const FEAT = { enabled: 'e', private: 'p', disabled: 'd' } as const;

/**
 * Everything a decision depends on besides the profile and the role, as a short key: the
 * principal's deciding attributes, the target's visibility and features, and the instance
 * settings. Two requests with the same key always get the same `PermissionSet`.
 */
export function principalCacheKey(
  principal: Principal,
  target: TargetProject,
  instance: InstanceSettings,
): string {
  return `${principalKeyPrefix(principal)}${targetKeySuffix(target, instance)}`;
}

/**
 * The principal's part of {@link principalCacheKey}, which all its targets share (a request
 * makes it once, not once per target).
 */
export function principalKeyPrefix(principal: Principal): string {
  switch (principal.kind) {
    case 'anonymous':
      return 'a:';
    case 'user':
      return `u:${principal.userId}:${principal.isAdmin ? 1 : 0}:`;
    case 'job': {
      const claim = principal.jobPermissions;
      const scope =
        claim === undefined
          ? '*'
          : RESOURCES.map((r) => LEVELS.indexOf(claim[r] ?? 'NONE')).join('');
      return `j:${principal.projectId}:${principal.namespaceId}:${principal.userId}:${principal.refProtected ? 1 : 0}:${scope}:`;
    }
  }
}

/** The target's and the instance settings' part of {@link principalCacheKey}. */
export function targetKeySuffix(target: TargetProject, instance: InstanceSettings): string {
  const t = `${VIS[target.visibility]}${RESOURCES.map((r) => FEAT[target.features[r]]).join('')}`;
  return `${t}${instance.enforceAllowlistEverywhere ? 'E' : 'e'}${instance.defaultEnforcement[0] ?? ''}`;
}

/**
 * One request's decision keys: the principal's part made once, and each project record's target
 * and key once (the process-cache look-up and a miss's batch ask for the same), kept by the
 * record itself, so a record the forge changed gets its own.
 */
export function requestKeys(
  principal: Principal,
  instance: InstanceSettings,
): (project: RestProject) => { readonly target: TargetProject; readonly key: string } {
  const prefix = principalKeyPrefix(principal);
  const keyed = new WeakMap<RestProject, { target: TargetProject; key: string }>();
  return (project) => {
    let k = keyed.get(project);
    if (!k) {
      const target = toTargetProject(project);
      k = { target, key: `${prefix}${targetKeySuffix(target, instance)}` };
      keyed.set(project, k);
    }
    return k;
  };
}

/**
 * Turns the upstream's project into the engine's target. A feature level the forge did not
 * send, or one this gateway does not know, counts as `private` (members only): it never opens
 * the public floor, and it does not lock out members and allowlisted jobs either.
 */
export function toTargetProject(p: RestProject): TargetProject {
  const features = {} as Record<JobTokenResource, FeatureAccessLevel>;
  for (const r of RESOURCES) {
    const v = (p as unknown as Record<string, unknown>)[FEATURE_OF[r]];
    features[r] = v === 'enabled' || v === 'disabled' ? v : 'private';
  }
  return { id: p.id, fullPath: p.path_with_namespace, visibility: p.visibility, features };
}
