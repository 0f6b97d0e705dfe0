import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

const TARGET = 'acme/platform/registry';

/** The value of an unlabelled counter in Prometheus text format. */
function counter(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : Number.NaN;
}

describe('audit drops in the metrics', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await createTestGateway({
      // Room for one group of checks and no flush: every check that would open another drops
      // (counted when it is folded in: by a batch, a flush, or a /metrics scrape).
      gateway: { management: { authLogBufferSize: 1, authLogFlushIntervalMs: 3_600_000 } },
      policy: {
        version: 1,
        projects: {
          [TARGET]: {
            enforcement: 'ENFORCED',
            entries: [{ source: 'acme/apps', kind: 'GROUP', defaultPermissions: true }],
          },
        },
      },
    });
  });
  afterAll(async () => t.close());

  it('counts every usage event dropped by a full buffer in scopegate_audit_events_dropped_total, while requests succeed', async () => {
    const metric = 'scopegate_audit_events_dropped_total';
    const before = counter(await (await fetch(`${t.gateway.url}/metrics`)).text(), metric);
    expect(before).toBe(0);
    const token = await t.jobToken('acme/apps/web', 'alice');
    for (let i = 0; i < 5; i++) {
      const res = await t.gql(
        `{ project(fullPath: "${TARGET}") { releases { nodes { tagName } } tags { nodes { name } } } }`,
        {},
        { token },
      );
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
    }
    const after = counter(await (await fetch(`${t.gateway.url}/metrics`)).text(), metric);
    // The first check folded in opens the one group; every check of the other resource would
    // open a second, and drops: one per request.
    expect(after).toBe(5);
  });
});
