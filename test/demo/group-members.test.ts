/**
 * `GET /groups/:id/members/all/:user_id` on the demo forge, as the forge's REST API answers it:
 * the member with its `access_level`, memberships inherited from parent groups included, and
 * `404 Not found` for anyone else. The gateway calls it to let a group's members add that
 * (private) group to an allowlist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import { asObject, call, DEMO_SEED_PATH, enc } from './fixtures.js';

const CAROL = 5; // Owner of the acme group (demo/seed.json), nothing else
const MALLORY = 4; // Maintainer of globex
const ALICE = 1; // project memberships only

let demo: DemoUpstream;

beforeAll(async () => {
  demo = await startDemoUpstream({ seed: loadSeedFile(DEMO_SEED_PATH) });
});
afterAll(async () => {
  await demo.close();
});

describe('GET /groups/:id/members/all/:user_id', () => {
  it('returns a direct member of the group with its access level, by group id and by path', async () => {
    const byId = asObject(await call(demo, `/groups/10/members/all/${CAROL}`));
    expect(byId).toEqual({
      id: CAROL,
      username: 'carol',
      name: 'Carol Owner',
      state: 'active',
      avatar_url: null,
      web_url: expect.stringMatching(/\/carol$/) as unknown,
      access_level: 50,
      expires_at: null,
      membership_state: 'active',
    });
    expect(asObject(await call(demo, `/groups/${enc('acme')}/members/all/${CAROL}`))).toEqual(byId);
    expect(asObject(await call(demo, `/groups/20/members/all/${MALLORY}`)).access_level).toBe(40);
  });

  it('includes memberships inherited from every parent group', async () => {
    for (const group of ['acme/apps', 'acme/platform', 'acme/bots']) {
      const res = await call(demo, `/groups/${enc(group)}/members/all/${CAROL}`);
      expect([res.status, asObject(res).access_level]).toEqual([200, 50]);
    }
  });

  it('answers 404 Not found for a user who is no member of the group or its parents, or unknown', async () => {
    for (const path of [
      `/groups/13/members/all/${ALICE}`, // a member of projects in acme/apps, not of the group
      `/groups/20/members/all/${CAROL}`, // Owner of acme, not of globex
      `/groups/13/members/all/${MALLORY}`,
      '/groups/10/members/all/999',
      '/groups/10/members/all/carol', // by user id only, as the forge
    ]) {
      const res = await call(demo, path);
      expect([path, res.status, res.json]).toEqual([path, 404, { message: '404 Not found' }]);
    }
  });

  it('answers 404 Group Not Found for an unknown group', async () => {
    for (const group of ['99', enc('acme/nope')]) {
      const res = await call(demo, `/groups/${group}/members/all/${CAROL}`);
      expect([res.status, res.json]).toEqual([404, { message: '404 Group Not Found' }]);
    }
  });
});
