// A free TCP port, for listeners of tests, fixtures and benchmark peers.
//
// The port is drawn below the kernel's ephemeral range (ip_local_port_range). A port
// the kernel handed out for `listen(0)` is in that range, and between our close and
// the real listener's bind any outgoing connection on the host may take it as its
// source port: three etcd members dialing each other took a port picked for the third
// one's peer listener that way ("bind: address already in use"). Below the range only
// an explicit bind can take it, and the bind check below skips ports already taken.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 10_000;
const handedOut = new Set<number>();

function ephemeralLow(): number {
  try {
    const low = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'), 10);
    return Number.isFinite(low) && low > LOWEST + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (high - LOWEST));
    if (handedOut.has(port)) continue;
    // Free on the wildcard address too: some callers publish on 0.0.0.0.
    if ((await canBind(port, '127.0.0.1')) && (await canBind(port, '0.0.0.0'))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free TCP port between ${LOWEST} and ${high}`);
}
