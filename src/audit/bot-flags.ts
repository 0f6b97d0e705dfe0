/**
 * Whether a forge user is a bot (`GET /users/:id`), for the authorization log's usage records:
 * cached per user for a while, and for a bounded number of users (a large installation sees
 * many over a gateway's life). A failed look-up answers "unknown" and is not cached.
 */
import { LRUCache } from 'lru-cache';

/** Options of {@link createBotFlags}. */
export interface BotFlagsOptions {
  /** Absent: every user is unknown (`null`). */
  readonly lookupUser?: (userId: number) => Promise<{ readonly bot?: boolean | undefined } | null>;
  /** How long a flag is cached, ms. */
  readonly ttlMs: number;
  /** Most flags cached (the least recently used go first). */
  readonly max: number;
  /** Clock, ms. */
  readonly now: () => number;
}

/** The cached look-up: `true`, `false`, or `null` when unknown. */
export function createBotFlags(
  options: BotFlagsOptions,
): (userId: number) => Promise<boolean | null> {
  const { lookupUser, ttlMs, now } = options;
  const cached = new LRUCache<number, { bot: boolean | null; until: number }>({ max: options.max });
  return async (userId) => {
    const hit = cached.get(userId);
    if (hit && hit.until > now()) return hit.bot;
    let bot: boolean | null = null;
    if (lookupUser) {
      try {
        const u = await lookupUser(userId);
        bot = u ? u.bot === true : null;
      } catch {
        return null; // unknown this time; asked again on the next flush
      }
    }
    cached.set(userId, { bot, until: now() + ttlMs });
    return bot;
  };
}
