/**
 * Per-request DataLoaders over the REST client: every project, group, member and user
 * look-up in one request is de-duplicated and issued together, whichever field asked.
 * A project loaded by path is also primed under its id (and the reverse). Projects are also
 * answered from the process-wide {@link ProjectCache} when one is given (`project-cache.ts`).
 */
import DataLoader from 'dataloader';
import type { CallOptions, UpstreamClient } from './client.js';
import { encodeId } from './client.js';
import type { ProjectCache } from './project-cache.js';
import type { RestGroup, RestMember, RestProject, RestUser } from './types.js';

/** The loaders of one request. `null` means the upstream answered 404. */
export interface UpstreamLoaders {
  /** By numeric id or full path. */
  readonly project: DataLoader<number | string, RestProject | null, string>;
  readonly group: DataLoader<number | string, RestGroup | null, string>;
  /** Key: `{ projectId, userId }`; the user's membership including inherited groups. */
  readonly member: DataLoader<{ projectId: number; userId: number }, RestMember | null, string>;
  readonly user: DataLoader<number, RestUser | null, number>;
}

/** Largest group nesting walked when collecting ancestors (the forge allows 20). */
const MAX_GROUP_DEPTH = 20;

/** Creates the loaders for one request. */
export function createUpstreamLoaders(
  client: UpstreamClient,
  opts: CallOptions = {},
  projects?: ProjectCache,
): UpstreamLoaders {
  const projectKey = (k: number | string): string =>
    typeof k === 'number' ? `id:${k}` : `path:${k}`;
  const project: UpstreamLoaders['project'] = new DataLoader(
    async (keys) =>
      Promise.all(
        keys.map(async (k) => {
          try {
            const fetch = () =>
              client.find<RestProject>(`projects/${encodeId(k)}`, { ...opts, what: 'the project' });
            const p = await (projects ? projects.load(k, fetch) : fetch());
            if (!p) return null;
            // Prime the other key so `project(fullPath)` and a check by id share one call.
            project.prime(p.id, p).prime(p.path_with_namespace, p);
            return p;
          } catch (err) {
            return err as Error;
          }
        }),
      ),
    { cacheKeyFn: projectKey },
  );

  const group: UpstreamLoaders['group'] = new DataLoader(
    async (keys) =>
      Promise.all(
        keys.map(async (k) => {
          try {
            return (
              (await client.find<RestGroup>(`groups/${encodeId(k)}`, {
                ...opts,
                what: 'the group',
              })) ?? null
            );
          } catch (err) {
            return err as Error;
          }
        }),
      ),
    { cacheKeyFn: (k) => String(k) },
  );
  const member: UpstreamLoaders['member'] = new DataLoader(
    async (keys) =>
      Promise.all(
        keys.map(async ({ projectId, userId }) => {
          try {
            return (
              (await client.find<RestMember>(
                `projects/${projectId}/members/all/${userId}`,
                opts,
              )) ?? null
            );
          } catch (err) {
            return err as Error;
          }
        }),
      ),
    { cacheKeyFn: (k) => `${k.projectId}:${k.userId}` },
  );
  const user: UpstreamLoaders['user'] = new DataLoader(async (keys) =>
    Promise.all(
      keys.map(async (id) => {
        try {
          return (await client.find<RestUser>(`users/${id}`, opts)) ?? null;
        } catch (err) {
          return err as Error;
        }
      }),
    ),
  );
  return { project, group, member, user };
}

/** Ids of the group `namespaceId` and all its ancestors, nearest first. */
export async function groupAncestors(
  loaders: UpstreamLoaders,
  namespaceId: number,
): Promise<number[]> {
  const ids: number[] = [];
  let next: number | null = namespaceId;
  while (next !== null && ids.length < MAX_GROUP_DEPTH) {
    const g: RestGroup | null = await loaders.group.load(next);
    if (!g) break; // a user namespace, or a group the service credential cannot see
    ids.push(g.id);
    next = g.parent_id;
  }
  return ids;
}
