/**
 * Dev tokens for `--demo`: the dev key's file (so `scopegate token mint` in another process
 * signs with the running demo's key) and example job tokens for the seed's policy.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import type { DevSigner } from '../auth/dev-keys.js';
import type { DemoSeed } from '../demo/seed.js';

/** Where the demo writes its dev key (`SCOPEGATE_DEV_KEY_FILE` overrides). */
export function devKeyFilePath(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  return env['SCOPEGATE_DEV_KEY_FILE'] ?? join(tmpdir(), 'scopegate-dev-key.json');
}

/** Writes the dev private key, readable by the owner only; returns the path. */
export async function writeDevKeyFile(signer: DevSigner): Promise<string> {
  const path = devKeyFilePath();
  const content = JSON.stringify({
    issuer: signer.issuer,
    audience: signer.audience,
    key: await signer.exportPrivateJwk(),
  });
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/** Reads the dev key file written by a running demo. */
export function readDevKeyFile(path: string): { issuer: string; audience: string; key: JWK } {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as {
      issuer?: unknown;
      audience?: unknown;
      key?: unknown;
    };
    if (
      typeof parsed.issuer === 'string' &&
      typeof parsed.audience === 'string' &&
      parsed.key &&
      typeof parsed.key === 'object'
    ) {
      return { issuer: parsed.issuer, audience: parsed.audience, key: parsed.key as JWK };
    }
  } catch {
    // fall through to the one message below
  }
  throw new Error(
    `no dev key at ${path}: start the demo first ("npm start" or "scopegate serve --demo")`,
  );
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
  const user = seed.users.find((u) => u.username === username);
  if (!user) throw new Error(`no user "${username}" in the seed`);
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

/** Example tokens for the banner: for each policy entry with a project source, a job of a member of that source. */
export async function exampleTokens(
  signer: DevSigner,
  seed: DemoSeed,
): Promise<{ label: string; token: string }[]> {
  const out: { label: string; token: string }[] = [];
  const policy = seed.policy as
    { projects?: Record<string, { entries?: { source?: string; kind?: string }[] }> } | undefined;
  const seen = new Set<string>();
  for (const [target, profile] of Object.entries(policy?.projects ?? {})) {
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
  const first = seed.users[0];
  if (first) {
    out.push({
      label: `person: ${first.username} (user token, manages profiles where a Maintainer)`,
      token: await signer.signUserToken(first.id, {
        username: first.username,
        expiresInSeconds: 8 * 3600,
      }),
    });
  }
  return out;
}
