/**
 * How the decision cache's Redis layer stores and reads a decision (see `decision-cache.ts`):
 * the value format of a hash field, the time bucket of the hash, and the read script that
 * fetches version, decision, role and (when needed) profile of a list of targets in one call.
 */
import { decodePermissionSet, encodePermissionSet } from '../policy/codec.js';
import type { JobTokenProfile, PermissionSet } from '../policy/types.js';
import { scriptSha } from '../store/redis-client.js';
import { profileFromHash } from '../store/redis-profile-store.js';

/** What Redis holds for one target. */
export interface ReadResult {
  readonly version: number;
  /** The cached decision (undecodable counts as absent). */
  readonly set: PermissionSet | undefined;
  /** Cached forge access level, when asked for and present. */
  readonly role: number | undefined;
  /** Remaining life of the cached role, ms (when present). */
  readonly roleTtlMs: number | undefined;
  /**
   * The profile, read only when the decision is absent or expired (or the role it needs is
   * absent); `undefined` also when the project has none.
   */
  readonly profile: JobTokenProfile | undefined;
  /**
   * Whether `profile` was read. `false` with no usable `set` means a stored decision that was
   * not expired but could not be used (malformed, another project's): the caller must read the
   * profile itself rather than decide as if the project had none.
   */
  readonly profileRead: boolean;
}

// Reads the decisions of several targets in one call: one script call per batch instead of
// one per target (a cold W2 request reads 20; per call, ioredis's command building and reply
// parsing cost about 120 K instructions, bench/NOTES.md round 18).
// KEYS, four per target: version, profile, decision prefix, role key. ARGV: the time bucket,
// the bucket before it (a decision written just before a bucket ended is still found just
// after, rather than every decision missing at once at each boundary), the reader's clock in
// ms, then two per target: its principal key and '1' to read the role. Every target's keys
// carry its project's hash tag; on a Cluster a call holds the targets of one project only, so
// all of a call's keys live in one slot. The decision hash's name is built here from the
// version just read. A target's profile is read whenever its decision will have to be
// computed again: none stored, or one past its own expiry (a decision bounded by an earlier
// token's `exp` outlives that token in its hash), or no role. Its reply is `nil` when it was
// not read, so the caller can tell "not read" from "no profile". The reply: one
// `{version, decision, role, role pttl, profile}` per target, in order.
export const READ_SCRIPT = `
local out = {}
for i = 1, #KEYS / 4 do
  local k = (i - 1) * 4
  local principal = ARGV[2 * i + 2]
  local wantsRole = ARGV[2 * i + 3] == '1'
  local v = redis.call('GET', KEYS[k + 1]) or '0'
  local d = redis.call('HGET', KEYS[k + 3] .. v .. ':' .. ARGV[1], principal)
  if not d then d = redis.call('HGET', KEYS[k + 3] .. v .. ':' .. ARGV[2], principal) end
  local usable = false
  if d then
    local bar = string.find(d, '|', 1, true)
    local exp = bar and tonumber(string.sub(d, 1, bar - 1), 36)
    usable = exp ~= nil and exp > tonumber(ARGV[3])
  end
  local role = false
  local pttl = -2
  if wantsRole then
    role = redis.call('GET', KEYS[k + 4])
    pttl = redis.call('PTTL', KEYS[k + 4])
  end
  local profile = false
  if not usable or (wantsRole and not role) then profile = redis.call('HGETALL', KEYS[k + 2]) end
  out[i] = {v, d, role, pttl, profile}
end
return out`;
export const READ_SHA = scriptSha(READ_SCRIPT);

export type ReadReply = [string, string | null, string | null, number, string[] | null];

/** A decision as stored in its hash field: its own expiry, then the encoded set. */
export function encodeStoredDecision(set: PermissionSet, expiresAtMs: number): string {
  return `${Math.floor(expiresAtMs).toString(36)}|${encodePermissionSet(set)}`;
}

/** A stored decision split at its `|`: the expiry and where the encoded set starts. */
function splitStored(raw: string): { expiresAt: number; setAt: number } | undefined {
  const bar = raw.indexOf('|');
  const expiresAt = bar <= 0 ? NaN : parseInt(raw.slice(0, bar), 36);
  return Number.isSafeInteger(expiresAt) ? { expiresAt, setAt: bar + 1 } : undefined;
}

/** The expiry a stored decision carries, ms since the epoch; `undefined` when malformed. */
export function storedDecisionExpiry(raw: string): number | undefined {
  return splitStored(raw)?.expiresAt;
}

/** The set of a stored decision, or `undefined` when it expired, is malformed or is another project's. */
export function decodeStoredDecision(
  raw: string,
  projectId: number,
  nowMs: number,
): PermissionSet | undefined {
  const stored = splitStored(raw);
  if (stored === undefined || stored.expiresAt <= nowMs) return undefined;
  try {
    const set = decodePermissionSet(raw.slice(stored.setAt));
    return set.targetProjectId === projectId ? set : undefined;
  } catch {
    return undefined;
  }
}

/** The time bucket of the decision hashes at `nowMs`. */
export function bucketOf(nowMs: number, ttlMs: number): number {
  return Math.floor(nowMs / ttlMs);
}

/**
 * What the read script answered for target `projectId` (its element of a call's list), read
 * at `nowMs`.
 */
export function parseReply(projectId: number, reply: ReadReply, nowMs: number): ReadResult {
  const [v, d, role, pttl, flat] = reply;
  const set = d === null ? undefined : decodeStoredDecision(d, projectId, nowMs);
  const version = Number(v);
  const hash: Record<string, string> = {};
  if (flat !== null)
    for (let k = 0; k + 1 < flat.length; k += 2) hash[flat[k] as string] = flat[k + 1] as string;
  const level = role === null ? undefined : Number(role);
  return {
    version,
    set,
    role: level !== undefined && Number.isFinite(level) ? level : undefined,
    roleTtlMs: level !== undefined && pttl > 0 ? pttl : undefined,
    profile: flat === null ? undefined : profileFromHash(projectId, hash, version),
    profileRead: flat !== null,
  };
}
