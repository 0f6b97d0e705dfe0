/**
 * A TCP proxy in front of a test Redis, for faults of the network between a gateway and Redis
 * (the server itself stays real and untouched).
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** A running proxy. */
export interface RedisProxy {
  /** `redis://` URL of the proxy. */
  readonly url: string;
  delayNext(marker: string, ms: number): void;
  cutAfterNext(marker: string): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of Redis, for the network between the gateway and Redis:
 * - `delayNext(marker, ms)`: the next client chunk that contains `marker`, and everything the
 *   client sends after it, reaches Redis `ms` later, in order (a slow link);
 * - `cutAfterNext(marker)`: the next client chunk that contains `marker` reaches Redis, and the
 *   client's side of that connection is then closed before any reply (a cut after the send).
 */
export async function startRedisProxy(redisPort: number): Promise<RedisProxy> {
  let delay: { marker: string; ms: number } | undefined;
  let cut: string | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let held: Buffer[] | undefined;
    client.on('data', (chunk: Buffer) => {
      if (held) {
        held.push(chunk);
        return;
      }
      if (delay && chunk.includes(delay.marker)) {
        const queue = (held = [chunk]);
        setTimeout(() => {
          held = undefined;
          for (const c of queue) upstream.write(c);
        }, delay.ms);
        delay = undefined;
        return;
      }
      upstream.write(chunk);
      if (cut !== undefined && chunk.includes(cut)) {
        cut = undefined;
        client.destroy();
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.destroyed) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      // Redis still answers what reached it; the reply goes nowhere.
      setTimeout(() => upstream.destroy(), 200);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', () => client.destroy()).on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    delayNext(marker: string, ms: number) {
      delay = { marker, ms };
    },
    cutAfterNext(marker: string) {
      cut = marker;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
