/**
 * Observability end to end: `GET /metrics` parses as Prometheus text and its counters move with
 * traffic (operations, decisions, upstream calls and errors, rate limits); the request id
 * reaches the upstream; and a whole run's logs (debug level, with failures of every kind)
 * contain no token, credential or secret.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/audit/logger.js';
import { createGatewayMetrics, operationLabel } from '../../src/server/metrics.js';
import { parse } from 'graphql';
import { createTestGateway, type TestGateway } from '../helpers/gateway.js';

const WEB = 'acme/apps/web';
const REGISTRY = 'acme/platform/registry';
const WEBHOOK_SECRET = 'webhook-secret-for-tests-0123456789';

/** One sample of the Prometheus text format. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(,|$)/y;

/** A strict parser of Prometheus' text exposition format 0.0.4; throws on any malformed line. */
function parsePrometheusText(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') {
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(meta[3] ?? ''))
          throw new Error(`bad TYPE line: ${line}`);
        types.set(meta[2] ?? '', meta[3] ?? '');
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`malformed sample line: ${line}`);
    const labels: Record<string, string> = {};
    const raw = m[2] ?? '';
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < raw.length) {
      const l = LABEL.exec(raw);
      if (!l) throw new Error(`malformed labels: ${line}`);
      labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const value = Number(
      (m[3] ?? '').replace(/^\+Inf$/, 'Infinity').replace(/^-Inf$/, '-Infinity'),
    );
    if (Number.isNaN(value) && !/^nan$/i.test(m[3] ?? '')) throw new Error(`bad value: ${line}`);
    const name = m[1] ?? '';
    const family = name.replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(name) && !types.has(family)) throw new Error(`sample without TYPE: ${line}`);
    samples.push({ name, labels, value });
  }
  return { samples, types };
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe('observability', () => {
  let t: TestGateway;
  let logText = '';
  const secrets: string[] = [WEBHOOK_SECRET];

  beforeAll(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        logText += chunk.toString('utf8');
        done();
      },
    });
    t = await createTestGateway({
      webhookSecret: WEBHOOK_SECRET,
      policy: {
        version: 1,
        projects: {
          [REGISTRY]: {
            enforcement: 'ENFORCED',
            entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'READ' } }],
          },
        },
      },
      gateway: {
        metrics: createGatewayMetrics(),
        logger: createLogger({ level: 'trace', destination: stream }),
      },
    });
    secrets.push(t.upstream.token);
  });
  afterAll(async () => t.close());

  async function scrape(): Promise<Sample[]> {
    const res = await fetch(`${t.gateway.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await res.text()).samples;
  }

  it('serves metrics that parse as Prometheus text, with every family typed', async () => {
    const res = await fetch(`${t.gateway.url}/metrics`);
    const { types, samples } = parsePrometheusText(await res.text());
    for (const family of [
      'scopegate_http_requests_total',
      'scopegate_graphql_operations_total',
      'scopegate_graphql_operation_duration_seconds',
      'scopegate_authz_decisions_total',
      'scopegate_upstream_requests_total',
      'scopegate_upstream_request_duration_seconds',
      'scopegate_upstream_circuit_open',
      'scopegate_rate_limit_events_total',
      'scopegate_decision_cache_lookups_total',
      'scopegate_audit_events_dropped_total',
      'process_cpu_user_seconds_total',
    ]) {
      expect(types.has(family) || types.has(family.replace(/_total$/, '')), family).toBe(true);
    }
    expect(valueOf(samples, 'scopegate_audit_events_dropped_total')).toBe(0);
  });

  it('counts operations, decisions and upstream calls as traffic flows', async () => {
    const before = await scrape();
    const token = await t.jobToken(WEB, 'alice');
    secrets.push(token);
    const read = await t.gql(
      `{ project(fullPath: "${REGISTRY}") { releases { nodes { tagName } } } }`,
      {},
      { token },
    );
    expect(read.body.errors).toBeUndefined();
    const write = await t.gql(
      `mutation { releaseCreate(input: { projectPath: "${REGISTRY}", tagName: "v9.9.9", ref: "main" }) { errors } }`,
      {},
      { token },
    );
    expect(write.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(
      delta('scopegate_graphql_operations_total', { operation: 'query:project', outcome: 'ok' }),
    ).toBe(1);
    expect(
      delta('scopegate_graphql_operations_total', {
        operation: 'mutation:releaseCreate',
        outcome: 'error',
      }),
    ).toBe(1);
    expect(delta('scopegate_graphql_errors_total', { code: 'FORBIDDEN' })).toBe(1);
    expect(
      delta('scopegate_authz_decisions_total', {
        result: 'denied',
        resource: 'RELEASES',
        reason: 'ENTRY_LEVEL_TOO_LOW',
      }),
    ).toBe(1);
    expect(
      delta('scopegate_upstream_requests_total', { method: 'GET', result: '2xx' }),
    ).toBeGreaterThan(0);
    expect(
      delta('scopegate_upstream_request_duration_seconds_count', { method: 'GET' }),
    ).toBeGreaterThan(0);
    expect(delta('scopegate_http_requests_total', { route: '/graphql', status: '200' })).toBe(2);
    expect(
      delta('scopegate_graphql_operation_duration_seconds_count', { operation: 'query:project' }),
    ).toBe(1);
    // One token, two requests: verified in full once, then answered from the token cache.
    expect(delta('scopegate_token_cache_lookups_total', { result: 'miss' })).toBe(1);
    expect(delta('scopegate_token_cache_lookups_total', { result: 'hit' })).toBe(1);
    expect(valueOf(after, 'scopegate_token_cache_entries')).toBeGreaterThanOrEqual(1);
    // The write names the project the read loaded: its record comes from the project cache.
    expect(delta('scopegate_project_cache_lookups_total', { result: 'hit' })).toBeGreaterThan(0);
    expect(valueOf(after, 'scopegate_project_cache_entries')).toBeGreaterThanOrEqual(1);
  });

  it('counts upstream errors by class and refused requests by status', async () => {
    const before = await scrape();
    const token = await t.jobToken(WEB, 'alice');
    secrets.push(token);
    const remove = t.upstream.injectFault({ path: /releases$/, kind: 'status', status: 500 });
    const res = await t.gql(
      `{ project(fullPath: "${WEB}") { releases { nodes { tagName } } } }`,
      {},
      { token },
    );
    remove();
    expect(res.body.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    const bad = await t.gql('{ __typename }', {}, { token: `${token.slice(0, -4)}AAAA` });
    expect(bad.status).toBe(401);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) =>
      valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(delta('scopegate_upstream_requests_total', { method: 'GET', result: '5xx' })).toBe(1);
    expect(delta('scopegate_graphql_errors_total', { code: 'UPSTREAM_ERROR' })).toBe(1);
    expect(delta('scopegate_http_requests_total', { route: '/graphql', status: '401' })).toBe(1);
  });

  it('counts concurrent requests that share one forge call for the same project record', async () => {
    const PUBLIC = 'acme/oss-lib';
    const token = await t.jobToken(WEB, 'alice');
    secrets.push(token);
    const before = await scrape();
    t.upstream.clearRequests();
    const remove = t.upstream.injectFault({
      path: '/projects/acme/oss-lib',
      kind: 'delay',
      delayMs: 100,
    });
    const answers = await Promise.all(
      Array.from({ length: 4 }, () =>
        t.gql(`{ project(fullPath: "${PUBLIC}") { fullPath } }`, {}, { token }),
      ),
    );
    remove();
    for (const a of answers) expect(a.body).toEqual({ data: { project: { fullPath: PUBLIC } } });
    const recordCalls = t.upstream.requests.filter(
      (r) => r.method === 'GET' && r.path === `/api/v4/projects/${encodeURIComponent(PUBLIC)}`,
    );
    expect(recordCalls).toHaveLength(1);
    const after = await scrape();
    const delta = (result: string) =>
      valueOf(after, 'scopegate_project_cache_lookups_total', { result }) -
      valueOf(before, 'scopegate_project_cache_lookups_total', { result });
    expect(delta('shared')).toBe(3);
    expect(delta('miss')).toBeGreaterThanOrEqual(4);
  });

  it('sends the request id to the upstream on every call of the request', async () => {
    const token = await t.jobToken(WEB, 'alice');
    secrets.push(token);
    t.upstream.clearRequests();
    const res = await t.gql(
      `{ project(fullPath: "${WEB}") { releases { nodes { tagName } } tags { nodes { name } } } }`,
      {},
      { token, headers: { 'x-request-id': 'req-observability-1' } },
    );
    expect(res.headers.get('x-request-id')).toBe('req-observability-1');
    expect(t.upstream.requests.length).toBeGreaterThan(1);
    for (const r of t.upstream.requests)
      expect(r.headers['x-request-id']).toBe('req-observability-1');
  });

  it('names operations by type and root fields, never by the client-chosen name', () => {
    const doc = parse(
      'query Anything { b: project(fullPath: "x") { name } project(fullPath: "y") { id } }',
    );
    const op = doc.definitions[0];
    expect(operationLabel(op?.kind === 'OperationDefinition' ? op : undefined)).toBe(
      'query:project',
    );
    expect(operationLabel(undefined)).toBe('invalid');
  });

  it('writes no token, credential or secret into the logs of the whole run', async () => {
    const user = await t.userToken('alice');
    secrets.push(user);
    await t.gql(`{ project(fullPath: "${WEB}") { name } }`, {}, { token: user });
    await t.gql('{ __typename }', {}, { headers: { authorization: `Bearer ${user}x` } });
    await fetch(`${t.gateway.url}/hooks/job-events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-token': `${WEBHOOK_SECRET}-wrong` },
      body: JSON.stringify({ object_kind: 'build', build_id: 1, build_status: 'success' }),
    });
    expect(logText.length).toBeGreaterThan(0);
    expect(logText).toMatch(/"event":"authz.denied"/);
    for (const secret of secrets) {
      expect(logText).not.toContain(secret);
      // Nor a recognisable part of one (a JWT's signature segment).
      const tail = secret.split('.').pop() ?? secret;
      expect(logText).not.toContain(tail.slice(-24));
    }
    expect(logText).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});
