// A small HTTP proxy in front of a test registry: records every request (method, path,
// Range) and can throttle bodies, so tests can see blobs fetched once, watch resumed
// downloads ask for a Range, and catch a pull in the middle of a layer.
import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ProxiedRequest {
  method: string;
  path: string;
  range: string | undefined;
}

export interface RegistryProxy {
  host: string;
  requests: ProxiedRequest[];
  /** Bytes per second for response bodies of blob GETs (0 = unthrottled). */
  throttle: number;
  stop(): Promise<void>;
}

export async function startProxy(target: string): Promise<RegistryProxy> {
  const upstream = new URL(target);
  const state = { requests: [] as ProxiedRequest[], throttle: 0 };
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    state.requests.push({ method: req.method ?? 'GET', path, range: header(req.headers, 'range') });
    const up = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        const throttled = state.throttle > 0 && /\/blobs\/sha256:/.test(path) && req.method === 'GET';
        const body = throttled ? upRes.pipe(throttle(() => state.throttle)) : upRes;
        pipeline(body, res).catch(() => res.destroy());
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get throttle() {
      return state.throttle;
    },
    set throttle(v: number) {
      state.throttle = v;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Passes chunks of at most 16 KiB, pacing them to `rate()` bytes per second. */
function throttle(rate: () => number): Transform {
  return new Transform({
    async transform(chunk: Buffer, _enc, cb) {
      for (let i = 0; i < chunk.length; i += 16_384) {
        const part = chunk.subarray(i, i + 16_384);
        this.push(part);
        const r = rate();
        if (r > 0) await sleep((part.length / r) * 1000);
      }
      cb();
    },
  });
}

/** Blob GETs seen for a digest. */
export function blobGets(requests: readonly ProxiedRequest[], digest: string): ProxiedRequest[] {
  return requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`));
}
