/**
 * `scopegate check --source S --target T --user U [--protected]`: what a job in S triggered by
 * U may do in T, resource by resource, with the reason code and the sentence the API gives.
 * It runs the gateway's own decision path (request authorizer, engine, explanations) against
 * the configured forge and policy store; with `--demo`, against the embedded forge and the
 * seed's (or `--policy`'s) profiles. Nothing is signed and no token is involved.
 */
import { parseArgs } from 'node:util';
import type { JobTokenPrincipal } from '../auth/principal.js';
import { createRequestAuthorizer } from '../cache/request-authorizer.js';
import { ConfigError, loadConfig, type ResolvedConfig } from '../config/config.js';
import { startDemoUpstream } from '../demo/http-server.js';
import { defaultSeedPath, loadSeedFile } from '../demo/seed.js';
import { explainDecision } from '../policy/explain.js';
import { parsePolicyFile } from '../policy/policy-file.js';
import { RESOURCES } from '../policy/types.js';
import { resolvePolicyFile } from '../store/policy-loader.js';
import { createMemoryProfileStore, type ProfileStore } from '../store/profile-store.js';
import { createRedisConnection, waitUntilReady } from '../store/redis-client.js';
import { createRedisProfileStore } from '../store/redis-profile-store.js';
import {
  createUpstreamClient,
  encodeId,
  type UpstreamClient,
  type UpstreamClientOptions,
} from '../upstream/client.js';
import { createUpstreamLoaders } from '../upstream/loaders.js';
import type { RestProject, RestUser } from '../upstream/types.js';
import {
  profileStoreOptionsFromConfig,
  readJsonFile,
  redisConnectionFromConfig,
} from './gateway-options.js';

/** One row of the table. */
export interface PermissionRow {
  readonly resource: string;
  readonly level: string;
  readonly reason: string;
  readonly explanation: string;
}

/** Renders rows as an aligned plain-text table with a header. */
export function formatPermissionTable(rows: readonly PermissionRow[]): string {
  const header: PermissionRow = {
    resource: 'RESOURCE',
    level: 'LEVEL',
    reason: 'REASON',
    explanation: 'EXPLANATION',
  };
  const all = [header, ...rows];
  const w = (k: keyof PermissionRow) => Math.max(...all.map((r) => r[k].length));
  const [wr, wl, wn] = [w('resource'), w('level'), w('reason')];
  return all
    .map((r) =>
      `${r.resource.padEnd(wr)}  ${r.level.padEnd(wl)}  ${r.reason.padEnd(wn)}  ${r.explanation}`.trimEnd(),
    )
    .join('\n');
}

/** Where the decision's inputs come from, and how to let go of them. */
interface Sources {
  readonly upstream: UpstreamClient;
  readonly store: ProfileStore;
  close(): Promise<void>;
}

async function demoSources(
  config: ResolvedConfig,
  seedPath?: string,
  policyPath?: string,
): Promise<Sources> {
  const seed = loadSeedFile(seedPath ?? defaultSeedPath());
  const forge = await startDemoUpstream({ seed });
  const upstream = createUpstreamClient({ baseUrl: forge.url, token: forge.token });
  const store = createMemoryProfileStore([], profileStoreOptionsFromConfig(config));
  try {
    const raw = policyPath ? readJson(policyPath) : seed.policy;
    if (raw !== undefined)
      await store.replaceAll(await resolvePolicyFile(parsePolicyFile(raw), upstream));
  } catch (err) {
    await forge.close();
    throw err;
  }
  return { upstream, store, close: () => forge.close() };
}

