import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { asList, asObject, call, enc, SCENARIOS_PATH } from './fixtures.js';

let up: DemoUpstream;
const web = `/projects/${enc('acme/apps/web')}`;

beforeEach(async () => {
  up = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
});
afterEach(async () => {
  await up.close();
});

describe('releases', () => {
  it('creates a release on an existing tag, answers 201 and serves it afterwards', async () => {
    const created = await call(up, `${web}/releases`, {
      method: 'POST',
      body: {
        tag_name: 'v0.1.0',
        name: 'Zero one',
        description: 'notes',
        released_at: '2024-06-01T00:00:00Z',
      },
    });
    expect(created.status).toBe(201);
    expect(asObject(created)).toMatchObject({
      tag_name: 'v0.1.0',
      name: 'Zero one',
      released_at: '2024-06-01T00:00:00.000Z',
    });
    expect(asObject(created).author).toMatchObject({ username: up.store.serviceUser.username });
    expect(asObject(await call(up, `${web}/releases/v0.1.0`)).description).toBe('notes');
    expect(asList(await call(up, `${web}/releases`))[0]?.tag_name).toBe('v0.1.0');
    expect(asObject(await call(up, `${web}/repository/tags/v0.1.0`)).release).toEqual({
      tag_name: 'v0.1.0',
      description: 'notes',
    });
  });

  it('answers 409 when the release exists, 422 without a tag or ref, 400 without tag_name', async () => {
    const dup = await call(up, `${web}/releases`, { method: 'POST', body: { tag_name: 'v1.0.0' } });
    expect([dup.status, dup.json]).toEqual([409, { message: 'Release already exists' }]);
    const noRef = await call(up, `${web}/releases`, {
      method: 'POST',
      body: { tag_name: 'v7.0.0' },
    });
    expect([noRef.status, noRef.json]).toEqual([422, { message: 'Ref is not specified' }]);
    const noTag = await call(up, `${web}/releases`, { method: 'POST', body: { name: 'x' } });
    expect([noTag.status, noTag.json]).toEqual([400, { error: 'tag_name is missing' }]);
    expect(up.store.tag('acme/apps/web', 'v7.0.0')).toBeUndefined();
  });

  it('creates the missing tag from ref, and refuses a ref that does not resolve', async () => {
    const res = await call(up, `${web}/releases`, {
      method: 'POST',
      body: { tag_name: 'v2.0.0', ref: 'main', tag_message: 'two' },
    });
    expect(res.status).toBe(201);
    expect(up.store.tag('acme/apps/web', 'v2.0.0')).toMatchObject({
      name: 'v2.0.0',
      message: 'two',
    });
    const bad = await call(up, `${web}/releases`, {
      method: 'POST',
      body: { tag_name: 'v3.0.0', ref: 'no-such-branch' },
    });
    expect([bad.status, bad.json]).toEqual([422, { message: 'Target no-such-branch is invalid' }]);
  });

  it('updates and deletes a release, answering 404 when it does not exist', async () => {
    const put = await call(up, `${web}/releases/v1.0.0`, {
      method: 'PUT',
      body: { description: 'rewritten' },
    });
    expect([put.status, asObject(put).description]).toEqual([200, 'rewritten']);
    const del = await call(up, `${web}/releases/v1.0.0`, { method: 'DELETE' });
    expect([del.status, asObject(del).tag_name]).toEqual([200, 'v1.0.0']);
    expect((await call(up, `${web}/releases/v1.0.0`)).status).toBe(404);
    expect(up.store.tag('acme/apps/web', 'v1.0.0')).toBeDefined();
    for (const method of ['PUT', 'DELETE']) {
      const res = await call(up, `${web}/releases/v1.0.0`, { method, body: {} });
      expect([res.status, res.json]).toEqual([404, { message: '404 Release Not Found' }]);
    }
  });

  it('accepts URL-encoded tag names containing a slash', async () => {
    await call(up, `${web}/releases`, {
      method: 'POST',
      body: { tag_name: 'release/1', ref: 'main' },
    });
    expect(asObject(await call(up, `${web}/releases/${enc('release/1')}`)).tag_name).toBe(
      'release/1',
    );
  });
});

