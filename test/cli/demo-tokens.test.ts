/**
 * The demo's tokens as a user meets them (`scopegate serve --demo` spawned, real HTTP): the
 * banner's person token can do what the README's management example asks, a second demo reuses
 * the first one's dev key file instead of overwriting it (so every banner token and every
 * `token mint` token works on both), and `token mint --person` mints a user token.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, runCli, startCli, type Cli } from '../helpers/cli.js';
import { freePort } from '../helpers/redis.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const JWT = /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/;
const REGISTRY_RELEASES =
  '{ project(fullPath: "acme/platform/registry") { releases(first: 1) { nodes { tagName } } } }';
const REGISTRY_SCOPE =
  '{ project(fullPath: "acme/platform/registry") { jobTokenScope { enforcement } } }';

interface GraphQLAnswer {
  status: number;
  body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
}

async function graphql(url: string, query: string, token: string): Promise<GraphQLAnswer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLAnswer['body'] };
}

/** The banner's tokens by label (the `# ...` line above each). */
function bannerTokens(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = stdout.split('\n');
  lines.forEach((line, i) => {
    const next = lines[i + 1]?.trim() ?? '';
    if (line.startsWith('# ') && JWT.test(next)) out.set(line.slice(2), next);
  });
  return out;
}

function personToken(tokens: Map<string, string>): [string, string] {
  const found = [...tokens].find(([label]) => label.startsWith('person: '));
  if (!found) throw new Error(`no person token in the banner: ${[...tokens.keys()].join(' | ')}`);
  return found;
}

/** The README's `jobTokenScopeAddEntry` example, exactly as a reader would paste it. */
function readmeAddEntryExample(): string {
  const blocks = [...readFileSync(README, 'utf8').matchAll(/```graphql\n([\s\S]*?)```/g)];
  const block = blocks.map((m) => m[1] ?? '').find((b) => b.includes('jobTokenScopeAddEntry('));
  if (!block) throw new Error('README has no jobTokenScopeAddEntry example');
  return block;
}

let dir: string;
let keyFile: string;
let first: Cli;
let second: Cli;
let firstUrl: string;
let secondUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'scopegate-demo-tokens-'));
  keyFile = join(dir, 'dev-key.json');
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  const env = (port: number) =>
    cleanEnv({ PORT: String(port), SCOPEGATE_DEV_KEY_FILE: keyFile, SCOPEGATE_LOG_LEVEL: 'warn' });
  first = startCli(['serve', '--demo'], env(p1));
  // The banner is written in one piece; its end is the curl example.
  await first.waitFor(/curl -s/);
  // The second demo starts once the first one's key file is there, as a user would start it.
  second = startCli(['serve', '--demo'], env(p2));
  await second.waitFor(/curl -s/);
  const url = /scopegate listening: (http:\/\/\S+)/;
  firstUrl = (await first.waitFor(url))[1] ?? '';
  secondUrl = (await second.waitFor(url))[1] ?? '';
}, 60_000);

afterAll(async () => {
  for (const c of [first, second]) if (c.child.exitCode === null) c.child.kill('SIGTERM');
  await Promise.all([first.exited, second.exited]);
  rmSync(dir, { recursive: true, force: true });
});

describe('the demo banner', () => {
  it("prints a person token that can run the README's jobTokenScopeAddEntry example as written", async () => {
    const [label, token] = personToken(bannerTokens(first.stdout()));
    expect(label).toBe(
      'person: carol (user token; Owner of acme/platform/registry through the group acme: can view and change its job token allowlist)',
    );
    const answer = await graphql(firstUrl, readmeAddEntryExample(), token);
    expect(answer.body.errors).toBeUndefined();
    expect(answer).toEqual({
      status: 200,
      body: {
        data: {
          jobTokenScopeAddEntry: {
            entry: {
              source: { fullPath: 'acme/bots', kind: 'GROUP' },
              addedBy: '5',
              createdAt: expect.any(String) as unknown,
            },
            errors: [],
          },
        },
      },
    });
  });
});

describe('two demos and token mint share one dev key', () => {
  it('keeps the key file owner-only', () => {
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it('serves the same JWKS from both demos', async () => {
    const jwks = async (graphqlUrl: string) =>
      (await fetch(graphqlUrl.replace(/\/graphql$/, '/-/jwks.json'))).json();
    expect(await jwks(secondUrl)).toEqual(await jwks(firstUrl));
  });

  it("accepts the first demo's banner tokens on the second demo and the other way round", async () => {
    for (const [from, to] of [
      [first, secondUrl],
      [second, firstUrl],
    ] as const) {
      const [, token] = personToken(bannerTokens(from.stdout()));
      const answer = await graphql(to, REGISTRY_SCOPE, token);
      expect(answer).toEqual({
        status: 200,
        body: { data: { project: { jobTokenScope: { enforcement: 'ENFORCED' } } } },
      });
    }
  });

  it('accepts a token from "token mint" on both demos', async () => {
    const minted = await runCli(
      ['token', 'mint', '--project', 'acme/apps/web', '--user', 'alice'],
      cleanEnv({ SCOPEGATE_DEV_KEY_FILE: keyFile }),
    );
    expect(minted.code).toBe(0);
    const token = minted.stdout.trim();
    expect(token).toMatch(JWT);
    for (const url of [firstUrl, secondUrl]) {
      const answer = await graphql(url, REGISTRY_RELEASES, token);
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
    }
  });
});

describe('token mint --person', () => {
  it('mints a user token for a person of the seed, accepted by both demos', async () => {
    const minted = await runCli(
      ['token', 'mint', '--person', '--user', 'carol', '--expires-in', '600'],
      cleanEnv({ SCOPEGATE_DEV_KEY_FILE: keyFile }),
    );
    expect(minted).toMatchObject({ code: 0, stderr: '' });
    const token = minted.stdout.trim();
    expect(token).toMatch(JWT);
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      sub?: string;
      preferred_username?: string;
      project_id?: unknown;
      exp: number;
      iat: number;
    };
    expect(claims).toMatchObject({ sub: '5', preferred_username: 'carol' });
    expect(claims.project_id).toBeUndefined();
    expect(claims.exp - claims.iat).toBe(600);
    for (const url of [firstUrl, secondUrl]) {
      expect(await graphql(url, REGISTRY_SCOPE, token)).toEqual({
        status: 200,
        body: { data: { project: { jobTokenScope: { enforcement: 'ENFORCED' } } } },
      });
    }
  });

  it('refuses job-token flags with --person, and a user the seed does not have, naming them', async () => {
    const env = cleanEnv({ SCOPEGATE_DEV_KEY_FILE: keyFile });
    const [withProject, unknownUser] = await Promise.all([
      runCli(['token', 'mint', '--person', '--user', 'carol', '--project', 'acme/apps/web'], env),
      runCli(['token', 'mint', '--person', '--user', 'nobody'], env),
    ]);
    expect(withProject).toMatchObject({ code: 2, stdout: '' });
    expect(withProject.stderr).toBe(
      'scopegate: "--person" mints a user token, which takes no --project, --protected or --permissions\n',
    );
    expect(unknownUser).toMatchObject({ code: 2, stdout: '' });
    expect(unknownUser.stderr).toBe('scopegate: no user "nobody" in the seed\n');
  });
});
