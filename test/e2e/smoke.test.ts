import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

describe('gateway smoke', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await createTestGateway({
      policy: {
        version: 1,
        projects: {
          'acme/platform/registry': {
            enforcement: 'ENFORCED',
            entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
          },
        },
      },
    });
  });
  afterAll(async () => t.close());

  it('lets an allowlisted job read releases of another project and denies its write without calling the upstream', async () => {
    const token = await t.jobToken('acme/apps/web', 'alice');
    const read = await t.gql<{ project: { releases: { nodes: { name: string }[] } } }>(
      '{ project(fullPath: "acme/platform/registry") { releases { nodes { name } } } }',
      {},
      { token },
    );
    expect(read.status).toBe(200);
    expect(read.body.errors).toBeUndefined();
    expect(read.body.data?.project.releases.nodes.length).toBeGreaterThan(0);
    t.upstream.clearRequests();
    const write = await t.gql(
      'mutation { releaseCreate(input: { projectPath: "acme/platform/registry", tagName: "v9.9.9", ref: "main" }) { release { tagName } errors } }',
      {},
      { token },
    );
    expect(write.body.errors?.[0]?.extensions).toMatchObject({
      code: 'FORBIDDEN',
      resource: 'RELEASES',
      requiredLevel: 'WRITE',
      grantedLevel: 'READ',
      reason: 'ENTRY_LEVEL_TOO_LOW',
    });
    expect(t.upstream.writes()).toEqual([]);
  });
});
