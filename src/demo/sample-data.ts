/**
 * Turns a validated seed into the store's records, generating sample data for every project
 * that has no explicit data of a kind. Generation is deterministic (fixed timestamps, ids in
 * seed order, digests derived from names), and every generated name, body and message
 * carries the project's full path, so a leak test can search a response for another
 * project's marker.
 */
import {
  commitSha,
  fixedTime,
  sha256Hex,
  type ContainerRepositoryRecord,
  type ContainerTagRecord,
  type GroupRecord,
  type MergeRequestRecord,
  type NoteRecord,
  type ProjectData,
  type ProjectRecord,
  type ReleaseRecord,
  type TagRecord,
  type UserRecord,
  type WorldData,
} from './model.js';
import {
  DEFAULT_SAMPLE_COUNTS,
  type DemoSeed,
  type DemoSeedContainerRepository,
  type DemoSeedMembers,
  type DemoSeedMergeRequest,
  type DemoSeedRelease,
  type FeatureAccessLevels,
  type SampleCounts,
} from './seed.js';

/** First ids handed out for instance-wide objects (distinct ranges make mix-ups visible). */
const FIRST_IDS = { containerRepository: 301, mergeRequest: 501, note: 7001 } as const;

const lastSegment = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/**
 * The registry path of a repository: the project path plus the repository name, unless the
 * name already starts with the project path (generated names do, to carry the marker).
 */
export function containerRepositoryPath(projectPath: string, name: string): string {
  if (name === '' || name === projectPath) return projectPath;
  return name.startsWith(`${projectPath}/`) ? name : `${projectPath}/${name}`;
}

/** A deterministic image tag of a repository. */
export function makeContainerTag(
  repoPath: string,
  name: string,
  index: number,
): ContainerTagRecord {
  const revision = sha256Hex(`revision:${repoPath}:${name}`);
  return {
    name,
    revision,
    digest: `sha256:${sha256Hex(`digest:${repoPath}:${name}`)}`,
    created_at: fixedTime(index, 30),
    total_size: 1_048_576 + index * 131_072,
  };
}

/** A tag record for `name` of a project, pointing at the commit `target`. */
export function makeTag(
  projectPath: string,
  name: string,
  message: string,
  target: string,
  createdAt: string,
): TagRecord {
  return {
    name,
    message,
    commit: { id: target, title: `Prepare ${name} of ${projectPath}`, created_at: createdAt },
    created_at: createdAt,
  };
}

function membersIndex(
  map: DemoSeedMembers | undefined,
  idOf: (path: string) => number | undefined,
  userIds: Map<string, number>,
) {
  const out = new Map<number, Map<number, number>>();
  for (const [path, byUser] of Object.entries(map ?? {})) {
    const ownerId = idOf(path);
    if (ownerId === undefined) continue;
    const levels = new Map<number, number>();
    for (const [username, level] of Object.entries(byUser)) {
      const userId = userIds.get(username);
      if (userId !== undefined) levels.set(userId, level);
    }
    out.set(ownerId, levels);
  }
  return out;
}

