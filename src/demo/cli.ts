/**
 * `scopegate demo-upstream [--seed FILE] [--port N] [--host H] [--token T]`: serves the demo
 * upstream on its own, e.g. to point a separately started gateway at it.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_DEMO_UPSTREAM_TOKEN, startDemoUpstream } from './http-server.js';
import { defaultSeedPath, loadSeedFile } from './seed.js';

const USAGE = `Usage: scopegate demo-upstream [--seed FILE] [--port N] [--host HOST] [--token TOKEN]
                                [--latency MS]

Serves the forge REST API v4 subset scopegate uses, from an in-memory world.
  --seed FILE    seed or scenarios file (default: demo/seed.json of the package)
  --port N       port to listen on, 0 for a free one (default: 0)
  --host HOST    address to bind (default: 127.0.0.1)
  --token TOKEN  PRIVATE-TOKEN to require (default: ${DEFAULT_DEMO_UPSTREAM_TOKEN})
  --latency MS   send every answer MS milliseconds after making it, as a forge across a
                 network would (default: 0)
`;

function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  const port = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(port) || port > 65_535)
    throw new Error('"--port" must be an integer from 0 to 65535');
  return port;
}

/**
 * Runs the `demo-upstream` command: starts the server, prints its URL, and resolves once it
 * has stopped after SIGINT or SIGTERM. `argv` are the arguments after the command name (a
 * leading `demo-upstream` is skipped). Bad arguments or a bad seed throw, naming the option.
 */
export async function runDemoUpstreamCommand(argv: string[]): Promise<void> {
  const args = argv[0] === 'demo-upstream' ? argv.slice(1) : argv;
  let values: {
    seed?: string;
    port?: string;
    host?: string;
    token?: string;
    latency?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        seed: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        token: { type: 'string' },
        latency: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.token === '') throw new Error('"--token" must not be empty');
  const port = parsePort(values.port);
  const latencyMs = values.latency === undefined ? 0 : Number(values.latency);
  if (!/^\d+$/.test(values.latency ?? '0') || latencyMs > 60_000)
    throw new Error('"--latency" must be an integer from 0 to 60000');
  const seedPath = values.seed ?? defaultSeedPath();
  const seed = loadSeedFile(seedPath);
  const upstream = await startDemoUpstream({
    seed,
    port,
    host: values.host,
    token: values.token,
    latencyMs,
  });
  // The token is printed only when it is the well-known default, never one given on the
  // command line.
  const tokenHint =
    values.token === undefined
      ? `the default demo token "${DEFAULT_DEMO_UPSTREAM_TOKEN}"`
      : 'the one given by --token';
  process.stdout.write(
    `demo upstream listening on ${upstream.url}\n` +
      `  seed ${seedPath}: ${seed.projects.length} projects, ${seed.users.length} users\n` +
      `  requests must carry PRIVATE-TOKEN: ${tokenHint}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await upstream.close();
}
