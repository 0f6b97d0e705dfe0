/**
 * Builds a running scopegate from a `ResolvedConfig`: in `--demo`, the embedded upstream, an
 * in-memory store, a dev signing key served as JWKS, and the seed's policy; otherwise the
 * configured upstream, issuers and Redis (`bootstrap-fleet.ts`).
 */
import { createLogger } from '../audit/logger.js';
import { createAuthenticator } from '../auth/authenticate.js';
import { createDevSigner, type DevSigner } from '../auth/dev-keys.js';
import type { IssuerOptions } from '../auth/issuers.js';
import { createMemoryRevocationList } from '../auth/revocation.js';
import type { ResolvedConfig } from '../config/config.js';
import { startDemoUpstream, type DemoUpstream } from '../demo/http-server.js';
import { defaultSeedPath, loadSeedFile, type DemoSeed } from '../demo/seed.js';
import { parsePolicyFile } from '../policy/policy-file.js';
import { startGateway, type Gateway } from '../server/gateway.js';
import { sendJson } from '../server/http-utils.js';
import { resolvePolicyFile } from '../store/policy-loader.js';
import { createMemoryProfileStore } from '../store/profile-store.js';
import { createUpstreamClient } from '../upstream/client.js';
import { withEntryHistory } from './policy.js';
import { bootstrapFleet } from './bootstrap-fleet.js';
import { openDevSigner } from './dev-tokens.js';
import {
  gatewayOptionsFromConfig,
  profileStoreOptionsFromConfig,
  readPolicyFile,
  upstreamOptionsFromConfig,
  verifierFromConfig,
} from './gateway-options.js';

/** What to start besides the configuration. */
export interface BootstrapOptions {
  /** `--seed FILE` (demo): a seed or a scenarios file. Default: `demo/seed.json`. */
  readonly seedPath?: string | undefined;
  /** `--policy FILE`: profiles to load at start (demo: overrides the seed's `policy`). */
  readonly policyPath?: string | undefined;
  /**
   * Demo: the dev key file to sign with, shared with other demos and `token mint` (reused when
   * valid, else written; see `openDevSigner`). Default: a fresh key that no file holds.
   */
  readonly devKeyFile?: string | undefined;
}

/** A started scopegate. */
export interface Running {
  readonly gateway: Gateway;
  readonly config: ResolvedConfig;
  /** Demo only. */
  readonly demoUpstream?: DemoUpstream;
  readonly devSigner?: DevSigner;
  readonly seed?: DemoSeed;
  close(): Promise<void>;
}

/** The path the demo serves its dev JWKS on. */
export const DEV_JWKS_PATH = '/-/jwks.json';

/** Starts scopegate as configured. */
export async function bootstrap(
  config: ResolvedConfig,
  options: BootstrapOptions = {},
): Promise<Running> {
  if (!config.demo) return bootstrapFleet(config, options);
  const seed = loadSeedFile(options.seedPath ?? defaultSeedPath());
  const demoUpstream = await startDemoUpstream({ seed });
  // Whatever fails from here on (a policy file over the entry limits or with an unknown path,
  // a port in use) stops what was started, so a failed start leaves nothing running.
  const closers: (() => Promise<void>)[] = [() => demoUpstream.close()];
  try {
    const upstreamOptions = upstreamOptionsFromConfig(config, demoUpstream.url, demoUpstream.token);
    const devSigner =
      options.devKeyFile === undefined
        ? await createDevSigner()
        : await openDevSigner(options.devKeyFile);
    const issuers: IssuerOptions[] = [
      ...config.issuers,
      { issuer: devSigner.issuer, kind: 'any', audience: devSigner.audience, jwks: devSigner.jwks },
    ];
    const store = createMemoryProfileStore([], profileStoreOptionsFromConfig(config));
    const rawPolicy = options.policyPath ? readPolicyFile(options.policyPath) : seed.policy;
    if (rawPolicy !== undefined) {
      const profiles = await resolvePolicyFile(
        parsePolicyFile(rawPolicy),
        createUpstreamClient(upstreamOptions),
      );
      // Created now, so the compliance report does not call the demo's entries unused.
      await store.replaceAll(withEntryHistory([], profiles, new Date()).profiles);
    }
    const revocations = createMemoryRevocationList();
    await revocations.start();
    closers.push(() => revocations.close());
    const verifier = verifierFromConfig(config, issuers);

    const gateway = await startGateway({
      upstream: upstreamOptions,
      authenticator: createAuthenticator({ verifier, revocations }),
      revocations,
      store,
      ...gatewayOptionsFromConfig(config),
      logger: createLogger({ level: config.logLevel }),
      extraRoutes: {
        [DEV_JWKS_PATH]: (_req, res) => sendJson(res, 200, devSigner.jwks),
      },
    });
    return {
      gateway,
      config,
      demoUpstream,
      devSigner,
      seed,
      async close() {
        await gateway.close();
        await revocations.close();
        await store.close();
        await demoUpstream.close();
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close();
    throw err;
  }
}