/** Materialises the seed into the records a store starts from. */
export function buildWorld(seed: DemoSeed): WorldData {
  const defaults: FeatureAccessLevels = {
    releases_access_level: 'enabled',
    repository_access_level: 'enabled',
    container_registry_access_level: 'enabled',
    merge_requests_access_level: 'enabled',
    ...seed.defaultFeatures,
  };
  const groups: GroupRecord[] = seed.groups.map((g) => ({
    id: g.id,
    name: g.name ?? lastSegment(g.full_path),
    path: lastSegment(g.full_path),
    full_path: g.full_path,
    parent_id: g.parent_id,
    visibility: g.visibility ?? 'private',
  }));
  const projects: ProjectRecord[] = seed.projects.map((p, i) => ({
    id: p.id,
    name: p.name ?? lastSegment(p.path_with_namespace),
    path: lastSegment(p.path_with_namespace),
    path_with_namespace: p.path_with_namespace,
    namespace_id: p.namespace_id,
    visibility: p.visibility,
    features: { ...defaults, ...p.features },
    created_at: fixedTime(-30, i),
    default_branch: 'main',
  }));
  const users: UserRecord[] = seed.users.map((u) => ({
    id: u.id,
    username: u.username,
    name: u.name ?? u.username,
    bot: u.bot ?? false,
  }));
  const serviceUser: UserRecord = {
    id: Math.max(0, ...users.map((u) => u.id)) + 1,
    username: 'demo-upstream-service',
    name: 'Demo upstream service account',
    bot: true,
  };
  const userIds = new Map(users.map((u) => [u.username, u.id]));
  const projectIds = new Map(projects.map((p) => [p.path_with_namespace, p.id]));
  const groupIds = new Map(groups.map((g) => [g.full_path, g.id]));
  const projectMembers = membersIndex(seed.members, (p) => projectIds.get(p), userIds);
  const groupMembers = membersIndex(seed.groupMembers, (g) => groupIds.get(g), userIds);

  // Explicit container repository ids are reserved before any id is generated.
  const takenRepoIds = new Set(
    Object.values(seed.containerRepositories ?? {})
      .flat()
      .flatMap((r) => (r.id === undefined ? [] : [r.id])),
  );
  const nextIds: WorldData['nextIds'] = { ...FIRST_IDS };
  const nextRepoId = (): number => {
    while (takenRepoIds.has(nextIds.containerRepository)) nextIds.containerRepository += 1;
    takenRepoIds.add(nextIds.containerRepository);
    return nextIds.containerRepository++;
  };

  const data = new Map<number, ProjectData>();
  seed.projects.forEach((sp, projectIndex) => {
    const path = sp.path_with_namespace;
    const counts: SampleCounts = { ...DEFAULT_SAMPLE_COUNTS, ...seed.sample, ...sp.sample };
    const project = projects[projectIndex] as ProjectRecord;
    // Authors default to the project's members in seed order, then to inherited members.
    const memberIds = [...(projectMembers.get(sp.id)?.keys() ?? [])];
    for (
      let g = groups.find((x) => x.id === project.namespace_id);
      g;
      g = groups.find((x) => x.id === g?.parent_id)
    ) {
      for (const uid of groupMembers.get(g.id)?.keys() ?? [])
        if (!memberIds.includes(uid)) memberIds.push(uid);
    }
    const authorAt = (k: number): number =>
      memberIds[k % Math.max(1, memberIds.length)] ?? serviceUser.id;
    const authorId = (username: string | undefined): number =>
      (username === undefined ? undefined : userIds.get(username)) ?? authorAt(0);

    const explicitTags = seed.tags?.[path];
    const tags: TagRecord[] = explicitTags
      ? explicitTags.map((t, i) =>
          makeTag(
            path,
            t.name,
            t.message ?? '',
            t.target ?? commitSha(path, t.name),
            fixedTime(i, 5),
          ),
        )
      : Array.from({ length: counts.tags }, (_, i) => {
          const name = `v0.${i + 1}.0`;
          return makeTag(
            path,
            name,
            `Pre-release tag ${name} of ${path}`,
            commitSha(path, name),
            fixedTime(-10 + i),
          );
        });

    const explicitReleases = seed.releases?.[path];
    const releaseSeeds: DemoSeedRelease[] =
      explicitReleases ??
      Array.from({ length: counts.releases }, (_, i) => ({
        tag_name: `v1.${i}.0`,
        name: `${path} release v1.${i}.0`,
        description: `Release notes for v1.${i}.0 of ${path}.`,
      }));
    const releases: ReleaseRecord[] = releaseSeeds.map((r, i) => {
      const createdAt = r.created_at ?? fixedTime(i);
      let tag = tags.find((t) => t.name === r.tag_name);
      if (!tag) {
        // A release always has a tag; create the missing one.
        tag = makeTag(
          path,
          r.tag_name,
          `Tag ${r.tag_name} of ${path}`,
          commitSha(path, r.tag_name),
          createdAt,
        );
        tags.push(tag);
      }
      return {
        tag_name: r.tag_name,
        name: r.name ?? r.tag_name,
        description: r.description ?? '',
        created_at: createdAt,
        released_at: r.released_at ?? createdAt,
        author_id: authorId(r.author),
        commit: tag.commit,
      };
    });

    const repoNames = ['app', 'worker'];
    const explicitRepos = seed.containerRepositories?.[path];
    const repoSeeds: DemoSeedContainerRepository[] =
      explicitRepos ??
      Array.from({ length: counts.containerRepositories }, (_, i) => ({
        name: `${path}/${repoNames[i] ?? `image-${i + 1}`}`,
        tags: [
          'latest',
          ...Array.from({ length: Math.max(0, counts.containerTags - 1) }, (_, k) => `v${k + 1}`),
        ].slice(0, counts.containerTags),
      }));
    const containerRepositories: ContainerRepositoryRecord[] = repoSeeds.map((r, i) => {
      const repoPath = containerRepositoryPath(path, r.name);
      return {
        id: r.id ?? nextRepoId(),
        project_id: sp.id,
        name: r.name,
        path: repoPath,
        created_at: fixedTime(-20 + i),
        tags: r.tags.map((t, k) => makeContainerTag(repoPath, t, k)),
      };
    });

    const explicitMrs = seed.mergeRequests?.[path];
    const mrSeeds: DemoSeedMergeRequest[] = explicitMrs ?? [
      {
        iid: 1,
        title: `Sample change in ${path}`,
        description: `Merge request !1 of ${path}.`,
        notes: Array.from({ length: counts.notes }, (_, k) => ({
          body: `note ${k + 1} on ${path}`,
        })),
      },
    ];
    const mergeRequests: MergeRequestRecord[] = [];
    const notes = new Map<number, NoteRecord[]>();
    mrSeeds.forEach((m, i) => {
      const mr: MergeRequestRecord = {
        id: nextIds.mergeRequest++,
        iid: m.iid,
        project_id: sp.id,
        title: m.title,
        description: m.description ?? '',
        state: m.state ?? 'opened',
        author_id: authorId(m.author),
        created_at: fixedTime(i, 10),
        updated_at: fixedTime(i, 10),
      };
      mergeRequests.push(mr);
      notes.set(
        m.iid,
        m.notes.map((n, k) => ({
          id: nextIds.note++,
          body: n.body,
          author_id: n.author === undefined ? authorAt(k) : authorId(n.author),
          created_at: fixedTime(i, 20 + k),
          updated_at: fixedTime(i, 20 + k),
          system: n.system ?? false,
          internal: n.internal ?? false,
          noteable_id: mr.id,
          noteable_iid: mr.iid,
        })),
      );
    });
    const protectedTags = (seed.protectedTags?.[path] ?? []).map((p) => ({
      name: p.name,
      createAccessLevel: p.createAccessLevel ?? 40,
    }));
    data.set(sp.id, { releases, tags, containerRepositories, mergeRequests, notes, protectedTags });
  });
  // Generated repository ids continue after every id in use, explicit ones included.
  nextIds.containerRepository = Math.max(nextIds.containerRepository, ...takenRepoIds) + 1;
  return { groups, projects, users, serviceUser, projectMembers, groupMembers, data, nextIds };
}
