/**
 * `releaseCreate` with a `ref` makes the forge create the tag when it does not exist yet, so a
 * release of a new tag is also a tag write: it needs TAGS WRITE on the target as well as
 * RELEASES WRITE, denied exactly as `tagCreate` would be and before anything is written. A
 * release of an existing tag needs RELEASES WRITE only, and then `ref` is not sent upstream, so
 * a tag deleted in the meantime makes the forge refuse instead of creating it.
 *
 * The forge's request log does not hold bodies, so a small recording proxy sits between the
 * gateway and the embedded upstream (both real HTTP).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { createTestGateway, type GqlResponse, type TestGateway } from '../helpers/gateway.js';
import { SCENARIOS_PATH } from '../helpers/scenarios.js';

const TARGET = 'acme/apps/web';
const TARGET_ID = 102;
/** alice is a Developer in both projects: her role allows every write on the target. */
const SOURCE = 'acme/platform/registry';

/** An allowlist entry of TARGET for SOURCE with the given levels. */
const policyGranting = (permissions: Record<string, string>) => ({
  version: 1,
  projects: {
    [TARGET]: {
      enforcement: 'ENFORCED',
      entries: [{ source: SOURCE, kind: 'PROJECT', defaultPermissions: false, permissions }],
    },
  },
});

const RELEASE_CREATE = `mutation($input: ReleaseCreateInput!) { releaseCreate(input: $input) { release { tagName } errors } }`;
const TAG_CREATE = `mutation($input: TagCreateInput!) { tagCreate(input: $input) { tag { name } errors } }`;

interface Recorded {
  method: string;
  path: string;
  body: string;
}

