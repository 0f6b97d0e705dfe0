/**
 * Roles in a seed, worked out from the seed alone (no store, no HTTP): a user's access level on
 * a project is the highest of the direct membership and of the memberships of every group above
 * the project, as the forge's `GET /projects/:id/members/all/:user_id` (and the demo forge)
 * report it. The demo banner uses it to say truthfully what a person token may do.
 */
import type { DemoSeed } from './seed.js';

/** A user's effective membership of a project, and which membership gives it. */
export interface SeedMembership {
  /** Forge access level: Guest 10, Reporter 20, Developer 30, Maintainer 40, Owner 50. */
  readonly accessLevel: number;
  /** The project itself, or the group the level is inherited from (full paths). */
  readonly via: { readonly kind: 'PROJECT' | 'GROUP'; readonly fullPath: string };
}

/**
 * The effective membership of `username` in the project `projectPath`; `undefined` when the
 * user is no member of it or of any group above it (or either is not in the seed). On equal
 * levels the direct membership, then the nearest group, is named.
 */
export function seedMembership(
  seed: DemoSeed,
  projectPath: string,
  username: string,
): SeedMembership | undefined {
  const project = seed.projects.find((p) => p.path_with_namespace === projectPath);
  if (!project) return undefined;
  let best: SeedMembership | undefined;
  const consider = (level: number | undefined, via: SeedMembership['via']): void => {
    if (level !== undefined && (best === undefined || level > best.accessLevel))
      best = { accessLevel: level, via };
  };
  consider(seed.members[projectPath]?.[username], { kind: 'PROJECT', fullPath: projectPath });
  // Nearest group first. A validated seed has no parent cycle (each group's path extends its
  // parent's, seed-checks.ts); the visited set keeps a hand-built one from looping.
  const visited = new Set<number>();
  for (
    let group = seed.groups.find((g) => g.id === project.namespace_id);
    group && !visited.has(group.id);
    group = seed.groups.find((g) => g.id === group?.parent_id)
  ) {
    visited.add(group.id);
    consider(seed.groupMembers?.[group.full_path]?.[username], {
      kind: 'GROUP',
      fullPath: group.full_path,
    });
  }
  return best;
}
