/**
 * Dev tokens for `--demo`: the dev key's file, which every demo and `scopegate token mint`
 * share so that they sign and verify with one key, and example tokens for the seed.
 *
 * What a demo does with the key file (`SCOPEGATE_DEV_KEY_FILE`, default
 * `scopegate-dev-key.json` in the temp directory), in {@link openDevSigner}:
 * - **a valid dev key** of the current user, with no group or other permission bits: reused
 *   as it is, so a second demo does not break the first one's tokens;
 * - **absent**: a new key is written owner-only (0600) and atomically: to a temporary file
 *   first, then hard-linked into place, which fails when another demo got there first, whose
 *   key is then used;
 * - **the current user's, but unreadable, not a dev key, or with group or other bits set**:
 *   replaced the same way by a new key (when others could read it, tokens signed with it prove
 *   nothing, so the old key is not worth keeping);
 * - **another user's, or not a regular file** (a symbolic link, a directory): refused with a
 *   `ConfigError` naming the setting, never read, followed or changed. Whoever owns it knows
 *   the key, and in a shared temp directory anyone can create the file before the first demo
 *   starts; nor can it be replaced there (the directory is sticky).
 */
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  linkSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { JWK } from 'jose';
import { createDevSigner, type DevSigner } from '../auth/dev-keys.js';
import { ConfigError } from '../config/config.js';
import { seedMembership, type SeedMembership } from '../demo/seed-roles.js';
import type { DemoSeed, DemoSeedUser } from '../demo/seed.js';
import { roleName } from '../policy/explain.js';
import { ROLES } from '../policy/types.js';

/** Where the demo keeps its dev key (`SCOPEGATE_DEV_KEY_FILE` overrides). */
export function devKeyFilePath(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return env['SCOPEGATE_DEV_KEY_FILE'] ?? join(tmpdir(), 'scopegate-dev-key.json');
}

/** What the dev key file holds: the signer's `iss`, `aud` and private key (ES256 JWK). */
export interface DevKeyFileContent {
  issuer: string;
  audience: string;
  key: JWK;
}

/** Options of {@link openDevSigner} and {@link readDevKeyFile}. */
export interface DevKeyFileOptions {
  /**
   * User id the file must belong to. Default: the current user (`process.getuid()`); where
   * there is none (Windows) ownership and permission bits are not checked.
   */
  owner?: number | undefined;
}

/** What is at the key path. */
type KeyFileState =
  | { readonly kind: 'absent' }
  | { readonly kind: 'valid'; readonly content: DevKeyFileContent; readonly stat: Stats }
  | { readonly kind: 'unusable'; readonly why: string; readonly stat: Stats };

/** How often {@link openDevSigner} looks again when other demos keep changing the file. */
const MAX_ATTEMPTS = 5;

const errorCode = (err: unknown): unknown =>
  err instanceof Error && 'code' in err ? err.code : undefined;

/**
 * The demo's signer on the key in the dev key file at `path`: reuses a valid key, and writes a
 * new one only when there is none or it cannot be used (module comment). Throws a
 * `ConfigError` for a file it must not trust.
 */
export async function openDevSigner(
  path: string,
  options: DevKeyFileOptions = {},
): Promise<DevSigner> {
  const owner = options.owner ?? process.getuid?.();
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const state = inspectKeyFile(path, owner);
    if (state.kind === 'valid') {
      const { issuer, audience, key } = state.content;
      try {
        return await createDevSigner({ issuer, audience, privateJwk: key });
      } catch {
        // Not an ES256 key pair: replaced below like any other unusable file.
      }
    }
    if (state.kind !== 'absent') removeIfUnchanged(path, state.stat);
    const signer = await createDevSigner();
    if (createExclusively(path, await keyFileText(signer))) return signer;
    // Another demo wrote its key in the meantime: the next look uses that one.
  }
  throw new Error(
    `the dev key file ${path} kept changing while this demo started; try again, or set "SCOPEGATE_DEV_KEY_FILE" to a path of your own`,
  );
}

/** Reads the dev key file a demo wrote (for `scopegate token mint`); never writes it. */
export function readDevKeyFile(path: string, options: DevKeyFileOptions = {}): DevKeyFileContent {
  const state = inspectKeyFile(path, options.owner ?? process.getuid?.());
  if (state.kind === 'valid') return state.content;
  if (state.kind === 'absent') {
    throw new Error(
      `no dev key at ${path}: start the demo first ("npm start" or "scopegate serve --demo")`,
    );
  }
  throw new Error(`no usable dev key at ${path} (${state.why}): start the demo, which replaces it`);
}

