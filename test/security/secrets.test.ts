/**
 * Secrets never leave: a mixed workload on a fleet-mode gateway (reads, denials, writes,
 * management changes, bad and revoked tokens, the job-events webhook, upstream faults and a
 * Redis outage), then every log line, every response (bodies and error texts), every metric
 * sample of `GET /metrics` and every value Redis holds (audit and authorization log included)
 * is searched for the tokens, the upstream credential and the webhook secret.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/audit/logger.js';
import { createGatewayMetrics } from '../../src/server/metrics.js';
import { createFleetGateway, type FleetGateway } from '../helpers/redis-fleet.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const TARGET = 'acme/platform/registry';
const SOURCE = 'acme/apps/web';
const WEBHOOK_SECRET = 'whsec-0f1e2d3c4b5a69788796a5b4c3d2e1f0';

describe('no secret in logs, responses, metrics or Redis', () => {
  let redis: TestRedis;
  let g: FleetGateway;
  let logText = '';
  const seen: string[] = [];
  const secrets: string[] = [WEBHOOK_SECRET];

  beforeAll(async () => {
    redis = await startRedis();
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        logText += chunk.toString('utf8');
        done();
      },
    });
    g = await createFleetGateway(redis.url, {
      webhookSecret: WEBHOOK_SECRET,
      upstreamTimeoutMs: 500,
      policy: {
        version: 1,
        projects: {
          [TARGET]: {
            enforcement: 'AUDIT',
            entries: [{ source: 'acme/apps', kind: 'GROUP', permissions: { RELEASES: 'WRITE' } }],
          },
        },
      },
      gateway: {
        metrics: createGatewayMetrics(),
        logger: createLogger({ level: 'trace', destination }),
      },
    });
    secrets.push(g.upstream.token);
    // The signing key itself is a non-extractable CryptoKey: no code path can print it. What
    // it signs can be, so every token minted below is on the list.
  });
  afterAll(async () => {
    await g.close();
    await redis.stop();
  });

  const remember = (text: string): void => void seen.push(text);

  it('runs a mixed workload, then finds no secret anywhere it wrote', async () => {
    const job = await g.jobToken(SOURCE, 'alice');
    const bot = await g.jobToken('acme/bots/remediator', 'remediator-bot', {
      claims: { job_id: '880001' },
    });
    const maintainer = await g.userToken('carol');
    secrets.push(job, bot, maintainer);
    const read = `{ project(fullPath: "${TARGET}") { releases { nodes { name } } tags { nodes { name } } mergeRequest(iid: "1") { notes { nodes { body } } } } }`;

    for (const token of [job, bot, maintainer, undefined])
      remember((await g.gql(read, {}, token ? { token } : {})).text);
    remember(
      (
        await g.gql(
          `mutation { releaseCreate(input: { projectPath: "${TARGET}", tagName: "v-secrets", ref: "main" }) { errors } }`,
          {},
          { token: job },
        )
      ).text,
    );
    remember(
      (
        await g.gql(
          `mutation { jobTokenScopeSetEnforcement(input: { projectPath: "${TARGET}", mode: ENFORCED }) { errors } }`,
          {},
          { token: maintainer },
        )
      ).text,
    );
    // Bad tokens of every kind: tampered, truncated, in the JOB-TOKEN header, unsigned.
    remember((await g.gql(read, {}, { token: `${job.slice(0, -4)}AAAA` })).text);
    remember((await g.gql(read, {}, { token: job.slice(0, 40) })).text);
    remember((await g.gql(read, {}, { headers: { 'job-token': `${bot}x` } })).text);
    // The job-events webhook: a wrong secret, then the right one revoking the bot's job.
    for (const secret of [`${WEBHOOK_SECRET}-wrong`, WEBHOOK_SECRET]) {
      const res = await fetch(`${g.gateway.url}/hooks/job-events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gitlab-token': secret },
        body: JSON.stringify({
          object_kind: 'build',
          build_id: 880001,
          build_status: 'success',
          build_finished_at: new Date().toISOString(),
        }),
      });
      remember(await res.text());
    }
    remember((await g.gql(read, {}, { token: bot })).text);
    // Upstream faults and a Redis outage.
    g.upstream.injectFault({
      path: /releases/,
      kind: 'status',
      status: 500,
      body: g.upstream.token,
      times: 1,
    });
    g.upstream.injectFault({ path: /repository\/tags/, kind: 'delay', delayMs: 1_000, times: 1 });
    remember((await g.gql(read, {}, { token: job })).text);
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1_200));
    remember((await g.gql(read, {}, { token: await g.jobToken(SOURCE, 'bob') })).text);
    await redis.restart();
    await new Promise((r) => setTimeout(r, 500));
    remember((await g.gql(read, {}, { token: job })).text);

    const metrics = await (await fetch(`${g.gateway.url}/metrics`)).text();
    const stored: string[] = [];
    for (const key of await g.redis.keys('*')) {
      const type = await g.redis.type(key);
      if (type === 'string') stored.push(key, (await g.redis.get(key)) ?? '');
      else if (type === 'hash') stored.push(key, JSON.stringify(await g.redis.hgetall(key)));
      else if (type === 'stream')
        stored.push(key, JSON.stringify(await g.redis.xrange(key, '-', '+')));
      else if (type === 'list') stored.push(key, JSON.stringify(await g.redis.lrange(key, 0, -1)));
      else if (type === 'set') stored.push(key, JSON.stringify(await g.redis.smembers(key)));
      else if (type === 'zset') stored.push(key, JSON.stringify(await g.redis.zrange(key, 0, -1)));
    }

    expect(logText).toMatch(/"event":"authz\./);
    expect(metrics).toMatch(/^# TYPE /m);
    const places: Record<string, string> = {
      logs: logText,
      responses: seen.join('\n'),
      metrics,
      redis: stored.join('\n'),
    };
    const found: string[] = [];
    for (const [place, text] of Object.entries(places))
      for (const secret of secrets) {
        // The whole secret, or a recognisable part of it (a JWT's signature segment).
        const tail = (secret.split('.').pop() ?? secret).slice(-24);
        if (text.includes(secret) || text.includes(tail))
          found.push(`${place}: ${secret.slice(0, 8)}…`);
      }
    expect(found).toEqual([]);
    for (const text of Object.values(places)) expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}\./);
  });
});
