/**
 * Container registry: `Project.containerRepositories`, `ContainerRepository.tags` and
 * `containerRepositoryTagsDelete`. A repository id from the input is only ever looked up
 * among the repositories of `input.projectPath`, so the service credential cannot be steered
 * at another project's registry.
 */
import type { Owned } from '../directives/requires-job-token-permission.js';
import { badUserInputError, GatewayError, notFoundError } from '../src/errors/codes.js';
import type { GatewayContext } from '../src/server/context.js';
import { paginate, walkForgePages, type ConnectionArgs } from '../src/upstream/pagination.js';
import type { RestContainerRepository, RestContainerTag } from '../src/upstream/types.js';
import { mutationTarget, seg, toContainerRepository, toContainerTag } from './models.js';

/** The forge deletes at most this many tags per call; so do we. */
const MAX_TAGS_PER_DELETE = 20;
/** Pages of repositories scanned to find an id inside a project (100 per page). */
const MAX_REPOSITORY_PAGES = 50;

function parseRepositoryId(raw: string): number {
  const m = /^(?:gid:\/\/gitlab\/ContainerRepository\/)?(\d{1,12})$/.exec(raw);
  if (!m) throw badUserInputError('"id" must be a container repository id');
  return Number(m[1]);
}

async function findRepositoryInProject(
  ctx: GatewayContext,
  projectId: number,
  repositoryId: number,
): Promise<RestContainerRepository> {
  let hit: RestContainerRepository | undefined;
  await walkForgePages<RestContainerRepository>(
    ctx.upstream,
    `projects/${projectId}/registry/repositories`,
    ctx.callOptions,
    MAX_REPOSITORY_PAGES,
    (items) => (hit = items.find((r) => r.id === repositoryId)) !== undefined,
  );
  if (hit) return hit;
  throw notFoundError('the container repository was not found in this project');
}

/** Resolvers of the container registry domain. */
export const containerResolvers = {
  Project: {
    containerRepositories: (p: Owned, args: ConnectionArgs, ctx: GatewayContext) =>
      paginate(
        args,
        (page, perPage) =>
          ctx.upstream.list<RestContainerRepository>(
            `projects/${p.ownerProjectId}/registry/repositories`,
            { page, per_page: perPage },
            ctx.callOptions,
          ),
        (r) => toContainerRepository(p.ownerProjectId, r),
        { cursors: ctx.cursors },
      ),
  },
  ContainerRepository: {
    tags: (r: Owned & { repositoryId: number }, args: ConnectionArgs, ctx: GatewayContext) =>
      paginate(
        args,
        (page, perPage) =>
          ctx.upstream.list<RestContainerTag>(
            `projects/${r.ownerProjectId}/registry/repositories/${r.repositoryId}/tags`,
            { page, per_page: perPage },
            ctx.callOptions,
          ),
        (t) => toContainerTag(r.ownerProjectId, t),
        { cursors: ctx.cursors },
      ),
  },
  Mutation: {
    containerRepositoryTagsDelete: async (
      _: unknown,
      { input }: { input: { projectPath: string; id: string; tagNames: string[] } },
      ctx: GatewayContext,
    ) => {
      const repositoryId = parseRepositoryId(input.id);
      const names = [...new Set(input.tagNames)];
      if (names.length === 0 || names.length > MAX_TAGS_PER_DELETE) {
        throw badUserInputError(`"tagNames" must list 1 to ${MAX_TAGS_PER_DELETE} tags`);
      }
      const projectId = await mutationTarget(ctx, input.projectPath);
      const repo = await findRepositoryInProject(ctx, projectId, repositoryId);
      const base = `projects/${projectId}/registry/repositories/${repo.id}/tags`;
      // Check every tag exists before deleting any, so a typo deletes nothing.
      const found = await Promise.all(
        names.map((n) => ctx.upstream.find<RestContainerTag>(`${base}/${seg(n)}`, ctx.callOptions)),
      );
      const missing = names.filter((_, i) => found[i] === undefined);
      if (missing.length > 0) {
        throw notFoundError(
          `container image tags not found: ${missing.slice(0, 5).join(', ')}; nothing was deleted`,
        );
      }
      // One DELETE per tag, in order. When the forge fails part-way, the tags already deleted
      // are gone: say which ones, and which were not attempted, instead of one bare error that
      // would hide what was written. A failure before any deletion is the request's error.
      const deleted: string[] = [];
      for (const n of names) {
        try {
          await ctx.upstream.send('DELETE', `${base}/${seg(n)}`, undefined, {
            ...ctx.callOptions,
            what: `tag "${n}"`,
          });
        } catch (err) {
          if (deleted.length === 0) throw err;
          const code =
            err instanceof GatewayError ? String(err.extensions['code']) : 'INTERNAL_SERVER_ERROR';
          const rest = names.slice(deleted.length + 1);
          return {
            deletedTagNames: deleted,
            errors: [
              `tag "${n}" could not be deleted (${code}); stopped there` +
                (rest.length > 0 ? `, not attempted: ${rest.join(', ')}` : ''),
            ],
          };
        }
        deleted.push(n);
      }
      return { deletedTagNames: deleted, errors: [] };
    },
  },
};
