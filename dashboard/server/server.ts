// The dashboard's web server: the page and its bundle, a read-only window on the node's
// API, a few actions, and live change notices as server-sent events. It listens on
// 127.0.0.1 by default and lets in only a browser that brought the one-time token of
// the printed URL, which it trades for an HttpOnly, SameSite=Strict session cookie.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import {
  type Logger,
  type Node,
  type Service,
  SWARM_NODE_ID_LABEL,
  SWARM_TASK_ID_LABEL,
  silentLogger,
  type Task,
} from '../../lib/index.js';
import { parseReplicas } from '../model/index.js';
import { LiveHub, type LiveMessage } from './live.js';
import { type Progress, rolloutProgress } from './rollouts.js';
import { StatsSampler, type StatsSamplerOptions } from './stats.js';
import { deleteAt, getJson, postJson, type Upstream, UpstreamError } from './upstream.js';

export interface DashboardOptions {
  /** The node's API. */
  upstream: Upstream;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Where the built bundle (app.js, app.css) is; default: beside this module's build. */
  assetsDir?: string;
  /** The one-time token; default: 32 random bytes. */
  token?: string;
  log?: Logger;
  /** How the service pages' CPU and memory are read (tests shorten the interval). */
  stats?: StatsSamplerOptions;
}

export interface Dashboard {
  /** The URL to open, with its one-time token. */
  url: string;
  /** The same without the token. */
  origin: string;
  close(): Promise<void>;
}

