/**
 * The `scopegate` command: `serve`, `demo-upstream`, `token mint`, `check`, `policy`.
 * Configuration mistakes print one line naming the setting and exit 2.
 */
import { ConfigError } from '../config/config.js';
import { installCrashHandlers } from './crash.js';

const USAGE = `usage:
  scopegate serve [--demo] [--seed FILE] [--policy FILE] [--config FILE] [--print-config]
  scopegate demo-upstream [--seed FILE] [--port N]
  scopegate token mint --project SOURCE --user U [--protected] [--permissions releases=write,...] [--seed FILE] [--expires-in SECONDS]
  scopegate token mint --person --user U [--seed FILE] [--expires-in SECONDS]
  scopegate check --source S --target T --user U [--protected] [--demo [--seed FILE] [--policy FILE]] [--config FILE] [--json]
  scopegate policy export [-o FILE] | import FILE [--apply]`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    // Each command is loaded only when it runs: `token mint` need not load Apollo.
    case 'serve':
      // A server runs in production mode unless told otherwise, as the Docker image does:
      // graphql-js reads NODE_ENV once, when first imported (below), and its development
      // checks (a realm check on every failed `instanceof`) cost about 4% of a request's CPU.
      process.env['NODE_ENV'] ??= 'production';
      return (await import('./serve.js')).runServe(rest);
    case 'demo-upstream':
      return (await import('../demo/cli.js')).runDemoUpstreamCommand(rest);
    case 'policy':
      return (await import('./policy.js')).runPolicy(rest);
    case 'token':
      if (rest[0] === 'mint') return (await import('./token.js')).runTokenMint(rest.slice(1));
      break;
    case 'check':
      return (await import('./check.js')).runCheck(rest);
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
  }
  process.stderr.write(`scopegate: unknown command "${argv.join(' ')}"\n${USAGE}\n`);
  process.exitCode = 2;
}

/**
 * For a failed forge call, which forge: the origin of `SCOPEGATE_UPSTREAM_URL` (validation
 * refuses credentials in it; only scheme, host and port are shown anyway).
 */
function forgeHint(err: unknown): string {
  const code = (err as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  if (code !== 'UPSTREAM_UNAVAILABLE' && code !== 'UPSTREAM_ERROR') return '';
  const url = process.env['SCOPEGATE_UPSTREAM_URL'];
  let origin = 'the configured forge';
  try {
    if (url) origin = new URL(url).origin;
  } catch {
    // not a URL: configuration would have refused it; keep the generic name
  }
  return ` (calling ${origin}; check SCOPEGATE_UPSTREAM_URL and that the forge answers)`;
}

installCrashHandlers();

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || (err instanceof Error && err.name === 'PolicyFileError')) {
    process.stderr.write(`scopegate: ${err.message}\n`);
  } else if (
    err instanceof Error &&
    'code' in err &&
    typeof err.code === 'string' &&
    err.code.startsWith('ERR_PARSE_ARGS')
  ) {
    process.stderr.write(`scopegate: ${err.message}\n${USAGE}\n`);
  } else {
    process.stderr.write(
      `scopegate: ${err instanceof Error ? err.message : String(err)}${forgeHint(err)}\n`,
    );
  }
  process.exitCode = process.exitCode || 2;
});
