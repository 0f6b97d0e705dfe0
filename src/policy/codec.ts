/**
 * A compact, versioned string form of a {@link PermissionSet} for the decision cache (Redis):
 * a JSON array, about 30 bytes without a matched entry and 60–90 with one.
 *
 *     [1, targetId, "WD0WD0Nf0Wa1", kind, mode, [kind, sourceId, flags, sourcePath]?]
 *
 * Each resource (in `RESOURCES` order) is three characters: level, reason letter, would-deny.
 * The letters are a fixed table, not indexes, so adding a reason never misreads old entries.
 * A string that does not decode cleanly throws; callers treat that as a cache miss.
 */
import {
  RESOURCES,
  type JobTokenAccessLevel,
  type JobTokenEnforcement,
  type MatchedEntry,
  type PermissionSet,
  type ReasonCode,
  type ResourceDecision,
} from './types.js';

const FORMAT = 1;

const LEVEL_LETTER: Readonly<Record<JobTokenAccessLevel, string>> = {
  NONE: 'N',
  READ: 'R',
  WRITE: 'W',
};

const REASON_LETTER: Readonly<Record<ReasonCode, string>> = {
  FEATURE_DISABLED: 'f',
  PUBLIC_FEATURE: 'p',
  SAME_PROJECT: 's',
  ENFORCEMENT_DISABLED: 'd',
  AUDIT_WOULD_DENY: 'a',
  DEFAULT_PERMISSIONS: 'D',
  ENTRY_GRANTS: 'e',
  PROJECT_IDENTITY: 'i',
  NOT_IN_ALLOWLIST: 'n',
  UNPROTECTED_REF: 'u',
  ENTRY_LEVEL_TOO_LOW: 'l',
  JOB_SCOPE: 'j',
  ROLE_TOO_LOW: 'r',
  USER_ROLE: 'U',
  ANONYMOUS: 'A',
};

const KIND_LETTER = { job: 'j', user: 'u', anonymous: 'a' } as const;
type PrincipalKind = keyof typeof KIND_LETTER;

const MODE_LETTER: Readonly<Record<JobTokenEnforcement, string>> = {
  ENFORCED: 'E',
  AUDIT: 'A',
  DISABLED: 'D',
};

function invert<K extends string>(table: Readonly<Record<K, string>>): ReadonlyMap<string, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as string, k as K]));
}

const LEVEL_OF = invert(LEVEL_LETTER);
const REASON_OF = invert(REASON_LETTER);
const KIND_OF = invert<PrincipalKind>(KIND_LETTER);
const MODE_OF = invert(MODE_LETTER);

/** Encodes a permission set for the cache; {@link decodePermissionSet} reverses it. */
export function encodePermissionSet(set: PermissionSet): string {
  const resources = RESOURCES.map((r) => {
    const d = set.resources[r];
    return `${LEVEL_LETTER[d.level]}${REASON_LETTER[d.reason]}${d.auditWouldDeny ? '1' : '0'}`;
  }).join('');
  const kind = set.principalKind === undefined ? '' : KIND_LETTER[set.principalKind];
  const mode = set.enforcement === undefined ? '' : MODE_LETTER[set.enforcement];
  const fields: unknown[] = [FORMAT, set.targetProjectId, resources, kind, mode];
  const e = set.matchedEntry;
  if (e !== undefined) {
    const flags = [e.defaultPermissions, e.boundToUserRole, e.protectedRefsOnly]
      .map((b) => (b ? '1' : '0'))
      .join('');
    fields.push([e.sourceKind === 'PROJECT' ? 'P' : 'G', e.sourceId, flags, e.sourcePath]);
  }
  return JSON.stringify(fields);
}

function fail(why: string): never {
  throw new Error(`cannot decode permission set: ${why}`);
}

function lookup<V>(map: ReadonlyMap<string, V>, letter: string | undefined, what: string): V {
  const value = letter === undefined ? undefined : map.get(letter);
  return value === undefined ? fail(`bad ${what}`) : value;
}

/** Whether `flags` is exactly three `0`/`1` characters. */
function isFlags(flags: unknown): flags is string {
  if (typeof flags !== 'string' || flags.length !== 3) return false;
  for (let i = 0; i < 3; i++) {
    const c = flags.charCodeAt(i);
    if (c !== 48 && c !== 49) return false;
  }
  return true;
}

function decodeEntry(raw: unknown): MatchedEntry {
  if (!Array.isArray(raw) || raw.length !== 4) fail('bad entry');
  const [kind, sourceId, flags, sourcePath] = raw as unknown[];
  if (kind !== 'P' && kind !== 'G') fail('bad entry kind');
  if (!Number.isSafeInteger(sourceId) || typeof sourcePath !== 'string') fail('bad entry source');
  if (!isFlags(flags)) fail('bad entry flags');
  return {
    sourceId: sourceId as number,
    sourceKind: kind === 'P' ? 'PROJECT' : 'GROUP',
    sourcePath,
    defaultPermissions: flags[0] === '1',
    boundToUserRole: flags[1] === '1',
    protectedRefsOnly: flags[2] === '1',
  };
}

/** Resource `i`'s three letters of `letters` (level, reason, would-deny flag). */
function decodeResource(letters: string, i: number): ResourceDecision {
  const flag = letters[i * 3 + 2];
  if (flag !== '0' && flag !== '1') fail('bad would-deny flag');
  return {
    level: lookup(LEVEL_OF, letters[i * 3], 'level'),
    reason: lookup(REASON_OF, letters[i * 3 + 1], 'reason'),
    auditWouldDeny: flag === '1',
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Decodes what {@link encodePermissionSet} wrote. A cold request decodes one set per target it
 * reads from Redis, so this builds each object once, with no closure, spread or regular
 * expression (3.5 µs a set before, bench/NOTES.md round 19).
 * @throws Error when the string is not a permission set of this format (treat as a miss).
 */
export function decodePermissionSet(encoded: string): PermissionSet {
  let raw: unknown;
  try {
    raw = JSON.parse(encoded);
  } catch {
    fail('not JSON');
  }
  if (!Array.isArray(raw) || raw.length < 5 || raw.length > 6) fail('bad shape');
  const [format, targetProjectId, letters, kind, mode, entry] = raw as unknown[];
  if (format !== FORMAT) fail('unknown format');
  if (!Number.isSafeInteger(targetProjectId)) fail('bad target id');
  if (typeof letters !== 'string' || letters.length !== RESOURCES.length * 3) fail('bad levels');
  if (typeof kind !== 'string' || typeof mode !== 'string') fail('bad kind or mode');
  const releases = decodeResource(letters, 0);
  const tags = decodeResource(letters, 1);
  const containers = decodeResource(letters, 2);
  const notes = decodeResource(letters, 3);
  const set: Mutable<PermissionSet> = {
    targetProjectId: targetProjectId as number,
    resources: {
      RELEASES: releases,
      TAGS: tags,
      CONTAINERS: containers,
      MERGE_REQUEST_NOTES: notes,
    },
    auditWouldDeny:
      releases.auditWouldDeny ||
      tags.auditWouldDeny ||
      containers.auditWouldDeny ||
      notes.auditWouldDeny,
  };
  if (kind !== '') set.principalKind = lookup(KIND_OF, kind, 'principal kind');
  if (mode !== '') set.enforcement = lookup(MODE_OF, mode, 'enforcement');
  if (entry !== undefined) set.matchedEntry = decodeEntry(entry);
  return set;
}
