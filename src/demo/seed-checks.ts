/**
 * Cross-reference checks of a demo seed that zod's shape validation cannot express: unique
 * ids and paths, parents and namespaces that exist and match the paths, members and authors
 * that are known users.
 */
import type { DemoSeed, DemoSeedMembers } from './seed.js';

/** One problem found in a seed: where (as a path of keys) and what. */
export interface SeedIssue {
  path: (string | number)[];
  message: string;
}

/** Cross-reference checks zod's shape validation cannot express. */
export function crossReferenceIssues(seed: DemoSeed): SeedIssue[] {
  const issues: SeedIssue[] = [];
  const groupsById = new Map(seed.groups.map((g) => [g.id, g]));
  const groupPaths = new Set(seed.groups.map((g) => g.full_path));
  const projectPaths = new Set(seed.projects.map((p) => p.path_with_namespace));
  const usernames = new Set(seed.users.map((u) => u.username));

  const unique = <T>(
    list: readonly T[],
    key: (t: T) => string | number,
    where: string,
    field: string,
  ) => {
    const seen = new Set<string | number>();
    list.forEach((item, i) => {
      const k = key(item);
      if (seen.has(k))
        issues.push({
          path: [where, i, field],
          message: `duplicate ${field} ${JSON.stringify(k)}`,
        });
      seen.add(k);
    });
  };
  unique(seed.groups, (g) => g.id, 'groups', 'id');
  unique(seed.groups, (g) => g.full_path, 'groups', 'full_path');
  unique(seed.projects, (p) => p.id, 'projects', 'id');
  unique(seed.projects, (p) => p.path_with_namespace, 'projects', 'path_with_namespace');
  unique(seed.users, (u) => u.id, 'users', 'id');
  unique(seed.users, (u) => u.username, 'users', 'username');

  const isChildPath = (child: string, parent: string) =>
    child.startsWith(`${parent}/`) && !child.slice(parent.length + 1).includes('/');

  seed.groups.forEach((g, i) => {
    if (g.parent_id === null) {
      if (g.full_path.includes('/'))
        issues.push({
          path: ['groups', i, 'full_path'],
          message: 'a top-level group has a single-segment path',
        });
      return;
    }
    const parent = groupsById.get(g.parent_id);
    if (!parent)
      issues.push({ path: ['groups', i, 'parent_id'], message: `no group has id ${g.parent_id}` });
    else if (!isChildPath(g.full_path, parent.full_path))
      issues.push({
        path: ['groups', i, 'full_path'],
        message: `must be "${parent.full_path}/<name>" (the parent's path plus one segment)`,
      });
  });
  seed.projects.forEach((p, i) => {
    const ns = groupsById.get(p.namespace_id);
    if (!ns)
      issues.push({
        path: ['projects', i, 'namespace_id'],
        message: `no group has id ${p.namespace_id}`,
      });
    else if (!isChildPath(p.path_with_namespace, ns.full_path))
      issues.push({
        path: ['projects', i, 'path_with_namespace'],
        message: `must be "${ns.full_path}/<name>" (the namespace's path plus one segment)`,
      });
  });

  const checkMembers = (
    map: DemoSeedMembers | undefined,
    key: string,
    known: Set<string>,
    kind: string,
  ) => {
    for (const [path, byUser] of Object.entries(map ?? {})) {
      if (!known.has(path)) issues.push({ path: [key, path], message: `no ${kind} has this path` });
      for (const name of Object.keys(byUser)) {
        if (!usernames.has(name))
          issues.push({ path: [key, path, name], message: 'no user has this username' });
      }
    }
  };
  checkMembers(seed.members, 'members', projectPaths, 'project');
  checkMembers(seed.groupMembers, 'groupMembers', groupPaths, 'group');

  const checkPerProject = <T>(
    key: 'releases' | 'tags' | 'containerRepositories' | 'mergeRequests' | 'protectedTags',
    map: Record<string, T[]> | undefined,
    each: (item: T, at: (string | number)[]) => void,
  ) => {
    for (const [path, list] of Object.entries(map ?? {})) {
      if (!projectPaths.has(path))
        issues.push({ path: [key, path], message: 'no project has this path' });
      list.forEach((item, i) => each(item, [key, path, i]));
    }
  };
  const checkAuthor = (author: string | undefined, at: (string | number)[]) => {
    if (author !== undefined && !usernames.has(author))
      issues.push({ path: [...at, 'author'], message: `no user has username "${author}"` });
  };
  checkPerProject('releases', seed.releases, (r, at) => checkAuthor(r.author, at));
  checkPerProject('mergeRequests', seed.mergeRequests, (mr, at) => {
    checkAuthor(mr.author, at);
    mr.notes.forEach((n, j) => checkAuthor(n.author, [...at, 'notes', j]));
  });
  for (const [path, list] of Object.entries(seed.releases ?? {}))
    unique(list, (r) => r.tag_name, `releases.${path}`, 'tag_name');
  for (const [path, list] of Object.entries(seed.tags ?? {}))
    unique(list, (t) => t.name, `tags.${path}`, 'name');
  for (const [path, list] of Object.entries(seed.mergeRequests ?? {}))
    unique(list, (m) => m.iid, `mergeRequests.${path}`, 'iid');
  checkPerProject('tags', seed.tags, () => undefined);
  checkPerProject('protectedTags', seed.protectedTags, () => undefined);
  for (const [path, list] of Object.entries(seed.protectedTags ?? {}))
    unique(list, (t) => t.name, `protectedTags.${path}`, 'name');
  checkPerProject('containerRepositories', seed.containerRepositories, () => undefined);
  const repoIds = Object.values(seed.containerRepositories ?? {})
    .flat()
    .filter((r) => r.id !== undefined);
  unique(repoIds, (r) => r.id ?? 0, 'containerRepositories', 'id');
  return issues;
}