// dist/dashboard/assets/, beside this module's folder in the compiled tree, or from the
// CLI's bundle (dist/skiff/).
const DEFAULT_ASSETS =
  [new URL('../assets/', import.meta.url), new URL('../dashboard/assets/', import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((dir) => existsSync(join(dir, 'app.js'))) ?? fileURLToPath(new URL('../assets/', import.meta.url));
const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'app.js.map': 'application/json',
  'app.css.map': 'application/json',
};
/** What of the node's API a page may read: no join tokens (`/swarm`), no writes. */
const READABLE = [
  /^\/info$/,
  /^\/version$/,
  /^\/services$/,
  /^\/services\/[\w.-]+$/,
  /^\/tasks$/,
  /^\/nodes$/,
  /^\/nodes\/[\w.-]+$/,
  /^\/networks$/,
  /^\/secrets$/,
  /^\/configs$/,
  /^\/volumes$/,
];
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>skiff dashboard</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<div id="app"><p class="loading">Loading…</p></div>
<script type="module" src="/assets/app.js"></script>
</body>
</html>
`;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const log = opts.log ?? silentLogger;
  const listenHost = opts.host ?? '127.0.0.1';
  const assetsDir = opts.assetsDir ?? DEFAULT_ASSETS;
  const token = opts.token ?? randomBytes(32).toString('hex');
  const session = randomBytes(32).toString('hex');
  let tokenSpent = false;
  let port = opts.port ?? 0;
  const cookieName = () => `skiff_dashboard_${port}`;
  const hub = new LiveHub(opts.upstream, log);
  const sampler = new StatsSampler(opts.upstream, log, opts.stats);
  const streams = new Set<ServerResponse>();

  const app = Fastify({ logger: false, forceCloseConnections: true });

  app.addHook('onRequest', async (req, reply) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
    // A page on another site may resolve its own name to 127.0.0.1 (DNS rebinding):
    // only the names of this server are served.
    if (!WILDCARD_HOSTS.has(listenHost)) {
      const allowed = new Set(
        [listenHost, '127.0.0.1', 'localhost', '[::1]'].map(
          (h) => `${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${port}`,
        ),
      );
      if (!allowed.has(req.headers.host ?? '')) return refuse(reply, 403, 'forbidden: unknown host name');
    }
    if (sameSecret(cookieOf(req, cookieName()), session)) {
      if (tokenOf(req) !== undefined) return reply.redirect(withoutToken(req.url), 303);
      return;
    }
    const given = tokenOf(req);
    if (given !== undefined && !tokenSpent && sameSecret(given, token) && req.method === 'GET') {
      tokenSpent = true;
      reply.header('set-cookie', `${cookieName()}=${session}; HttpOnly; SameSite=Strict; Path=/`);
      return reply.redirect(withoutToken(req.url), 303);
    }
    return refuse(
      reply,
      401,
      'unauthorized: open the URL that `skiff dashboard` printed (its token works once; start the command again for a new one)',
    );
  });

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));

  app.get<{ Params: { file: string } }>('/assets/:file', async (req, reply) => {
    const type = ASSETS[req.params.file];
    if (!type) return refuse(reply, 404, 'not found');
    try {
      return reply.type(type).send(await readFile(join(assetsDir, req.params.file)));
    } catch {
      return refuse(
        reply,
        500,
        `the dashboard's bundle is missing from ${assetsDir}: build it with \`npm run build\``,
      );
    }
  });

  // Reads of the node's API, passed through as they are.
  app.get('/api/node/*', async (req, reply) => {
    const url = new URL(req.url, 'http://x');
    const path = url.pathname.slice('/api/node'.length);
    if (!READABLE.some((r) => r.test(path))) return refuse(reply, 404, `not readable here: ${path}`);
    const res = await opts.upstream.request({ method: 'GET', path: `${path}${url.search}` });
    const type = res.body.headers?.['content-type'];
    return reply
      .code(res.statusCode)
      .type(typeof type === 'string' ? type : 'application/json')
      .send(res.body);
  });

  app.post<{ Params: { id: string }; Body: unknown }>('/api/services/:id/scale', async (req, reply) => {
    const replicas = parseReplicas((req.body as { replicas?: unknown } | undefined)?.replicas);
    if (replicas === undefined) return refuse(reply, 400, 'replicas must be a whole number from 0 to 10000');
    const id = encodeURIComponent(req.params.id);
    const s = await getJson<Service>(opts.upstream, `/services/${id}`);
    if (!s.Spec.Mode?.Replicated)
      return refuse(reply, 400, `${s.Spec.Name ?? id} is not a replicated service: it cannot be scaled`);
    const spec = { ...s.Spec, Mode: { Replicated: { Replicas: replicas } } };
    await postJson(opts.upstream, `/services/${id}/update?version=${s.Version.Index}`, spec);
    return reply.send({ replicas });
  });

  const updateService = async (id: string, change: (s: Service) => Service['Spec'], query = '') => {
    const s = await getJson<Service>(opts.upstream, `/services/${encodeURIComponent(id)}`);
    await postJson(
      opts.upstream,
      `/services/${encodeURIComponent(s.ID)}/update?version=${s.Version.Index}${query}`,
      change(s),
    );
    return s;
  };

  app.post<{ Params: { id: string } }>('/api/services/:id/rollback', async (req, reply) => {
    await updateService(req.params.id, (s) => s.Spec, '&rollback=previous');
    return reply.send({});
  });

  app.post<{ Params: { id: string } }>('/api/services/:id/force-update', async (req, reply) => {
    await updateService(req.params.id, (s) => ({
      ...s.Spec,
      TaskTemplate: { ...s.Spec.TaskTemplate, ForceUpdate: (s.Spec.TaskTemplate?.ForceUpdate ?? 0) + 1 },
    }));
    return reply.send({});
  });

  app.post<{ Params: { id: string } }>('/api/services/:id/remove', async (req, reply) => {
    await deleteAt(opts.upstream, `/services/${encodeURIComponent(req.params.id)}`);
    return reply.send({});
  });

  app.post<{ Params: { id: string }; Body: unknown }>('/api/nodes/:id/availability', async (req, reply) => {
    const availability = (req.body as { availability?: unknown } | undefined)?.availability;
    if (availability !== 'active' && availability !== 'drain' && availability !== 'pause')
      return refuse(reply, 400, 'availability must be active, drain or pause');
    const id = encodeURIComponent(req.params.id);
    const n = await getJson<Node>(opts.upstream, `/nodes/${id}`);
    await postJson(opts.upstream, `/nodes/${id}/update?version=${n.Version.Index}`, {
      ...n.Spec,
      Availability: availability,
    });
    return reply.send({ availability });
  });

  // How far each rollout under way has come: its service's tasks at the current spec.
  app.get<{ Querystring: { service?: string } }>('/api/rollouts', async (req, reply) => {
    const services = await getJson<Service[]>(opts.upstream, '/services?status=true');
    const wanted = services.filter((s) =>
      req.query.service
        ? s.ID === req.query.service || s.Spec.Name === req.query.service
        : s.UpdateStatus?.State === 'updating' || s.UpdateStatus?.State === 'rollback_started',
    );
    const out: Record<string, Progress> = {};
    await Promise.all(
      wanted.map(async (s) => {
        const filters = JSON.stringify({ service: [s.ID], 'desired-state': ['running'] });
        const tasks = await getJson<Task[]>(opts.upstream, `/tasks?filters=${encodeURIComponent(filters)}`);
        out[s.ID] = rolloutProgress(s, tasks);
      }),
    );
    return reply.send(out);
  });

  // A service's CPU and memory over the last minutes (stats.ts): its page polls this.
  app.get<{ Params: { id: string } }>('/api/services/:id/stats', async (req, reply) => {
    if (!/^[\w.-]{1,128}$/.test(req.params.id)) return refuse(reply, 400, 'not a service ID or name');
    return reply.send(await sampler.watch(req.params.id));
  });

  // A service's log lines, the last ones first and then as they come, from every node
  // (the node's API gathers them), as server-sent events.
  app.get<{ Params: { id: string }; Querystring: { tail?: string } }>(
    '/api/services/:id/logs',
    async (req, reply) => {
      const tail = /^\d{1,5}$/.test(req.query.tail ?? '') ? (req.query.tail as string) : '200';
      const abort = new AbortController();
      const query = new URLSearchParams({
        follow: '1',
        stdout: '1',
        stderr: '1',
        details: '1',
        timestamps: '1',
        tail,
      });
      const res = await opts.upstream.request({
        method: 'GET',
        path: `/services/${encodeURIComponent(req.params.id)}/logs?${query}`,
        signal: abort.signal,
      });
      if (res.statusCode >= 400) throw new UpstreamError(res.statusCode, await res.text());
      reply.hijack();
      const out = reply.raw;
      out.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'text/event-stream; charset=utf-8',
        'x-accel-buffering': 'no',
      });
      out.write('retry: 2000\n\nevent: hello\ndata: {}\n\n');
      streams.add(out);
      const finish = () => {
        abort.abort();
        streams.delete(out);
        if (!out.writableEnded) out.end();
      };
      req.raw.on('close', finish);
      out.on('close', finish);
      try {
        for await (const line of logLines(res.body))
          out.write(`event: line\ndata: ${JSON.stringify(line)}\n\n`);
      } catch {
        // the browser left, or the node closed the stream
      }
      finish();
    },
  );

  app.get('/api/events', async (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 1000\n\nevent: hello\ndata: {}\n\n');
    const write = (m: LiveMessage) => res.write(`event: ${m.event}\ndata: ${JSON.stringify(m.data)}\n\n`);
    const stop = hub.listen(write);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    streams.add(res);
    const finish = () => {
      stop();
      clearInterval(ping);
      streams.delete(res);
      if (!res.writableEnded) res.end();
    };
    req.raw.on('close', finish);
    res.on('close', finish);
  });

  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof UpstreamError) return refuse(reply, err.statusCode, err.message);
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500)
      return refuse(reply, status, (err as Error).message);
    log.warn({ err }, 'dashboard request failed');
    return refuse(reply, 502, `the node did not answer: ${(err as Error).message}`);
  });

  await app.listen({ host: listenHost, port });
  const addr = app.server.address();
  if (addr && typeof addr === 'object') port = addr.port;
  hub.start();
  const shownHost = WILDCARD_HOSTS.has(listenHost)
    ? '127.0.0.1'
    : listenHost.includes(':')
      ? `[${listenHost}]`
      : listenHost;
  const origin = `http://${shownHost}:${port}/`;
  return {
    url: `${origin}?token=${token}`,
    origin,
    async close() {
      for (const res of [...streams]) res.end();
      sampler.close();
      await hub.close();
      await app.close();
    },
  };
}