/** A symbolic link, a directory, a device: never read, followed or replaced. */
function notARegularFile(path: string): ConfigError {
  return new ConfigError(
    `the dev key file ${path} is not a regular file (a symbolic link?); remove it or set "SCOPEGATE_DEV_KEY_FILE" to a path of your own`,
  );
}

/** Refuses what is not a regular file of `owner` (module comment). */
function checkOwnership(path: string, stat: Stats, owner: number | undefined): void {
  if (!stat.isFile()) throw notARegularFile(path);
  if (owner !== undefined && stat.uid !== owner) {
    throw new ConfigError(
      `the dev key file ${path} belongs to another user, so its key cannot be trusted; set "SCOPEGATE_DEV_KEY_FILE" to a path of your own`,
    );
  }
}

/** Looks at the key path without following a link or writing anything. */
function inspectKeyFile(path: string, owner: number | undefined): KeyFileState {
  let fd: number;
  try {
    // O_NOFOLLOW: a symbolic link is refused, not followed; O_NONBLOCK: a FIFO cannot hang us.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT') return { kind: 'absent' };
    // ELOOP: a symbolic link under O_NOFOLLOW (EMLINK on FreeBSD).
    if (code === 'ELOOP' || code === 'EMLINK') throw notARegularFile(path);
    let stat: Stats;
    try {
      stat = lstatSync(path);
    } catch {
      return { kind: 'absent' };
    }
    checkOwnership(path, stat, owner);
    return { kind: 'unusable', why: 'it cannot be read', stat };
  }
  try {
    // Checked on the open file itself, so the answer is about what is read below.
    const stat = fstatSync(fd);
    checkOwnership(path, stat, owner);
    if (owner !== undefined && (stat.mode & 0o077) !== 0)
      return { kind: 'unusable', why: 'it is readable or writable by other users', stat };
    const content = parseKeyFile(readFileSync(fd, 'utf8'));
    return content
      ? { kind: 'valid', content, stat }
      : { kind: 'unusable', why: 'it does not hold a dev key', stat };
  } finally {
    closeSync(fd);
  }
}

function parseKeyFile(text: string): DevKeyFileContent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { issuer, audience, key } = parsed as Record<string, unknown>;
  if (typeof issuer !== 'string' || typeof audience !== 'string') return undefined;
  if (typeof key !== 'object' || key === null || Array.isArray(key)) return undefined;
  return { issuer, audience, key: key as JWK };
}

async function keyFileText(signer: DevSigner): Promise<string> {
  const content: DevKeyFileContent = {
    issuer: signer.issuer,
    audience: signer.audience,
    key: await signer.exportPrivateJwk(),
  };
  return JSON.stringify(content);
}

/** Removes the file at `path` if it is still the one looked at (not one another demo wrote since). */
function removeIfUnchanged(path: string, seen: Stats): void {
  try {
    const now = lstatSync(path);
    if (now.ino === seen.ino && now.dev === seen.dev) unlinkSync(path);
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
  }
}

/** Error codes of `link` on a file system without hard links. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Puts `text` at `path`, owner-only, only if nothing is there: the file appears complete or not
 * at all, so another demo never reads half a key. False when another file got there first.
 */
function createExclusively(path: string, text: string): boolean {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    writeFileSync(fd, text);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'EEXIST') return false;
    if (typeof code !== 'string' || !NO_HARD_LINKS.has(code)) throw err;
    // No hard links here: rename replaces, so only while the path is still free (two demos
    // starting in the same instant may then each keep their own key).
    try {
      lstatSync(path);
      return false;
    } catch {
      renameSync(temp, path);
      return true;
    }
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * The seed's user named `username`, or with that id (all digits), as `check --user` takes;
 * throws naming it when the seed has none.
 */
export function seedUser(seed: DemoSeed, username: string): DemoSeedUser {
  const user =
    seed.users.find((u) => u.username === username) ??
    (/^[0-9]{1,16}$/.test(username)
      ? seed.users.find((u) => u.id === Number(username))
      : undefined);
  if (!user) throw new Error(`no user "${username}" in the seed`);
  return user;
}

