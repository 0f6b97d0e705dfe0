/**
 * `scopegate serve`: starts the gateway from the environment and optional config file. In
 * `--demo` it prints the GraphQL URL and ready-to-paste example tokens for the seed.
 */
import { parseArgs } from 'node:util';
import { loadConfig, unknownSettingVariables } from '../config/config.js';
import { redactConfig } from '../config/redact.js';
import { bootstrap, type Running } from './bootstrap.js';
import { devKeyFilePath, exampleTokens } from './dev-tokens.js';

/** Runs `scopegate serve`; resolves when the server has stopped after SIGTERM/SIGINT. */
export async function runServe(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      demo: { type: 'boolean', default: false },
      seed: { type: 'string' },
      policy: { type: 'string' },
      config: { type: 'string' },
      'print-config': { type: 'boolean', default: false },
    },
  });
  // Before loading: a misspelt required setting is named with its fix, then reported missing.
  for (const { name, suggestion } of unknownSettingVariables(process.env))
    process.stderr.write(
      `scopegate: warning: "${name}" is not a setting and is ignored${suggestion ? ` (did you mean "${suggestion}"?)` : ''}\n`,
    );
  const config = loadConfig(process.env, { file: values.config, demo: values.demo });
  if (values['print-config']) {
    process.stdout.write(`${JSON.stringify(redactConfig(config), null, 2)}\n`);
    return;
  }
  const devKeyFile = devKeyFilePath();
  const running = await bootstrap(config, {
    seedPath: values.seed,
    policyPath: values.policy,
    devKeyFile,
  });
  await printBanner(running, devKeyFile);
  await waitForStopSignal();
  process.stderr.write(
    `scopegate: shutting down; waiting up to ${config.shutdownGraceMs} ms for in-flight requests\n`,
  );
  // A second signal, or a close that hangs well past the grace period, exits at once.
  const hard = (): void => {
    process.stderr.write('scopegate: shutdown did not finish; exiting\n');
    process.exit(1);
  };
  process.once('SIGTERM', hard);
  process.once('SIGINT', hard);
  setTimeout(hard, config.shutdownGraceMs + 5_000).unref();
  await running.close();
  process.off('SIGTERM', hard);
  process.off('SIGINT', hard);
}

/** Resolves on the first SIGTERM or SIGINT. */
function waitForStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

async function printBanner(running: Running, keyFile: string): Promise<void> {
  const out: string[] = [
    `scopegate listening: ${running.gateway.graphqlUrl} (NODE_ENV=${process.env['NODE_ENV'] ?? ''})`,
  ];
  if (running.demoUpstream && running.devSigner && running.seed) {
    out.push(
      `demo upstream (GitLab REST v4 subset): ${running.demoUpstream.url}`,
      `dev signing key: JWKS at ${running.gateway.url}/-/jwks.json, private key in ${keyFile} (for "scopegate token mint")`,
      '',
      'Example tokens (send as "Authorization: Bearer <token>"):',
    );
    for (const t of await exampleTokens(running.devSigner, running.seed))
      out.push('', `# ${t.label}`, t.token);
    out.push(
      '',
      'Try, in the page above or with curl (TOKEN=<one of the tokens above>):',
      `  curl -s ${running.gateway.graphqlUrl} -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" \\`,
      `    -d '{"query":"{ project(fullPath: \\"acme/platform/registry\\") { jobTokenPermissions { resource level reason explanation } releases { nodes { tagName name } } } }"}'`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
}