/** A pass-through proxy that records every request with its body. */
async function startRecordingProxy(
  upstream: DemoUpstream,
): Promise<{ url: string; recorded: Recorded[]; close(): Promise<void> }> {
  const origin = new URL(upstream.url).origin;
  const recorded: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const method = req.method ?? 'GET';
      recorded.push({ method, path: req.url ?? '/', body });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k))
          headers[k] = v;
      }
      fetch(`${origin}${req.url ?? '/'}`, {
        method,
        headers,
        ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
      })
        .then(async (r) => {
          const text = await r.text();
          const out: Record<string, string> = {};
          r.headers.forEach((v, k) => {
            if (!['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(k))
              out[k] = v;
          });
          res.writeHead(r.status, out);
          res.end(text);
        })
        .catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/v4`,
    recorded,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function firstError(res: GqlResponse<unknown>) {
  return res.body.errors?.[0];
}

describe('releaseCreate and the tag it may create', () => {
  let upstream: DemoUpstream;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let t: TestGateway;
  let serial = 0;
  const uniqueTag = () => `v-sec-${++serial}`;

  beforeAll(async () => {
    upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
    proxy = await startRecordingProxy(upstream);
    t = await createTestGateway({ upstream: { ...upstream, url: proxy.url } });
  });
  afterAll(async () => {
    await t.close();
    await proxy.close();
    await upstream.close();
  });
  afterEach(() => {
    upstream.clearFaults();
  });

  const hasTag = (name: string) => upstream.store.tag(TARGET_ID, name) !== undefined;
  const hasRelease = (name: string) => upstream.store.release(TARGET_ID, name) !== undefined;
  const releasePosts = () =>
    proxy.recorded.filter(
      (r) => r.method === 'POST' && r.path === `/api/v4/projects/${TARGET_ID}/releases`,
    );
  const clearLogs = () => {
    upstream.clearRequests();
    proxy.recorded.length = 0;
  };

  it('denies a release of a new tag to an allowlist entry granting RELEASES WRITE but not TAGS, as tagCreate is denied, writing nothing', async () => {
    await t.setPolicy(policyGranting({ RELEASES: 'WRITE' }));
    const token = await t.jobToken(SOURCE, 'alice');
    const tagName = uniqueTag();
    clearLogs();

    const res = await t.gql(
      RELEASE_CREATE,
      { input: { projectPath: TARGET, tagName, ref: 'main' } },
      { token },
    );

    expect(res.status).toBe(200);
    expect(res.body.data).toEqual({ releaseCreate: null });
    expect(firstError(res)?.path).toEqual(['releaseCreate']);
    expect(firstError(res)?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      resource: 'TAGS',
      requiredLevel: 'WRITE',
      grantedLevel: 'NONE',
      reason: 'ENTRY_LEVEL_TOO_LOW',
    });
    expect(upstream.writes()).toEqual([]);
    expect(hasTag(tagName)).toBe(false);
    expect(hasRelease(tagName)).toBe(false);

    // The same token's tagCreate is refused with the same message and extensions.
    const direct = await t.gql(
      TAG_CREATE,
      { input: { projectPath: TARGET, name: tagName, ref: 'main' } },
      { token },
    );
    expect(firstError(direct)?.extensions).toEqual(firstError(res)?.extensions);
    expect(firstError(direct)?.message).toBe(firstError(res)?.message);
    expect(upstream.writes()).toEqual([]);
  });

  it('denies a release of a new tag to a job whose job_token_permissions claim names releases only', async () => {
    await t.setPolicy({ version: 1, projects: {} });
    const token = await t.jobToken(TARGET, 'alice', { jobPermissions: { releases: 'write' } });
    const tagName = uniqueTag();
    clearLogs();

    const res = await t.gql(
      RELEASE_CREATE,
      { input: { projectPath: TARGET, tagName, ref: 'main' } },
      { token },
    );

    expect(res.body.data).toEqual({ releaseCreate: null });
    expect(firstError(res)?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      resource: 'TAGS',
      requiredLevel: 'WRITE',
      grantedLevel: 'NONE',
      reason: 'JOB_SCOPE',
    });
    expect(upstream.writes()).toEqual([]);
    expect(hasTag(tagName)).toBe(false);
    expect(hasRelease(tagName)).toBe(false);
  });

  it('creates a release of an existing tag with RELEASES WRITE only, and sends no ref upstream', async () => {
    await t.setPolicy(policyGranting({ RELEASES: 'WRITE' }));
    const token = await t.jobToken(SOURCE, 'alice');
    const tagName = uniqueTag();
    upstream.store.createTag(TARGET_ID, { tag_name: tagName, ref: 'main' });
    clearLogs();

    const res = await t.gql<{ releaseCreate: { release: { tagName: string } } }>(
      RELEASE_CREATE,
      { input: { projectPath: TARGET, tagName, ref: 'main' } },
      { token },
    );

    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.releaseCreate.release.tagName).toBe(tagName);
    expect(hasRelease(tagName)).toBe(true);
    expect(upstream.writes()).toHaveLength(1);
    const posts = releasePosts();
    expect(posts).toHaveLength(1);
    expect(JSON.parse(posts[0]!.body)).toEqual({ tag_name: tagName });
  });

  it('lets the forge refuse, creating no tag, when the existing tag is deleted between the check and the write', async () => {
    await t.setPolicy(policyGranting({ RELEASES: 'WRITE' }));
    const token = await t.jobToken(SOURCE, 'alice');
    const tagName = uniqueTag();
    upstream.store.createTag(TARGET_ID, { tag_name: tagName, ref: 'main' });
    // Hold the release POST at the forge; delete the tag while it waits.
    upstream.injectFault({
      method: 'POST',
      path: `/projects/${TARGET_ID}/releases`,
      kind: 'delay',
      delayMs: 400,
      times: 1,
    });
    clearLogs();

    const pending = t.gql(
      RELEASE_CREATE,
      { input: { projectPath: TARGET, tagName, ref: 'main' } },
      { token },
    );
    const deadline = Date.now() + 5_000;
    while (upstream.writes().length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    upstream.store.deleteTag(TARGET_ID, tagName);
    const res = await pending;

    expect(res.body.data).toEqual({ releaseCreate: null });
    expect(firstError(res)?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(hasTag(tagName)).toBe(false);
    expect(hasRelease(tagName)).toBe(false);
  });

  it('creates the tag and the release when the job holds RELEASES WRITE and TAGS WRITE', async () => {
    await t.setPolicy(policyGranting({ RELEASES: 'WRITE', TAGS: 'WRITE' }));
    const token = await t.jobToken(SOURCE, 'alice');
    const tagName = uniqueTag();
    clearLogs();

    const res = await t.gql<{ releaseCreate: { release: { tagName: string }; errors: string[] } }>(
      RELEASE_CREATE,
      { input: { projectPath: TARGET, tagName, ref: 'main' } },
      { token },
    );

    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.releaseCreate).toEqual({ release: { tagName }, errors: [] });
    expect(hasTag(tagName)).toBe(true);
    expect(hasRelease(tagName)).toBe(true);
    const posts = releasePosts();
    expect(posts).toHaveLength(1);
    expect(JSON.parse(posts[0]!.body)).toEqual({ tag_name: tagName, ref: 'main' });
  });

  it('records the tag check in the authorization log, denied and allowed, like a directive check', async () => {
    const maintainer = await t.userToken('bob');
    await t.setPolicy(policyGranting({ RELEASES: 'WRITE' }));
    const denied = await t.gql(
      RELEASE_CREATE,
      { input: { projectPath: TARGET, tagName: uniqueTag(), ref: 'main' } },
      { token: await t.jobToken(SOURCE, 'alice', { claims: { job_id: '990001' } }) },
    );
    expect(firstError(denied)?.extensions?.code).toBe('FORBIDDEN');
    await t.setPolicy(policyGranting({ RELEASES: 'WRITE', TAGS: 'WRITE' }));
    const allowed = await t.gql(
      RELEASE_CREATE,
      { input: { projectPath: TARGET, tagName: uniqueTag(), ref: 'main' } },
      { token: await t.jobToken(SOURCE, 'alice', { claims: { job_id: '990002' } }) },
    );
    expect(allowed.body.errors).toBeUndefined();

    type Row = {
      sourceProject: { fullPath: string };
      permissionsUsed: { resource: string; level: string }[];
      deniedCount: number;
    };
    let row: Row | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const res = await t.gql<{ project: { jobTokenAuthLog: { nodes: Row[] } } }>(
        `{ project(fullPath: "${TARGET}") { jobTokenAuthLog(first: 20) { nodes { sourceProject { fullPath } permissionsUsed { resource level } deniedCount } } } }`,
        {},
        { token: maintainer },
      );
      row = res.body.data?.project.jobTokenAuthLog.nodes.find(
        (n) => n.sourceProject.fullPath === SOURCE,
      );
      if (row && row.deniedCount > 0 && row.permissionsUsed.some((p) => p.resource === 'TAGS'))
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Number(row?.deniedCount)).toBeGreaterThan(0);
    expect(row?.permissionsUsed).toContainEqual({ resource: 'TAGS', level: 'WRITE' });
    expect(row?.permissionsUsed).toContainEqual({ resource: 'RELEASES', level: 'WRITE' });
  });

  it('leaves a release of a new tag without a ref to the forge, which refuses it without creating a tag', async () => {
    await t.setPolicy(policyGranting({ RELEASES: 'WRITE' }));
    const token = await t.jobToken(SOURCE, 'alice');
    const tagName = uniqueTag();
    clearLogs();

    const res = await t.gql(RELEASE_CREATE, { input: { projectPath: TARGET, tagName } }, { token });

    expect(firstError(res)?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(firstError(res)?.message).toBe('Ref is not specified');
    expect(hasTag(tagName)).toBe(false);
    expect(hasRelease(tagName)).toBe(false);
  });
});