/** A job token's claims for a source project and user of the seed. */
export function seedJobClaims(
  seed: DemoSeed,
  projectPath: string,
  username: string,
  refProtected: boolean,
): {
  project_id: string;
  project_path: string;
  namespace_id: string;
  namespace_path: string;
  user_id: string;
  user_login: string;
  ref_protected: 'true' | 'false';
  ref: string;
} {
  const project = seed.projects.find((p) => p.path_with_namespace === projectPath);
  if (!project) throw new Error(`no project "${projectPath}" in the seed`);
  const user = seedUser(seed, username);
  const ns = seed.groups.find((g) => g.id === project.namespace_id);
  return {
    project_id: String(project.id),
    project_path: project.path_with_namespace,
    namespace_id: String(project.namespace_id),
    namespace_path: ns?.full_path ?? projectPath.slice(0, projectPath.lastIndexOf('/')),
    user_id: String(user.id),
    user_login: user.username,
    ref_protected: refProtected ? 'true' : 'false',
    ref: 'main',
  };
}

/**
 * Example tokens for the banner: for each policy entry with a project source, a job of a member
 * of that source; then a person's user token, for someone who may really change a project's
 * allowlist (see {@link seedProfileManager}) and labelled with that role and project.
 */
export async function exampleTokens(
  signer: DevSigner,
  seed: DemoSeed,
): Promise<{ label: string; token: string }[]> {
  const out: { label: string; token: string }[] = [];
  const seen = new Set<string>();
  for (const [target, profile] of Object.entries(policyProjects(seed))) {
    for (const entry of profile.entries ?? []) {
      if (entry.kind !== 'PROJECT' || !entry.source || seen.has(entry.source)) continue;
      const members = seed.members[entry.source] ?? {};
      const username = Object.keys(members).sort(
        (a, b) => (members[b] ?? 0) - (members[a] ?? 0),
      )[0];
      if (!username) continue;
      seen.add(entry.source);
      const claims = seedJobClaims(seed, entry.source, username, true);
      out.push({
        label: `job in ${entry.source} triggered by ${username} (protected ref), allowlisted by ${target}`,
        token: await signer.signJobToken(claims, { expiresInSeconds: 8 * 3600 }),
      });
    }
  }
  const manager = seedProfileManager(seed);
  const person = manager?.user ?? seed.users.find((u) => !u.bot);
  if (person) {
    out.push({
      label: manager
        ? `person: ${managerLabel(manager)}`
        : `person: ${person.username} (user token)`,
      token: await signer.signUserToken(person.id, {
        username: person.username,
        expiresInSeconds: 8 * 3600,
      }),
    });
  }
  return out;
}

/** A person of the seed who may view and change the job token allowlist of a project. */
export interface SeedProfileManager {
  readonly user: DemoSeedUser;
  /** The project whose allowlist the person manages. */
  readonly targetPath: string;
  /** The person's role there (Maintainer or Owner), and where it comes from. */
  readonly membership: SeedMembership;
}

/**
 * The person the banner's user token is for: the first target of the seed's policy (then any
 * project of the seed) with a Maintainer or Owner who is not a bot, and the highest-ranking of
 * them (seed order on a tie). `undefined` when no project has one.
 */
export function seedProfileManager(seed: DemoSeed): SeedProfileManager | undefined {
  const targets = new Set([
    ...Object.keys(policyProjects(seed)),
    ...seed.projects.map((p) => p.path_with_namespace),
  ]);
  for (const targetPath of targets) {
    let best: SeedProfileManager | undefined;
    for (const user of seed.users) {
      if (user.bot) continue;
      const membership = seedMembership(seed, targetPath, user.username);
      if (!membership || membership.accessLevel < ROLES.MAINTAINER) continue;
      if (!best || membership.accessLevel > best.membership.accessLevel)
        best = { user, targetPath, membership };
    }
    if (best) return best;
  }
  return undefined;
}

/** `carol (user token; Owner of acme/platform/registry through the group acme: ...)`. */
function managerLabel(m: SeedProfileManager): string {
  const via =
    m.membership.via.kind === 'GROUP' ? ` through the group ${m.membership.via.fullPath}` : '';
  return `${m.user.username} (user token; ${roleName(m.membership.accessLevel)} of ${m.targetPath}${via}: can view and change its job token allowlist)`;
}

function policyProjects(
  seed: DemoSeed,
): Record<string, { entries?: { source?: string; kind?: string }[] }> {
  const policy = seed.policy as
    { projects?: Record<string, { entries?: { source?: string; kind?: string }[] }> } | undefined;
  return policy?.projects ?? {};
}
