/**
 * `scopegate token mint`: a job token signed with the running demo's dev key, for the seed's
 * projects and users, or with `--person` a user token (a person's, which manages allowlists
 * where its role allows). Refuses to run when production settings are present.
 */
import { parseArgs } from 'node:util';
import { createDevSigner } from '../auth/dev-keys.js';
import { ConfigError } from '../config/config.js';
import { defaultSeedPath, loadSeedFile } from '../demo/seed.js';
import { JOB_PERMISSION_RESOURCES } from '../auth/claims.js';
import { devKeyFilePath, readDevKeyFile, seedJobClaims, seedUser } from './dev-tokens.js';

/** Settings only a production configuration has: any one of them set refuses `token mint`. */
const PRODUCTION_SETTINGS: readonly string[] = [
  'SCOPEGATE_UPSTREAM_URL',
  'SCOPEGATE_UPSTREAM_TOKEN',
  'SCOPEGATE_UPSTREAM_TOKEN_FILE',
  'SCOPEGATE_ISSUERS',
  'SCOPEGATE_JWKS_URL',
  'SCOPEGATE_JWKS_FILE',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
];

/** Parses `releases=write,tags=read` into the claim's object form. */
export function parsePermissionsFlag(text: string): Record<string, string> {
  const claim: Record<string, string> = {};
  for (const part of text.split(',').filter(Boolean)) {
    const [k, v, extra] = part.split('=');
    if (!k || !v || extra !== undefined)
      throw new ConfigError(`"--permissions" expects resource=level pairs, got "${part}"`);
    claim[k.trim()] = v.trim();
  }
  for (const [k, v] of Object.entries(claim)) {
    if (!(k in JOB_PERMISSION_RESOURCES)) {
      throw new ConfigError(
        `"--permissions": unknown resource "${k}" (${Object.keys(JOB_PERMISSION_RESOURCES).join(', ')})`,
      );
    }
    if (v !== 'none' && v !== 'read' && v !== 'write')
      throw new ConfigError(`"--permissions": ${k} must be none, read or write`);
  }
  return claim;
}

/** Runs `scopegate token mint`. */
export async function runTokenMint(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      project: { type: 'string' },
      user: { type: 'string' },
      protected: { type: 'boolean', default: false },
      permissions: { type: 'string' },
      // A user token (a person's) instead of a job token: what manages allowlists.
      person: { type: 'boolean', default: false },
      seed: { type: 'string' },
      'expires-in': { type: 'string', default: '3600' },
      // Accepted only to be refused by name: a config file is how production is configured.
      config: { type: 'string' },
    },
  });
  const production = PRODUCTION_SETTINGS.filter((n) => process.env[n]);
  if (values.config !== undefined) production.push('--config');
  if (production.length > 0) {
    throw new ConfigError(
      `"token mint" signs with the dev key only and refuses to run with production settings (${production.join(', ')})`,
    );
  }
  const { project, user: username, person } = values;
  if (person && (project !== undefined || values.protected || values.permissions !== undefined)) {
    throw new ConfigError(
      '"--person" mints a user token, which takes no --project, --protected or --permissions',
    );
  }
  if (!username || (!person && !project)) {
    throw new ConfigError(
      person
        ? '"token mint --person" needs --user U'
        : '"token mint" needs --project SOURCE and --user U (or --person --user U for a user token)',
    );
  }
  const expiresIn = Number(values['expires-in']);
  if (!Number.isInteger(expiresIn) || expiresIn < 60 || expiresIn > 86_400) {
    throw new ConfigError('"--expires-in" must be 60 to 86400 seconds');
  }
  const seed = loadSeedFile(values.seed ?? defaultSeedPath());
  // Seed names and flags are checked before the key is read, so a typo is named first.
  const subject = person
    ? { kind: 'user' as const, user: seedUser(seed, username) }
    : {
        kind: 'job' as const,
        claims: seedJobClaims(seed, project ?? '', username, values.protected),
        permissions:
          values.permissions === undefined ? undefined : parsePermissionsFlag(values.permissions),
      };
  const { issuer, audience, key } = readDevKeyFile(devKeyFilePath());
  const signer = await createDevSigner({ issuer, audience, privateJwk: key });
  const token =
    subject.kind === 'user'
      ? await signer.signUserToken(subject.user.id, {
          username: subject.user.username,
          expiresInSeconds: expiresIn,
        })
      : await signer.signJobToken(
          {
            ...subject.claims,
            ...(subject.permissions ? { job_token_permissions: subject.permissions } : {}),
          },
          { expiresInSeconds: expiresIn },
        );
  process.stdout.write(`${token}\n`);
}
