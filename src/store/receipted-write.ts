/**
 * Profile writes whose answer may be lost (`redis-profile-scripts.ts` explains the receipts). A
 * script can run although its answer never arrives: Redis was blocked past the command timeout,
 * or the connection was cut after the script was sent. The write is then settled by its
 * receipt, so the caller learns the truth, or that it is unknown, and never "nothing was
 * changed" about a change that was made.
 */
import { randomBytes } from 'node:crypto';
import { ReplyError } from 'ioredis';
import { policyUnavailableError } from '../errors/codes.js';
import { SETTLE_WRITE } from './redis-profile-scripts.js';
import { askUntilAnswered, evalScript, type RedisConnection } from './redis-client.js';

/** The answer to a write that may have been made: the caller is told not to assume either way. */
export const UNCERTAIN_WRITE_MESSAGE =
  'the permission store stopped answering while the change was being written, so it may have been made: read the allowlist before trying again';

/** A write script's answer for a write settled as not made (its receipt is `void`). */
const VOIDED = -5;

/** One write: a script over a project's profile and version keys. */
export interface ReceiptedWrite {
  readonly script: string;
  /** KEYS[1], KEYS[2]: the profile hash and its version counter. */
  readonly keys: readonly [string, string];
  /** Prefix of the project's receipt keys (`ProjectKeys.receiptPrefix`). */
  readonly receiptPrefix: string;
  readonly args: readonly string[];
  /** The script answers `{version, ...}` rather than a number. */
  readonly table: boolean;
}

/** How patient settling is, and who hears of a write whose outcome stayed unknown. */
export interface SettleOptions {
  /** Longest time spent learning whether a write was made, ms. */
  readonly settleWithinMs: number;
  /** Called with the write's id when neither it nor its settling was answered. */
  readonly onUncertain: (writeId: string) => void;
}

/**
 * Runs `write` with a receipt of its own and returns the script's raw reply. A write settled as
 * made answers what its script would have (the version it made); one settled as not made, or a
 * late copy of one, rejects with its error; one that cannot be settled rejects with
 * POLICY_UNAVAILABLE saying it may have been made.
 */
export async function runReceipted(
  redis: RedisConnection,
  write: ReceiptedWrite,
  options: SettleOptions,
): Promise<unknown> {
  const writeId = randomBytes(12).toString('base64url');
  const receipt = `${write.receiptPrefix}${writeId}`;
  let reply: unknown;
  try {
    reply = await evalScript(redis, write.script, [...write.keys, receipt], write.args);
  } catch (err) {
    // Redis answered with an error (the script did not run, or stopped before its receipt), or
    // the client never sent it: nothing to settle.
    if (err instanceof ReplyError || neverSent(err)) throw err;
    // Commands of one connection run in the order they were sent, so a script that reached
    // Redis has run before its receipt is read.
    const settled = await askUntilAnswered(
      async () => String(await evalScript(redis, SETTLE_WRITE, [receipt], [])),
      options.settleWithinMs,
    );
    if (settled === undefined) {
      try {
        options.onUncertain(writeId);
      } catch {
        // The caller's answer must stay "it may have been made", whatever the hook does.
      }
      throw policyUnavailableError(UNCERTAIN_WRITE_MESSAGE);
    }
    if (settled === 'void') throw err;
    reply = write.table ? [Number(settled)] : Number(settled);
  }
  const code = Number(write.table ? (reply as unknown[])[0] : reply);
  if (code === VOIDED) throw new Error('the write was settled as not made');
  return reply;
}

/**
 * A single node's ioredis refusing a command it could not send (no connection, and no offline
 * queue). The Cluster's "Cluster isn't ready" is not one: ioredis also says it when retrying a
 * command that was already sent, so a Cluster write that failed that way is settled.
 */
function neverSent(err: unknown): boolean {
  return (
    err instanceof Error &&
    err.message === "Stream isn't writeable and enableOfflineQueue options is false"
  );
}
