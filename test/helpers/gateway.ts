/**
 * `createTestGateway`: a real gateway over real HTTP, in front of the embedded upstream (also
 * real HTTP), with a generated test issuer. By default the upstream holds the world of
 * `../shared/scenarios/authz-cases.json`; pass `seed` for another world and `policy` (the
 * policy-file shape) for profiles. Nothing is mocked.
 */
import { createAuthenticator } from '../../src/auth/authenticate.js';
import type { IssuerOptions } from '../../src/auth/issuers.js';
import { createMemoryRevocationList } from '../../src/auth/revocation.js';
import type { RevocationList } from '../../src/auth/revocation.js';
import { createJwtVerifier, type JwtVerifierOptions } from '../../src/auth/verifier.js';
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/http-server.js';
import { loadSeedFile, type DemoSeed } from '../../src/demo/seed.js';
import { DEFAULT_INSTANCE_SETTINGS } from '../../src/policy/engine.js';
import { parsePolicyFile } from '../../src/policy/policy-file.js';
import type { InstanceSettings } from '../../src/policy/types.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/server/gateway.js';
import { resolvePolicyFile } from '../../src/store/policy-loader.js';
import { createMemoryProfileStore, type ProfileStore } from '../../src/store/profile-store.js';
import { createUpstreamClient } from '../../src/upstream/client.js';
import { SCENARIOS_PATH } from './scenarios.js';
import { createTestIssuer, type TestIssuer } from './tokens.js';

/** Options of {@link createTestGateway}. */
export interface TestGatewayOptions {
  /** The upstream's world. Default: the scenarios' world. */
  readonly seed?: DemoSeed;
  /** A policy file (raw JSON shape) loaded into the store at start. */
  readonly policy?: unknown;
  readonly instance?: Partial<InstanceSettings>;
  /** Forge user ids of instance admins. */
  readonly adminUserIds?: readonly string[];
  readonly webhookSecret?: string;
  readonly upstreamTimeoutMs?: number;
  /** Default: a fresh in-memory store. */
  readonly store?: ProfileStore;
  /** Default: a fresh in-memory revocation list. */
  readonly revocations?: RevocationList;
  /** Extra issuers besides the generated one (e.g. a remote JWKS). */
  readonly extraIssuers?: readonly IssuerOptions[];
  /** Reuse an upstream (several gateways in front of one forge). */
  readonly upstream?: DemoUpstream;
  /** Verifier options besides `issuers` and `adminUserIds` (JWKS cache timings, lifetime, ...). */
  readonly verifier?: Partial<Omit<JwtVerifierOptions, 'issuers' | 'adminUserIds'>>;
  /** Anything else `startGateway` takes. */
  readonly gateway?: Partial<GatewayOptions>;
}

/** A GraphQL error as it arrives over the wire. */
export interface WireError {
  message: string;
  path?: (string | number)[];
  extensions?: Record<string, unknown> & { code?: string };
}

/** A GraphQL response as it arrives over the wire. */
export interface GqlResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly body: { data?: T | null; errors?: WireError[] };
}

/** Token options for {@link TestGateway.jobToken}. */
export interface JobTokenOptions {
  /** Default true. A string is sent as-is (the forge's `"true"`/`"false"` form). */
  readonly refProtected?: boolean | string;
  /** The `job_token_permissions` claim. */
  readonly jobPermissions?: Record<string, string>;
  /** A `user_login` that differs from the user's name (roles must still come from `user_id`). */
  readonly userLogin?: string;
  /** Override any other claim. */
  readonly claims?: Record<string, unknown>;
}

