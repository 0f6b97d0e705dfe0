/**
 * Notes are posted with the gateway's service credential, and the forge runs quick actions
 * (`/merge`, `/approve`, `/close`, ...) in notes created through its API: a job allowed only to
 * comment could merge, approve or close as the service account. A body with a line the forge
 * would run as a quick action is refused with BAD_USER_INPUT before any upstream call.
 *
 * Unit tests of the pure line finder, then the mutation end to end over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findQuickActionLine } from '../../resolvers/quick-actions.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

const FENCE = '```';

describe('findQuickActionLine', () => {
  it.each([
    ['a command alone', '/merge', 1],
    ['a command with arguments', '/label ~bug ~"needs review"', 1],
    ['a command in capitals (the forge ignores case)', '/MERGE', 1],
    ['a command indented by up to three spaces', '   /approve', 1],
    ['a command on a later line', 'text\n/close', 2],
    ['a command after CRLF line ends', 'ok\r\n\r\n/close\r\n', 3],
    ['a command after a fence that is never closed', `${FENCE}\n/merge`, 2],
    ['a command inside a ~~~ fence (the forge only skips backtick fences)', '~~~\n/merge\n~~~', 2],
    ['a command inside an indented backtick fence', ` ${FENCE}\n/merge\n ${FENCE}`, 2],
    [
      'a command after a fence closed by a line that is not exactly ```',
      `${FENCE}\nx\n${FENCE} \n/merge`,
      4,
    ],
    [
      'a command after a lone CR read as a line break',
      `${FENCE}\nx\n${FENCE}\r/merge\n${FENCE}`,
      4,
    ],
    [
      'a command in a fence when an HTML block could end inside it',
      `<div>\n${FENCE}\n</div>\n/merge\n${FENCE}`,
      4,
    ],
    [
      'a command in a fence when a >>> quote could end inside it',
      `>>>\n${FENCE}\n>>>\n/merge\n${FENCE}`,
      4,
    ],
    ['a command after an empty fence', `${FENCE}\n${FENCE}\n/merge\nx\n${FENCE}`, 3],
  ])('finds %s', (_, body, line) => {
    expect(findQuickActionLine(body)).toBe(line);
  });

  it.each([
    ['a slash in the middle of a line', 'see /usr/bin for the tools'],
    [
      'a command inside a closed backtick fence',
      `Run this:\n${FENCE}sh\n/merge\n/approve\n${FENCE}\ndone`,
    ],
    [
      'a command in the second of two fences',
      `${FENCE}\na\n${FENCE}\ntext\n${FENCE}\n/close\n${FENCE}`,
    ],
    ['a line starting with //', '// comment'],
    ['a lone slash', 'a\n/\nb'],
    ['a slash followed by a space or a digit', '/ merge\n/42'],
    ['a line indented by four spaces (an indented code block)', '    /merge'],
    ['a line indented by a tab', '\t/merge'],
    ['plain text', 'LGTM from CI'],
  ])('accepts %s', (_, body) => {
    expect(findQuickActionLine(body)).toBeUndefined();
  });

  it('stays linear on a large body of fence lines', () => {
    const body = `${FENCE}x\n`.repeat(200_000);
    const started = performance.now();
    expect(findQuickActionLine(body)).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

const WEB = 'acme/apps/web';
const WEB_ID = 102;
const NOTE_CREATE = `mutation($body: String!) { mergeRequestNoteCreate(input: { projectPath: "${WEB}", iid: "1", body: $body }) { note { body } errors } }`;

describe('mergeRequestNoteCreate and quick actions', () => {
  let t: TestGateway;
  let token: string;
  beforeAll(async () => {
    t = await createTestGateway();
    // A job in the project itself, by a Maintainer: every write is allowed.
    token = await t.jobToken(WEB, 'bob');
  });
  afterAll(async () => t.close());

  const noteBodies = () => t.upstream.store.notes(WEB_ID, 1).map((n) => n.body);

  it.each([
    ['/merge', 1],
    ['  /approve', 1],
    ['text\n/close', 2],
    ['Deploy done.\n/label ~deployed\n/assign @bob', 2],
  ])(
    'refuses %j with BAD_USER_INPUT naming line %i, calling nothing upstream',
    async (body, line) => {
      const before = noteBodies();
      t.upstream.clearRequests();

      const res = await t.gql(NOTE_CREATE, { body }, { token });

      expect(res.status).toBe(200);
      expect(res.body.data).toEqual({ mergeRequestNoteCreate: null });
      const err = res.body.errors?.[0];
      expect(err?.path).toEqual(['mergeRequestNoteCreate']);
      expect(err?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(err?.extensions?.['line']).toBe(line);
      expect(err?.message).toBe(
        `"body" line ${line} would run a forge quick action (a line starting with "/" and a letter); ` +
          'quick actions are not allowed through the gateway. To show one as text, put it inside a ``` code block',
      );
      // The directive's project and role lookups may reach the forge; nothing about the
      // merge request does, and nothing is written.
      expect(t.upstream.writes()).toEqual([]);
      expect(t.upstream.requests.filter((r) => r.path.includes('/merge_requests'))).toEqual([]);
      expect(noteBodies()).toEqual(before);
    },
  );

  it.each([
    'see /usr/bin mid-line',
    `To merge, a maintainer types:\n${FENCE}\n/merge\n${FENCE}`,
    '// not a command',
    '/',
  ])('posts %j as a note', async (body) => {
    const res = await t.gql<{ mergeRequestNoteCreate: { note: { body: string } } }>(
      NOTE_CREATE,
      { body },
      { token },
    );

    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.mergeRequestNoteCreate.note.body).toBe(body);
    expect(noteBodies()).toContain(body);
  });
});