describe('tags', () => {
  it('creates a tag (201), refuses a duplicate (400) or a missing ref, and deletes it (204)', async () => {
    const created = await call(up, `${web}/repository/tags`, {
      method: 'POST',
      body: { tag_name: 'v5', ref: 'main', message: 'five' },
    });
    expect(created.status).toBe(201);
    expect(asObject(created)).toMatchObject({
      name: 'v5',
      message: 'five',
      release: null,
      protected: false,
    });
    const dup = await call(up, `${web}/repository/tags`, {
      method: 'POST',
      body: { tag_name: 'v5', ref: 'main' },
    });
    expect([dup.status, dup.json]).toEqual([400, { message: 'Tag v5 already exists' }]);
    const noRef = await call(up, `${web}/repository/tags`, {
      method: 'POST',
      body: { tag_name: 'v6' },
    });
    expect([noRef.status, noRef.json]).toEqual([400, { error: 'ref is missing' }]);
    const del = await call(up, `${web}/repository/tags/v5`, { method: 'DELETE' });
    expect([del.status, del.text]).toEqual([204, '']);
    const again = await call(up, `${web}/repository/tags/v5`, { method: 'DELETE' });
    expect([again.status, again.json]).toEqual([404, { message: '404 Tag Not Found' }]);
  });

  it('creates a tag from another tag with a form-encoded body, pointing at the same commit', async () => {
    const res = await call(up, `${web}/repository/tags`, {
      method: 'POST',
      body: new URLSearchParams({ tag_name: 'copy', ref: 'v1.0.0' }),
    });
    expect(res.status).toBe(201);
    expect(asObject(res).target).toBe(up.store.tag('acme/apps/web', 'v1.0.0')?.commit.id);
  });

  it('takes parameters from the query string as the forge does', async () => {
    const res = await call(up, `${web}/repository/tags?tag_name=q1&ref=main`, { method: 'POST' });
    expect(res.status).toBe(201);
  });
});

describe('container registry and notes', () => {
  it('deletes an image tag of a repository in the project, and never one of another project', async () => {
    const repo = up.store.containerRepositories('acme/apps/web')[0];
    const other = up.store.containerRepositories('acme/platform/registry')[0];
    const del = await call(up, `${web}/registry/repositories/${repo?.id}/tags/v1`, {
      method: 'DELETE',
    });
    expect(del.status).toBe(200);
    expect(
      asList(await call(up, `${web}/registry/repositories/${repo?.id}/tags`)).map((t) => t.name),
    ).toEqual(['latest', 'v2']);
    const crossed = await call(up, `${web}/registry/repositories/${other?.id}/tags/latest`, {
      method: 'DELETE',
    });
    expect([crossed.status, crossed.json]).toEqual([404, { message: '404 Repository Not Found' }]);
    expect(other?.tags.map((t) => t.name)).toContain('latest');
    const missing = await call(up, `${web}/registry/repositories/${repo?.id}/tags/v1`, {
      method: 'DELETE',
    });
    expect([missing.status, missing.json]).toEqual([404, { message: '404 Tag Not Found' }]);
  });

  it('adds a note (201) that later reads list last, with a fresh global id', async () => {
    const before = new Set(
      up.store.projects.flatMap((p) => up.store.notes(p.id, 1).map((n) => n.id)),
    );
    const res = await call(up, `${web}/merge_requests/1/notes`, {
      method: 'POST',
      body: { body: 'LGTM' },
    });
    expect(res.status).toBe(201);
    const note = asObject(res);
    expect(note).toMatchObject({
      body: 'LGTM',
      noteable_type: 'MergeRequest',
      noteable_iid: 1,
      system: false,
    });
    expect(before.has(note.id as number)).toBe(false);
    const notes = asList(await call(up, `${web}/merge_requests/1/notes`));
    expect(notes.map((n) => n.body)).toEqual([
      'note 1 on acme/apps/web',
      'note 2 on acme/apps/web',
      'note 3 on acme/apps/web',
      'LGTM',
    ]);
  });

  it('answers 400 for a note without a body and 404 for an unknown merge request', async () => {
    const noBody = await call(up, `${web}/merge_requests/1/notes`, { method: 'POST', body: {} });
    expect([noBody.status, noBody.json]).toEqual([
      400,
      { message: '400 Bad request - body is missing' },
    ]);
    const noMr = await call(up, `${web}/merge_requests/9/notes`, {
      method: 'POST',
      body: { body: 'x' },
    });
    expect([noMr.status, noMr.json]).toEqual([404, { message: '404 Not found' }]);
  });

  it('attributes writes to the Sudo user when one is named', async () => {
    const res = await call(up, `${web}/merge_requests/1/notes`, {
      method: 'POST',
      body: { body: 'as bob' },
      headers: { Sudo: 'bob' },
    });
    expect(asObject(res).author).toMatchObject({ id: 2, username: 'bob' });
    const unknown = await call(up, `${web}/merge_requests/1/notes`, {
      method: 'POST',
      body: { body: 'x' },
      headers: { Sudo: 'nobody' },
    });
    expect(unknown.status).toBe(404);
  });
});

