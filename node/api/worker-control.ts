// A worker's own API on the node's unix socket: Docker serves `/swarm/leave` on every
// node, and `skiff daemon status` pings it; `/version` and `/info` (what a worker knows of
// itself: no cluster), the node-local image and volume endpoints too. The cluster API
// itself is on the managers.
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { dirname } from 'node:path';
import type { Logger } from '../../lib/index.js';
import { httpStatusFor, isSkiffError } from '../../lib/index.js';
import { API_VERSION } from '../../manager/index.js';
import type { NodeLocalHandler } from './worker-api.js';

export async function serveWorkerControl(
  socketPath: string,
  leave: (opts: { force: boolean }) => Promise<void>,
  log: Logger,
  /** The node-local image and volume endpoints (worker-api.ts). */
  local?: { handle: NodeLocalHandler; serves(path: string): boolean },
  /** `GET /metrics`: the node's metrics (node/metrics). */
  metrics?: { text(): Promise<string>; contentType: string },
  /** `GET /skiff/health`: 200 or 503 with the node's checks (node/health). */
  health?: () => Promise<{ healthy: boolean }>,
  /** `GET /version` and `GET /info`: Docker's answers for this node, as a worker knows it. */
  engine?: { version(): unknown; info(): Promise<unknown> },
): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://node');
    const path = url.pathname.replace(/^\/v\d+\.\d+(?=\/)/, '');
    const reply = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (path === '/_ping' && (req.method === 'GET' || req.method === 'HEAD')) {
      // The API version, as dockerd's: without it the docker CLI falls back to 1.24 and
      // its legacy flows (docker run --rm then follows /events).
      res.setHeader('Api-Version', API_VERSION);
      res.setHeader('Swarm', 'active/worker');
      reply(200, 'OK', 'text/plain');
      return;
    }
    if (path === '/swarm/leave' && req.method === 'POST') {
      const force = ['1', 'true'].includes(url.searchParams.get('force') ?? '');
      leave({ force }).then(
        () => reply(200, ''),
        (err: unknown) => {
          log.error({ err: String(err) }, 'leaving the cluster failed');
          const status = isSkiffError(err) ? httpStatusFor(err.code) : 500;
          reply(status, JSON.stringify({ message: err instanceof Error ? err.message : String(err) }));
        },
      );
      return;
    }
    if (path === '/skiff/health' && req.method === 'GET' && health) {
      health().then(
        (report) => reply(report.healthy ? 200 : 503, JSON.stringify(report)),
        (err: unknown) => reply(503, JSON.stringify({ healthy: false, message: String(err) })),
      );
      return;
    }
    if (path === '/version' && req.method === 'GET' && engine) {
      reply(200, JSON.stringify(engine.version()));
      return;
    }
    if (path === '/info' && req.method === 'GET' && engine) {
      engine.info().then(
        (body) => reply(200, JSON.stringify(body)),
        (err: unknown) => {
          log.error({ err: String(err) }, 'building /info failed');
          reply(
            500,
            JSON.stringify({ message: 'the node could not describe itself; the node log has the details' }),
          );
        },
      );
      return;
    }
    if (path === '/metrics' && req.method === 'GET' && metrics) {
      metrics.text().then(
        (body) => reply(200, body, metrics.contentType),
        (err: unknown) => {
          log.error({ err: String(err) }, 'metrics scrape failed');
          reply(500, JSON.stringify({ message: 'the scrape failed; the node log has the details' }));
        },
      );
      return;
    }
    if (local?.serves(path)) {
      local.handle(req, res);
      return;
    }
    reply(
      503,
      JSON.stringify({
        message:
          'this node is a worker: the cluster API is served by the managers (skiff -H tcp://MANAGER:2377)',
      }),
    );
  });
  await listenUnixServer(server, socketPath);
  return server;
}

async function listenUnixServer(server: Server, socketPath: string): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  await rm(socketPath, { force: true }); // a stale socket from a previous run
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
}
