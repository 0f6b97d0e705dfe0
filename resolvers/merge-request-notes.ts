/**
 * Merge requests and their notes: `Project.mergeRequest`, `MergeRequest.notes`,
 * `mergeRequestNoteCreate`. The iid is always resolved inside the target project. Note bodies
 * that the forge would run as quick actions are refused (see `quick-actions.ts`).
 */
import type { Owned } from '../directives/requires-job-token-permission.js';
import { badUserInputError } from '../src/errors/codes.js';
import { ROLES } from '../src/policy/types.js';
import type { GatewayContext } from '../src/server/context.js';
import { paginate, type ConnectionArgs } from '../src/upstream/pagination.js';
import type { RestMergeRequest, RestNote } from '../src/upstream/types.js';
import { mutationTarget, toMergeRequest, toNote } from './models.js';
import { findQuickActionLine } from './quick-actions.js';

/** Largest note body accepted, in characters (the forge's own limit is 1 000 000). */
const MAX_NOTE_LENGTH = 1_000_000;

function parseIid(iid: string): number | undefined {
  return /^\d{1,9}$/.test(iid) ? Number(iid) : undefined;
}

/**
 * Refuses a note body the forge would run quick actions from: they would run as the
 * gateway's service account. Names the line, never echoes it (a body may hold anything).
 */
function refuseQuickActions(body: string): void {
  const line = findQuickActionLine(body);
  if (line === undefined) return;
  throw badUserInputError(
    `"body" line ${line} would run a forge quick action (a line starting with "/" and a letter); ` +
      'quick actions are not allowed through the gateway. To show one as text, put it inside a ``` code block',
    { line },
  );
}

/**
 * Whether the caller may see the target's internal notes. The gateway reads notes with its
 * service credential, which sees them all; the forge shows an internal note only to members
 * with Reporter or more, so only the caller's own role counts (never the public floor or an
 * allowlist entry). The field's guard has already loaded the decision; without it, no.
 */
function seesInternalNotes(ctx: GatewayContext, projectId: number): boolean {
  return (ctx.authz.peek(projectId)?.roleAccessLevel ?? 0) >= ROLES.REPORTER;
}

/** Whether the forge marks a note internal (`internal`, or its older name `confidential`). */
export const isInternalNote = (n: RestNote): boolean =>
  n.internal === true || n.confidential === true;

/** Resolvers of the merge request notes domain. */
export const mergeRequestNoteResolvers = {
  Project: {
    mergeRequest: async (p: Owned, { iid }: { iid: string }, ctx: GatewayContext) => {
      const n = parseIid(iid);
      if (n === undefined) return null;
      const mr = await ctx.upstream.find<RestMergeRequest>(
        `projects/${p.ownerProjectId}/merge_requests/${n}`,
        ctx.callOptions,
      );
      return mr ? toMergeRequest(p.ownerProjectId, mr) : null;
    },
  },
  MergeRequest: {
    notes: (m: Owned & { mergeRequestIid: number }, args: ConnectionArgs, ctx: GatewayContext) => {
      const internalToo = seesInternalNotes(ctx, m.ownerProjectId);
      return paginate(
        args,
        (page, perPage) =>
          ctx.upstream.list<RestNote>(
            `projects/${m.ownerProjectId}/merge_requests/${m.mergeRequestIid}/notes`,
            { page, per_page: perPage, sort: 'asc', order_by: 'created_at' },
            ctx.callOptions,
          ),
        (n) => toNote(m.ownerProjectId, n),
        { keep: internalToo ? undefined : (n) => !isInternalNote(n), cursors: ctx.cursors },
      );
    },
  },
  Mutation: {
    mergeRequestNoteCreate: async (
      _: unknown,
      { input }: { input: { projectPath: string; iid: string; body: string } },
      ctx: GatewayContext,
    ) => {
      const iid = parseIid(input.iid);
      if (iid === undefined) throw badUserInputError('"iid" must be a merge request iid');
      if (input.body.trim().length === 0 || input.body.length > MAX_NOTE_LENGTH) {
        throw badUserInputError(`"body" must be 1 to ${MAX_NOTE_LENGTH} characters`);
      }
      refuseQuickActions(input.body);
      const id = await mutationTarget(ctx, input.projectPath);
      const opts = { ...ctx.callOptions, what: `merge request !${iid}` };
      await ctx.upstream.get<RestMergeRequest>(
        `projects/${id}/merge_requests/${iid}`,
        undefined,
        opts,
      );
      const note = await ctx.upstream.send<RestNote>(
        'POST',
        `projects/${id}/merge_requests/${iid}/notes`,
        { body: input.body },
        opts,
      );
      return { note: note ? toNote(id, note) : null, errors: [] };
    },
  },
};