describe('request bodies', () => {
  it('answers 400 Bad request for malformed JSON and a JSON body that is not an object', async () => {
    for (const body of ['{"tag_name": ', '[1,2]']) {
      const res = await call(up, `${web}/repository/tags`, { method: 'POST', body });
      expect([res.status, res.json]).toEqual([400, { message: '400 Bad request' }]);
    }
  });

  it('answers 413 for a body over 1 MB and changes nothing', async () => {
    const res = await call(up, `${web}/merge_requests/1/notes`, {
      method: 'POST',
      body: { body: 'x'.repeat(1_100_000) },
    });
    expect([res.status, res.json]).toEqual([413, { message: '413 Request Entity Too Large' }]);
    expect(up.store.notes('acme/apps/web', 1)).toHaveLength(3);
  });
});

describe('request log', () => {
  it('records every request in order with raw paths, statuses and the token redacted', async () => {
    up.clearRequests();
    await call(up, `${web}?statistics=false`, { headers: { Authorization: 'Bearer caller-jwt' } });
    await call(up, `${web}/repository/tags`, {
      method: 'POST',
      body: { tag_name: 'logged', ref: 'main' },
    });
    await call(up, '/projects/102', { token: 'bad' });
    expect(up.requests.map((r) => [r.method, r.path, r.status, r.privateTokenOk])).toEqual([
      ['GET', '/api/v4/projects/acme%2Fapps%2Fweb?statistics=false', 200, true],
      ['POST', '/api/v4/projects/acme%2Fapps%2Fweb/repository/tags', 201, true],
      ['GET', '/api/v4/projects/102', 401, false],
    ]);
    expect(up.requests[0]?.headers['private-token']).toBe('[redacted]');
    expect(JSON.stringify(up.requests)).not.toContain(up.token);
    // Other headers stay verbatim, so tests can prove a caller's token was not forwarded.
    expect(up.requests[0]?.headers.authorization).toBe('Bearer caller-jwt');
  });

  it('lists only POST, PUT, PATCH and DELETE requests as writes', async () => {
    up.clearRequests();
    await call(up, `${web}/releases`);
    expect(up.writes()).toEqual([]);
    await call(up, `${web}/releases/v1.0.0`, { method: 'PUT', body: { name: 'n' } });
    await call(up, `${web}/releases/v1.0.0`, { method: 'PATCH', body: { name: 'n' } });
    await call(up, `${web}/releases/v1.0.0`, { method: 'DELETE' });
    expect(up.writes().map((w) => [w.method, w.status])).toEqual([
      ['PUT', 200],
      ['PATCH', 404],
      ['DELETE', 200],
    ]);
    up.clearRequests();
    expect(up.requests).toEqual([]);
  });
});
