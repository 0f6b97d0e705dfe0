/**
 * Protected tags, as the forge defines them: a tag whose name matches a protection's pattern
 * (`*` matches any run of characters, anything else itself) may be created only by whoever the
 * protection's `create_access_levels` name, and deleted only by Maintainers or more.
 */

/** `GET /projects/:id/protected_tags` item (the fields the gateway reads). */
export interface RestProtectedTag {
  /** The name or wildcard pattern, e.g. `v*` or `release-*-final`. */
  name: string;
  create_access_levels?: {
    /** 0 no one, 30 Developers and Maintainers, 40 Maintainers, 60 instance admins. */
    access_level?: number | null;
    user_id?: number | null;
    group_id?: number | null;
    /** A deploy key entry (its `access_level` reads 40 but only the key may create). */
    deploy_key_id?: number | null;
  }[];
}

/** Whether tag `name` matches protection pattern `pattern`. */
export function matchesTagPattern(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const parts = pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's').test(name);
}

/**
 * Whether someone with forge access level `role` (and user id `userId`) may create tag `name`
 * under `protections`: yes when no protection matches; else when one matching protection lets
 * them (a level they reach, or their own user id). A level of 0 ("no one") lets nobody; a
 * group entry is not resolved and a deploy key entry names no person, so neither lets anybody
 * here (fail closed).
 */
export function mayCreateTag(
  protections: readonly RestProtectedTag[],
  name: string,
  role: number,
  userId: number | undefined,
): boolean {
  const matching = protections.filter((p) => matchesTagPattern(p.name, name));
  if (matching.length === 0) return true;
  return matching.some((p) =>
    (p.create_access_levels ?? []).some((a) => {
      if (a.deploy_key_id != null || a.group_id != null) return false;
      if (a.user_id != null) return userId !== undefined && a.user_id === userId;
      const level = a.access_level ?? 0;
      return level > 0 && role >= level;
    }),
  );
}
