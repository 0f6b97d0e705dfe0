/**
 * A project record whose feature level is missing or unknown (an older or unusual forge) is
 * decided as if the feature were `private` (members only): the public floor never opens on a
 * value the gateway cannot read, while the project's members keep their access.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toTargetProject } from '../../src/cache/request-authorizer.js';
import type { RestProject } from '../../src/upstream/types.js';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

const PUBLIC = 'acme/oss-lib';
const RELEASES = `{ project(fullPath: "${PUBLIC}") { releases { nodes { tagName } } } }`;

describe('feature levels the forge did not send or the gateway does not know', () => {
  it('count as private, and only the three known values are taken as they are', () => {
    const base: RestProject = {
      id: 1,
      name: 'x',
      path: 'x',
      path_with_namespace: 'g/x',
      namespace: { id: 2, full_path: 'g' },
      visibility: 'public',
    };
    const target = toTargetProject({
      ...base,
      releases_access_level: 'enabled',
      repository_access_level: 'disabled',
      container_registry_access_level: 'public' as never,
    });
    expect(target.features).toEqual({
      RELEASES: 'enabled',
      TAGS: 'disabled',
      CONTAINERS: 'private',
      MERGE_REQUEST_NOTES: 'private',
    });
  });

  describe('end to end', () => {
    let t: TestGateway;
    let outsider: string;
    const features = () =>
      t.upstream.store.project(PUBLIC).features as unknown as Record<string, unknown>;
    let saved: unknown;

    beforeAll(async () => {
      // The project cache off, so each request sees the record as the forge has it now.
      t = await createTestGateway({ gateway: { projectCache: { size: 0, ttlMs: 0 } } });
      // A job of another group's project: it reads acme/oss-lib's releases only through the
      // public floor.
      outsider = await t.jobToken('globex/portal', 'mallory');
      saved = features()['releases_access_level'];
    });
    afterEach(() => {
      features()['releases_access_level'] = saved;
    });
    afterAll(async () => t.close());

    it('reads a public project’s releases while the forge says the feature is enabled', async () => {
      expect(saved).toBe('enabled');
      const res = await t.gql(RELEASES, {}, { token: outsider });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data).toMatchObject({ project: { releases: { nodes: expect.any(Array) } } });
    });

    for (const [label, change] of [
      ['missing', (f: Record<string, unknown>) => delete f['releases_access_level']],
      ['unknown', (f: Record<string, unknown>) => (f['releases_access_level'] = 'public')],
    ] as const) {
      it(`refuses them when the level is ${label}`, async () => {
        change(features());
        const res = await t.gql(RELEASES, {}, { token: outsider });
        expect(res.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      });
    }
  });
});
