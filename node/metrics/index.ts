// The node's metrics (Prometheus exposition): the registry, `GET /metrics` on the node's
// API, and the plain-HTTP listener of `--metrics-addr`.
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { type Logger, SkiffError } from '../../lib/index.js';
import { METRICS_CONTENT_TYPE, type NodeMetrics } from './registry.js';

export { METRICS_CONTENT_TYPE, NodeMetrics, type NodeMetricsSources } from './registry.js';

/** `GET /metrics` on one of the node's API servers. */
export function registerMetricsRoute(app: FastifyInstance, metrics: NodeMetrics): void {
  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.metrics();
    return reply.type(METRICS_CONTENT_TYPE).send(body);
  });
}

/** `HOST:PORT` (IPv6 in brackets) → where to listen; anything else is refused. */
export function parseMetricsAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < 1 || port > 65535) {
    throw new SkiffError('invalid_argument', `metrics address "${addr}" is not HOST:PORT`, {
      hint: 'e.g. --metrics-addr 127.0.0.1:9323 (dockerd uses port 9323), or [::1]:9323',
    });
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

/**
 * Serves `GET /metrics` over plain HTTP (no TLS, no authentication, as dockerd's
 * metrics-addr): give it a loopback or otherwise protected address.
 */
export async function serveMetrics(
  metrics: NodeMetrics,
  addr: string,
  log: Logger,
): Promise<{ addr: string; close(): Promise<void> }> {
  const { host, port } = parseMetricsAddr(addr);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('metrics are at /metrics\n');
      return;
    }
    metrics.metrics().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        log.error({ err: String(err) }, 'metrics scrape failed');
        res
          .writeHead(500, { 'Content-Type': 'text/plain' })
          .end('the scrape failed; the node log has the details\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new SkiffError('unavailable', `cannot serve metrics on ${addr}: ${e.message}`, {
          hint: 'pick a free port, or an address of this machine',
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const shown =
    typeof bound === 'object' && bound ? `${host.includes(':') ? `[${host}]` : host}:${bound.port}` : addr;
  log.info({ metricsAddr: shown }, 'serving metrics');
  return {
    addr: shown,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