/** A running gateway with its upstream and issuer. */
export interface TestGateway {
  readonly gateway: Gateway;
  readonly upstream: DemoUpstream;
  readonly issuer: TestIssuer;
  readonly store: ProfileStore;
  readonly revocations: RevocationList;
  readonly seed: DemoSeed;
  /** POSTs a GraphQL request; `token` goes in `Authorization: Bearer`. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    opts?: { token?: string; headers?: Record<string, string> },
  ): Promise<GqlResponse<T>>;
  /** A job token for a job in `sourcePath` triggered by `username` (ids from the seed). */
  jobToken(sourcePath: string, username: string, opts?: JobTokenOptions): Promise<string>;
  /** A user token for `username` (forge user id from the seed). */
  userToken(username: string): Promise<string>;
  /** Replaces every profile with those of a policy file (raw JSON shape). */
  setPolicy(policy: unknown): Promise<void>;
  close(): Promise<void>;
}

/** Starts an upstream (unless given) and a gateway in front of it. */
export async function createTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const seed = options.seed ?? loadSeedFile(SCENARIOS_PATH);
  const ownUpstream = !options.upstream;
  const upstream = options.upstream ?? (await startDemoUpstream({ seed }));
  const issuer = await createTestIssuer();
  const store = options.store ?? createMemoryProfileStore();
  const revocations = options.revocations ?? createMemoryRevocationList();
  if (!options.revocations) await revocations.start();
  const upstreamOptions = {
    baseUrl: upstream.url,
    token: upstream.token,
    timeoutMs: options.upstreamTimeoutMs ?? 5_000,
  };
  const client = createUpstreamClient(upstreamOptions);
  const setPolicy = async (policy: unknown): Promise<void> => {
    await store.replaceAll(await resolvePolicyFile(parsePolicyFile(policy), client));
  };
  if (options.policy !== undefined) await setPolicy(options.policy);
  const verifier = createJwtVerifier({
    ...options.verifier,
    issuers: [issuer.options, ...(options.extraIssuers ?? [])],
    adminUserIds: options.adminUserIds ?? [],
  });
  const gateway = await startGateway({
    upstream: upstreamOptions,
    authenticator: createAuthenticator({ verifier, revocations }),
    revocations,
    store,
    instance: { ...DEFAULT_INSTANCE_SETTINGS, ...options.instance },
    webhookSecret: options.webhookSecret,
    landingPage: false,
    ...options.gateway,
  });

  const user = (username: string) => {
    const u = seed.users.find((x) => x.username === username);
    if (!u) throw new Error(`no user ${username} in the seed`);
    return u;
  };

  return {
    gateway,
    upstream,
    issuer,
    store,
    revocations,
    seed,
    async gql<T>(
      query: string,
      variables?: Record<string, unknown>,
      opts: { token?: string; headers?: Record<string, string> } = {},
    ) {
      const res = await fetch(gateway.graphqlUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...opts.headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      let body: GqlResponse<T>['body'];
      try {
        body = JSON.parse(text) as GqlResponse<T>['body'];
      } catch {
        body = {};
      }
      return { status: res.status, headers: res.headers, text, body };
    },
    async jobToken(sourcePath, username, opts = {}) {
      const project = seed.projects.find((p) => p.path_with_namespace === sourcePath);
      if (!project) throw new Error(`no project ${sourcePath} in the seed`);
      const ns = seed.groups.find((g) => g.id === project.namespace_id);
      const u = user(username);
      const refProtected = opts.refProtected ?? true;
      return issuer.signJobToken({
        project_id: String(project.id),
        project_path: project.path_with_namespace,
        namespace_id: String(project.namespace_id),
        namespace_path: ns?.full_path ?? sourcePath.slice(0, sourcePath.lastIndexOf('/')),
        user_id: String(u.id),
        user_login: opts.userLogin ?? u.username,
        ref_protected:
          typeof refProtected === 'string' ? refProtected : refProtected ? 'true' : 'false',
        ...(opts.jobPermissions ? { job_token_permissions: opts.jobPermissions } : {}),
        ...opts.claims,
      });
    },
    userToken: (username) =>
      issuer.signUserToken(user(username).id, { preferred_username: username }),
    setPolicy,
    async close() {
      await gateway.close();
      if (!options.revocations) await revocations.close();
      if (ownUpstream) await upstream.close();
    },
  };
}
