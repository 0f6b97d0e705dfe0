/**
 * What the request-authorizer tests run against: a real Redis started for the test, a profile
 * store on it, and the demo forge (the scenarios' seed) over HTTP with a client for it.
 */
import type { JobTokenPrincipal } from '../../src/auth/principal.js';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile } from '../../src/demo/seed.js';
import {
  createRedisConnection,
  waitUntilReady,
  type RedisConnection,
} from '../../src/store/redis-client.js';
import {
  createRedisProfileStore,
  type RedisProfileStore,
} from '../../src/store/redis-profile-store.js';
import { createUpstreamClient, type UpstreamClient } from '../../src/upstream/client.js';
import { startRedis, type TestRedis } from './redis.js';
import { SCENARIOS_PATH } from './scenarios.js';

export interface AuthorizerWorld {
  readonly server: TestRedis;
  readonly redis: RedisConnection;
  readonly store: RedisProfileStore;
  readonly upstream: DemoUpstream;
  readonly client: UpstreamClient;
  /** Stops all of it. */
  close(): Promise<void>;
}

export async function startAuthorizerWorld(): Promise<AuthorizerWorld> {
  const server = await startRedis();
  const redis = createRedisConnection({ url: server.url, maxReconnectDelayMs: 100 });
  await waitUntilReady(redis);
  const upstream = await startDemoUpstream({ seed: loadSeedFile(SCENARIOS_PATH) });
  const client = createUpstreamClient({ baseUrl: upstream.url, token: upstream.token });
  return {
    server,
    redis,
    store: createRedisProfileStore({ redis }),
    upstream,
    client,
    async close() {
      redis.disconnect();
      await client.close();
      await upstream.close();
      await server.stop();
    },
  };
}

/** A job of bob's (user 2, a member of acme/apps/web) in acme/platform/registry (101). */
export const bobsJob = (expiresAt: number, jti: string): JobTokenPrincipal => ({
  kind: 'job',
  issuer: 'https://forge.test',
  jti,
  expiresAt,
  projectId: 101,
  projectPath: 'acme/platform/registry',
  namespaceId: 11,
  namespacePath: 'acme/platform',
  userId: 2,
  userLogin: 'bob',
  jobId: 1,
  pipelineId: 1,
  ref: 'main',
  refType: 'branch',
  refProtected: true,
});
