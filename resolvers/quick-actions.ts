/**
 * Quick actions in note bodies. The forge runs quick actions (`/merge`, `/approve`, `/close`,
 * `/label ~x`, `/assign @u`, ...) in notes created through its API, as the note's author. The
 * gateway posts notes with its own service credential, so a quick action would run with the
 * service account's rights, far beyond the MERGE_REQUEST_NOTES WRITE the job was checked for.
 * Note writes therefore refuse any body with a line the forge could run as one.
 *
 * What counts is taken from the forge's own extractor (GitLab's
 * `Gitlab::QuickActions::Extractor`): after deleting every `\r`, it scans line starts for, in
 * this order, a code block (a line starting with three backticks up to the next line that is
 * exactly three backticks, with at least one character in between), inline code, an HTML
 * block, a `>>>` quote, and finally a command: `/` and a known command name at column 0, in
 * any case. Anything not matched as a block is open to commands.
 *
 * The rule here is deliberately wider than the forge's, never narrower:
 * - a command is `/` and any letter, after up to three spaces (four or a tab make an indented
 *   code block, which neither the forge nor Markdown reads as a command);
 * - only backtick fences at column 0, closed by a line that is exactly three backticks, hide
 *   their lines. `~~~` fences do NOT: the forge's extractor does not know them, so `/merge`
 *   inside one would run. An unclosed fence hides nothing (the forge's code block needs its
 *   closing line);
 * - fences hide nothing at all when the body has a line that may start one of the forge's
 *   other blocks (`<`, `>>>`) or an empty fence: those can make the forge pair fences
 *   differently, and a line this code thinks is inside a fence could then run;
 * - the body is checked three ways, with `\r` deleted (the forge), kept (older forges) and
 *   read as a line break (other Markdown readers), and refused if any of them finds one.
 *
 * Linear in the body's length: the body may be 1 000 000 characters.
 */

const FENCE = '```';
const COMMAND_LINE = /^ {0,3}\/\p{L}/u;

/** The 1-based number of the first line of `lines` open to commands, or `undefined`. */
function firstCommandLine(lines: readonly string[]): number | undefined {
  const n = lines.length;
  let fencesHide = true;
  for (let i = 0; i < n; i++) {
    const line = lines[i] as string;
    if (line.startsWith('<') || line.startsWith('>>>')) fencesHide = false;
    if (line === FENCE && lines[i + 1] === FENCE) fencesHide = false;
  }
  // For each line, the index of the first line at or after it that is exactly a fence (or
  // `n`), so every opening line finds its closing line in constant time.
  const nextClose = new Int32Array(n + 1).fill(n);
  for (let i = n - 1; i >= 0; i--) nextClose[i] = lines[i] === FENCE ? i : (nextClose[i + 1] ?? n);
  for (let i = 0; i < n; i++) {
    const line = lines[i] as string;
    if (fencesHide && line.startsWith(FENCE)) {
      const close = nextClose[i + 1] ?? n;
      if (close < n) {
        i = close; // lines i+1 .. close-1 are inside the fence; the loop moves past `close`
        continue;
      }
    }
    if (COMMAND_LINE.test(line)) return i + 1;
  }
  return undefined;
}

/**
 * The 1-based number of the first line of `body` the forge could run as a quick action, or
 * `undefined` when there is none. See the module comment for the exact rule.
 */
export function findQuickActionLine(body: string): number | undefined {
  const readings = body.includes('\r')
    ? [body.replaceAll('\r', ''), body, body.replace(/\r\n?/g, '\n')]
    : [body];
  for (const text of readings) {
    const found = firstCommandLine(text.split('\n'));
    if (found !== undefined) return found;
  }
  return undefined;
}
