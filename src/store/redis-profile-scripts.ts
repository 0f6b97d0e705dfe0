/**
 * The Lua scripts of the Redis profile store (`redis-profile-store.ts`), one per kind of write.
 * Each runs atomically on one project's keys: KEYS[1] = the profile hash, KEYS[2] = its version
 * counter, KEYS[3] = the write's receipt (`sg:{p:<id>}:w:<write id>`, see `RECEIPT_TTL_SECONDS`);
 * ARGV[1] = the invalidation channel, ARGV[2] = the project id. Every write ends by incrementing
 * the version, PUBLISHing `<projectId>:<version>` and leaving the version in its receipt.
 *
 * The receipt settles a write whose answer never came (a command timeout, a connection cut after
 * the script was sent): `SETTLE_WRITE` reads it, and when there is none, leaves `void` in it, so
 * the write can no longer happen. A script that finds its receipt does nothing again: it answers
 * the version it made, or -5 when the write was settled as not made.
 */

/** How long a write's receipt is kept, seconds: far longer than any settling takes. */
export const RECEIPT_TTL_SECONDS = 600;

/** A write script's first lines: a write that already ran, or was voided, does nothing again. */
function replay(table: boolean): string {
  const wrap = (v: string) => (table ? `{${v}}` : v);
  return `
local receipt = redis.call('GET', KEYS[3])
if receipt == 'void' then return ${wrap('-5')} end
if receipt then return ${wrap('tonumber(receipt)')} end`;
}

/**
 * Lua that HSETs the field, value pairs of ARGV from `first` on into KEYS[1], 500 pairs per
 * call: `unpack` of more than about 8 000 values fails (LUAI_MAXCSTACK), and the entry limits
 * allow 10 000 entries of each kind, 40 000 values. A script that failed there would keep what
 * it had already done (Redis does not roll a script back), such as the `DEL` of a profile.
 */
function hsetFrom(first: number): string {
  return `for i = ${first}, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end`;
}

// Every write bumps the version and announces it. KEYS[2] = version key, ARGV[1] = channel,
// ARGV[2] = project id; leaves the new version in `v`.
const BUMP = `
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. ':' .. v)`;

// BUMP, then the receipt of the write (KEYS[3]) holds the new version.
const BUMP_RECEIPTED = `${BUMP}
redis.call('SET', KEYS[3], v, 'EX', ${RECEIPT_TTL_SECONDS})`;

// The tail of a write that answers the new version.
const ANNOUNCE = `${BUMP_RECEIPTED}
return v`;

// ARGV[3] = field, ARGV[4] = entry JSON, ARGV[5] = limit, ARGV[6] = default mode,
// ARGV[7] = 'add' | 'update', ARGV[8] = the version the caller read ('' for any). Returns -1
// exists, -2 limit, -3 missing, -4 the profile moved past the expected version, else the version.
export const UPSERT_ENTRY = `${replay(false)}
if ARGV[8] ~= '' and tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[8]) then
  return -4
end
local exists = redis.call('HEXISTS', KEYS[1], ARGV[3])
if ARGV[7] == 'add' then
  if exists == 1 then return -1 end
  local prefix = string.sub(ARGV[3], 1, 4)
  local n = 0
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, 4) == prefix then n = n + 1 end
  end
  if n >= tonumber(ARGV[5]) then return -2 end
elseif exists == 0 then return -3 end
redis.call('HSETNX', KEYS[1], 'enforcement', ARGV[6])
redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
${ANNOUNCE}`;

// ARGV[3] = the version the caller read ('' for any, 'none' for a profile that did not exist),
// ARGV[4] = mode to set ('' to keep), ARGV[5] = default mode, ARGV[6] = project limit,
// ARGV[7] = group limit, ARGV[8..] = field, entry JSON pairs. All or nothing: returns {-4} moved past the expected version, {-1, i} the
// i-th new entry (1-based) exists, {-2, 'P'|'G'} a limit, else {version}.
export const ADD_ENTRIES = `${replay(true)}
if ARGV[3] == 'none' then
  if redis.call('HEXISTS', KEYS[1], 'enforcement') == 1 then return {-4} end
elseif ARGV[3] ~= '' and tonumber(redis.call('GET', KEYS[2]) or '0') ~= tonumber(ARGV[3]) then
  return {-4}
end
local counts = { ['e:P:'] = 0, ['e:G:'] = 0 }
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  local p = string.sub(f, 1, 4)
  if counts[p] then counts[p] = counts[p] + 1 end
end
local adds = { ['e:P:'] = 0, ['e:G:'] = 0 }
for i = 8, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then return {-1, (i - 6) / 2} end
  local p = string.sub(ARGV[i], 1, 4)
  adds[p] = adds[p] + 1
end
if adds['e:P:'] > 0 and counts['e:P:'] + adds['e:P:'] > tonumber(ARGV[6]) then return {-2, 'P'} end
if adds['e:G:'] > 0 and counts['e:G:'] + adds['e:G:'] > tonumber(ARGV[7]) then return {-2, 'G'} end
redis.call('HSETNX', KEYS[1], 'enforcement', ARGV[5])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'enforcement', ARGV[4]) end
${hsetFrom(8)}
${BUMP_RECEIPTED}
return {v}`;

// ARGV[3] = field. Returns -3 when missing.
export const REMOVE_ENTRY = `${replay(false)}
if redis.call('HDEL', KEYS[1], ARGV[3]) == 0 then return -3 end
${ANNOUNCE}`;

// ARGV[3] = mode.
export const SET_ENFORCEMENT = `${replay(false)}
redis.call('HSET', KEYS[1], 'enforcement', ARGV[3])
${ANNOUNCE}`;

// ARGV[3..] = field, value pairs of the whole new profile.
export const PUT_PROFILE = `${replay(false)}
redis.call('DEL', KEYS[1])
${hsetFrom(3)}
${ANNOUNCE}`;

// KEYS[3] = staged hash (absent: the import has no profile for this project).
export const SWAP_STAGED = `
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[1])
  redis.call('PERSIST', KEYS[1])
elseif redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
${BUMP}
return v`;

// KEYS[1] = a write's receipt. Answers the version the write made, or 'void' after making sure
// it never will: the receipt is left 'void', which the write script refuses (-5).
export const SETTLE_WRITE = `
local receipt = redis.call('GET', KEYS[1])
if receipt then return receipt end
redis.call('SET', KEYS[1], 'void', 'EX', ${RECEIPT_TTL_SECONDS})
return 'void'`;