async function configuredSources(config: ResolvedConfig): Promise<Sources> {
  const { url, token, timeoutMs } = config.upstream;
  if (!url || !token)
    throw new ConfigError('"SCOPEGATE_UPSTREAM_URL" and "SCOPEGATE_UPSTREAM_TOKEN" are required');
  const options: UpstreamClientOptions = { baseUrl: url, token, timeoutMs };
  const redis = createRedisConnection(redisConnectionFromConfig(config));
  try {
    await waitUntilReady(redis, 5_000);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const store = createRedisProfileStore({ redis, ...profileStoreOptionsFromConfig(config) });
  return {
    upstream: createUpstreamClient(options),
    store,
    close: async () => {
      await store.close();
      redis.disconnect();
    },
  };
}

function readJson(path: string): unknown {
  return readJsonFile(path, '"--policy" file').raw;
}

async function findUser(upstream: UpstreamClient, user: string): Promise<RestUser> {
  if (/^\d+$/.test(user)) {
    const found = await upstream.find<RestUser>(`users/${user}`);
    if (found) return found;
  } else {
    const list = await upstream.list<RestUser>('users', { username: user });
    const found = list.items.find((u) => u.username === user);
    if (found) return found;
  }
  throw new ConfigError(`"--user": no forge user "${user}"`);
}

/** The principal `check` decides for: a job on `ref` of `source`, triggered by `user`. */
function jobPrincipal(
  source: RestProject,
  user: RestUser,
  refProtected: boolean,
): JobTokenPrincipal {
  return {
    kind: 'job',
    issuer: 'scopegate check',
    jti: 'scopegate-check',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    projectId: source.id,
    projectPath: source.path_with_namespace,
    namespaceId: source.namespace.id,
    namespacePath: source.namespace.full_path,
    userId: user.id,
    userLogin: user.username,
    jobId: 0,
    pipelineId: 0,
    ref: 'main',
    refType: 'branch',
    refProtected,
  };
}

/** Computes the rows for one (source, target, user). */
export async function checkPermissions(
  sources: Pick<Sources, 'upstream' | 'store'>,
  config: Pick<ResolvedConfig, 'enforceAllowlistEverywhere' | 'defaultEnforcement'>,
  args: { source: string; target: string; user: string; protected: boolean },
): Promise<{ heading: string; rows: PermissionRow[] }> {
  const { upstream, store } = sources;
  const source = await upstream.find<RestProject>(`projects/${encodeId(args.source)}`);
  if (!source) throw new ConfigError(`"--source": no forge project "${args.source}"`);
  const user = await findUser(upstream, args.user);
  const principal = jobPrincipal(source, user, args.protected);
  const authz = createRequestAuthorizer(principal, createUpstreamLoaders(upstream, {}), {
    store,
    instance: {
      enforceAllowlistEverywhere: config.enforceAllowlistEverywhere,
      defaultEnforcement: config.defaultEnforcement,
    },
  });
  const decision = await authz.forProjectRef(args.target);
  if (!decision) throw new ConfigError(`"--target": no forge project "${args.target}"`);
  const explain = authz.explainContext(decision);
  const rows = RESOURCES.map((resource) => {
    const r = decision.set.resources[resource];
    return {
      resource,
      level: r.level,
      reason: r.auditWouldDeny ? `${r.reason} (AUDIT would deny)` : r.reason,
      explanation: explainDecision(decision.set, resource, explain),
    };
  });
  const heading =
    `job in ${source.path_with_namespace} triggered by ${user.username} ` +
    `(${args.protected ? 'protected' : 'unprotected'} ref) -> ${decision.project.path_with_namespace}`;
  return { heading, rows };
}

/** Runs `scopegate check`. */
export async function runCheck(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      source: { type: 'string' },
      target: { type: 'string' },
      user: { type: 'string' },
      protected: { type: 'boolean', default: false },
      demo: { type: 'boolean', default: false },
      seed: { type: 'string' },
      policy: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.source || !values.target || !values.user)
    throw new ConfigError('"check" needs --source S --target T --user U');
  // Nothing is verified here, so the gateway's issuers are not needed: load as for --demo
  // (which requires no issuer), then `configuredSources` requires the forge and Redis it uses.
  const config = loadConfig(process.env, { file: values.config, demo: true });
  const sources = values.demo
    ? await demoSources(config, values.seed, values.policy)
    : await configuredSources(config);
  try {
    const { heading, rows } = await checkPermissions(sources, config, {
      source: values.source,
      target: values.target,
      user: values.user,
      protected: values.protected,
    });
    process.stdout.write(
      values.json
        ? `${JSON.stringify(rows, null, 2)}\n`
        : `${heading}\n\n${formatPermissionTable(rows)}\n`,
    );
  } finally {
    await sources.close();
  }
}