function refuse(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ message });
}

function tokenOf(req: FastifyRequest): string | undefined {
  const t = (req.query as Record<string, unknown> | undefined)?.token;
  return typeof t === 'string' ? t : undefined;
}

function withoutToken(rawUrl: string): string {
  const url = new URL(rawUrl, 'http://x');
  url.searchParams.delete('token');
  return `${url.pathname}${url.search}`;
}

function cookieOf(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function sameSecret(given: string | undefined, secret: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  time: string;
  task: string;
  node: string;
  text: string;
}

/** Docker's multiplexed log frames (details and timestamps on) as lines. */
export async function* logLines(body: AsyncIterable<Buffer | Uint8Array>): AsyncIterable<LogLine> {
  let buf = Buffer.alloc(0);
  for await (const chunk of body) {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      const stream = buf[0] === 2 ? 'stderr' : 'stdout';
      const text = buf.subarray(8, 8 + size).toString('utf8');
      buf = buf.subarray(8 + size);
      for (const raw of text.split('\n')) {
        if (raw === '') continue;
        // "<time> com.docker.swarm.node.id=N,…,com.docker.swarm.task.id=T <text>"
        const m = /^(\S+) ((?:[\w.-]+=[^,\s]*,?)+) (.*)$/.exec(raw);
        if (!m) {
          yield { stream, time: '', task: '', node: '', text: raw };
          continue;
        }
        const attrs = Object.fromEntries(
          (m[2] ?? '').split(',').map((kv) => kv.split('=') as [string, string]),
        );
        yield {
          stream,
          time: m[1] ?? '',
          task: attrs[SWARM_TASK_ID_LABEL] ?? '',
          node: attrs[SWARM_NODE_ID_LABEL] ?? '',
          text: m[3] ?? '',
        };
      }
    }
  }
}
