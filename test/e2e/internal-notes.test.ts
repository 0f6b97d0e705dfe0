/**
 * Internal merge request notes. The gateway reads notes with its service credential, which sees
 * every note; the forge shows an internal note only to members with Reporter or more. So the
 * gateway shows one only when the caller's own role on the target is Reporter or more, never
 * because of the public floor or an allowlist entry (found by an adversarial review).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeedFile, type DemoSeed } from '../../src/demo/seed.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

// Internal project with merge requests enabled: any signed-in caller reads its notes by the
// public floor. mallory is a Developer of it; alice and bob are not members.
const SHARED = 'globex/shared-ci';
const NOTES = `query($after: String) { project(fullPath: "${SHARED}") {
  jobTokenPermissions { resource level reason }
  mergeRequest(iid: "1") { notes(first: 2, after: $after) {
    nodes { body } pageInfo { hasNextPage endCursor } } } } }`;

interface NotesData {
  project: {
    jobTokenPermissions: { resource: string; level: string; reason: string }[];
    mergeRequest: {
      notes: { nodes: { body: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string } };
    } | null;
  } | null;
}

describe('internal merge request notes', () => {
  let t: TestGateway;
  beforeAll(async () => {
    const base = loadSeedFile(SCENARIOS_PATH);
    const seed: DemoSeed = {
      ...base,
      mergeRequests: {
        [SHARED]: [
          {
            iid: 1,
            title: 'Shared CI change',
            notes: [
              { body: 'public 1' },
              { body: 'internal: the deploy key is rotated tonight', internal: true },
              { body: 'internal 2', internal: true },
              { body: 'public 2' },
            ],
          },
        ],
      },
    };
    t = await createTestGateway({ seed });
  });
  afterAll(async () => t.close());

  /** Every note body the caller sees, walking the pages with endCursor. */
  async function allNotes(token: string | undefined): Promise<string[]> {
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const res: GqlResponse<NotesData> = await t.gql<NotesData>(
        NOTES,
        { after },
        token ? { token } : {},
      );
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      const notes = res.body.data?.project?.mergeRequest?.notes;
      if (!notes) throw new Error('no notes connection');
      seen.push(...notes.nodes.map((n) => n.body));
      if (!notes.pageInfo.hasNextPage) return seen;
      after = notes.pageInfo.endCursor;
    }
    throw new Error('too many pages');
  }

  it('hides them from a job that reads notes only by the public floor', async () => {
    const token = await t.jobToken('acme/apps/web', 'alice');
    const res = await t.gql<NotesData>(NOTES, {}, { token });
    expect(
      res.body.data?.project?.jobTokenPermissions.find((p) => p.resource === 'MERGE_REQUEST_NOTES'),
    ).toMatchObject({ level: 'READ', reason: 'PUBLIC_FEATURE' });
    // The window is filled past the internal notes, and its cursors (sealed) show no gap.
    expect(res.body.data?.project?.mergeRequest?.notes.nodes).toEqual([
      { body: 'public 1' },
      { body: 'public 2' },
    ]);
    expect(res.body.data?.project?.mergeRequest?.notes.pageInfo.hasNextPage).toBe(false);
    expect(await allNotes(token)).toEqual(['public 1', 'public 2']);
    expect(JSON.stringify(res.body)).not.toContain('deploy key');
  });

  it('hides them from a person who is not a member', async () => {
    expect(await allNotes(await t.userToken('bob'))).toEqual(['public 1', 'public 2']);
  });

  it("keeps them from a non-member whose read shared one forge call with a member's", async () => {
    // One notes page for both: sent together, both requests arrive before either makes its
    // call, and the call stays on its way (late) long enough for the second to join the first's
    // (src/upstream/shared-reads.ts). What each sees is still decided by its own role.
    const member = await t.jobToken('globex/portal', 'mallory');
    const outsider = await t.jobToken('acme/apps/web', 'alice');
    t.upstream.clearRequests();
    t.upstream.injectFault({
      method: 'GET',
      path: /\/merge_requests\/1\/notes$/,
      kind: 'late',
      delayMs: 300,
      times: 1,
    });
    const [m, o] = await Promise.all([
      t.gql<NotesData>(NOTES, {}, { token: member }),
      t.gql<NotesData>(NOTES, {}, { token: outsider }),
    ]);
    t.upstream.clearFaults();
    const notesCalls = t.upstream.requests.filter((r) =>
      /\/merge_requests\/1\/notes\?/.test(r.path),
    );
    // The first page once, for both; the outsider alone reads on past the internal notes.
    expect(notesCalls.map((r) => new URL(r.path, 'http://forge').searchParams.get('page'))).toEqual(
      ['1', '2'],
    );
    expect(m.body.data?.project?.mergeRequest?.notes.nodes.map((n) => n.body)).toEqual([
      'public 1',
      'internal: the deploy key is rotated tonight',
    ]);
    expect(o.body.data?.project?.mergeRequest?.notes.nodes.map((n) => n.body)).toEqual([
      'public 1',
      'public 2',
    ]);
    expect(o.text).not.toContain('deploy key');
  });

  it('shows them to a job whose user is a member with Reporter or more', async () => {
    const token = await t.jobToken('globex/portal', 'mallory');
    expect(await allNotes(token)).toEqual([
      'public 1',
      'internal: the deploy key is rotated tonight',
      'internal 2',
      'public 2',
    ]);
  });
});
