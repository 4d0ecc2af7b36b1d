import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { httpStatusFor, isSkiffError, type Logger, SkiffError, silentLogger } from '../../lib/index.js';
import type { JoinService, RaftMembership } from '../ca/index.js';
import type { ReadGate, Replicator, Store } from '../store/index.js';
import {
  API_VERSION,
  type ApiContext,
  type ApiInfo,
  type LocalNetworkPort,
  type LogSource,
  MIN_API_VERSION,
  type TaskStatsSource,
} from './context.js';
import { EventLog, type LocalEventSource } from './events.js';
import { APPLIED_INDEX_HEADER, type ForwardOptions, registerWriteForwarding } from './forward.js';
import { jsonNestedDeeperThan, MAX_JSON_DEPTH } from './json-depth.js';
import { registerClusterCaRoutes, registerMutualTlsGuard } from './routes/cluster-ca.js';
import { registerLogRoutes } from './routes/logs.js';
import { registerNodeRoutes } from './routes/nodes.js';
import { registerObjectRoutes } from './routes/objects.js';
import { registerServiceRoutes } from './routes/services.js';
import { registerStatsRoutes } from './routes/stats.js';
import { registerSystemRoutes } from './routes/system.js';

export interface ApiServerOptions {
  store: Store;
  replicator: Replicator;
  logger?: Logger;
  info: ApiInfo;
  clock?: () => Date;
  /** Task logs from the node agents; without it the logs endpoints answer 501. */
  logs?: LogSource;
  /** Tasks' CPU and memory from the node agents; without it the stats endpoint answers 501. */
  stats?: TaskStatsSource;
  /** Routes the daemon adds (node-local endpoints such as /volumes in single-node mode). */
  extraRoutes?: (app: FastifyInstance, ctx: ApiContext) => void;
  /** Largest accepted request body; Docker's own limit for secrets is 500 KiB. */
  bodyLimit?: number;
  /** Unread `/events` bytes after which a client is dropped (default 4 MiB). */
  eventsMaxBufferedBytes?: number;
  /** Raft membership, for demoting and removing managers. */
  raft?: RaftMembership;
  /** Takes this node out of its cluster (`/swarm/leave`); without it the route answers 501. */
  leave?: (opts: { force: boolean }) => Promise<void>;
  /** The node's local-scope networks (Docker's bridge networks), served beside the cluster's overlays. */
  localNetworks?: LocalNetworkPort;
  /** Serves joining nodes (`/skiff/ca`, `/skiff/join`, `/skiff/renew`). */
  join?: JoinService;
  /** On followers, send writes to the leader's API with this identity. */
  forward?: ForwardOptions;
  /** How long a request to a path open without a certificate (`/skiff/join`) may take to arrive. */
  publicRequestTimeoutMs?: number;
  /** How long an authenticated request's body (not a streamed one) may take to arrive on TCP (default 60 s). */
  bodyTimeoutMs?: number;
  /** `GET /skiff/backup`: a consistent backup of the cluster state (the unix socket only). */
  backup?: () => Promise<{ file: Buffer; index: number }>;
  /** Serve HTTPS with client-certificate authentication (the API on TCP). */
  tls?: { certPem: string; keyPem: string; caPem: string };
  /** Requests wait until this manager has caught up with the cluster's log (read-gate.ts). */
  readGate?: ReadGate;
  /** This node's own events (its containers) for `GET /events`. */
  localEvents?: LocalEventSource;
  /**
   * The event log to serve, shared by the servers of one manager (unix socket and TCP) so
   * both stream the same events with the same times; its owner closes it. Without it the
   * server keeps a log of its own.
   */
  events?: EventLog;
  /** Told of every answered request (the node's metrics); `route` is the route's pattern. */
  onRequest?: (r: { route: string; method: string; status: number; seconds: number }) => void;
}

/**
 * Docker clients read an error's message only when the content type is exactly this
 * (no charset parameter); otherwise they print the raw body.
 */
export const ERROR_CONTENT_TYPE = 'application/json';

/** A Docker error body as bytes, so fastify leaves the content type as set. */
export function errorBody(message: string): Buffer {
  return Buffer.from(JSON.stringify({ message }));
}

const VERSION_PREFIX = /^\/v(\d+)\.(\d+)(?=\/)/;
const requestedVersion = new WeakMap<IncomingMessage, string>();

/**
 * The Docker-compatible HTTP API over the store. Routes answer with and without the
 * `/v1.xx` prefix; errors are `{"message": …}` with Docker's status codes, and a
 * client's mistake is never a 500.
 */
export function createApiServer(opts: ApiServerOptions): FastifyInstance {
  const log = (opts.logger ?? silentLogger).child({ component: 'api' });
  const clock = opts.clock ?? (() => new Date());
  const app = createBaseServer({
    log,
    version: opts.info.version,
    bodyLimit: opts.bodyLimit,
    tls: opts.tls,
    // As dockerd: HEAD only where the Docker API has it (/_ping, a container's archive),
    // not a HEAD twin of every GET route (half the routes a node's start registers).
    headRoutes: false,
  });
  const ctx: ApiContext = {
    store: opts.store,
    replicator: opts.replicator,
    log,
    info: opts.info,
    events:
      opts.events ??
      new EventLog(opts.store, clock, undefined, opts.eventsMaxBufferedBytes, opts.localEvents),
    clock,
    ...(opts.logs ? { logs: opts.logs } : {}),
    ...(opts.stats ? { stats: opts.stats } : {}),
    ...(opts.raft ? { raft: opts.raft } : {}),
    ...(opts.leave ? { leave: opts.leave } : {}),
    ...(opts.localNetworks ? { localNetworks: opts.localNetworks } : {}),
    ...(opts.forward ? { forward: opts.forward } : {}),
  };
  if (!opts.events) app.addHook('onClose', async () => ctx.events.close());

  // Lets a forwarding follower wait until it has applied what this request wrote.
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header(APPLIED_INDEX_HEADER, String(opts.store.appliedIndex));
    return payload;
  });

  if (opts.tls)
    registerMutualTlsGuard(app, ctx, opts.tls.caPem, opts.publicRequestTimeoutMs, opts.bodyTimeoutMs);
  // A manager that just started answers from its store only once that store has caught
  // up with the cluster; /_ping says that the daemon is up meanwhile.
  const gate = opts.readGate;
  if (gate)
    app.addHook('preHandler', async (req) => {
      if (!gate.open && !req.url.startsWith('/_ping')) await gate.wait();
    });
  const onRequest = opts.onRequest;
  if (onRequest) {
    app.addHook('onResponse', async (req, reply) => {
      onRequest({
        // The pattern keeps the label set small; URLs no route matched share one value.
        route: req.routeOptions.url ?? 'unmatched',
        method: req.method,
        status: reply.statusCode,
        seconds: reply.elapsedTime / 1000,
      });
    });
  }
  if (opts.forward) registerWriteForwarding(app, ctx, opts.forward);
  if (opts.join) registerClusterCaRoutes(app, opts.join);
  registerSystemRoutes(app, ctx);
  registerNodeRoutes(app, ctx);
  registerServiceRoutes(app, ctx);
  registerObjectRoutes(app, ctx);
  registerLogRoutes(app, ctx);
  registerStatsRoutes(app, ctx);
  if (opts.backup) {
    const backup = opts.backup;
    app.get('/skiff/backup', async (_req, reply) => {
      const { file, index } = await backup();
      log.info({ index, bytes: file.length }, 'cluster state backed up');
      return reply
        .header('content-type', 'application/octet-stream')
        .header('x-skiff-backup-index', String(index))
        .send(file);
    });
  }
  opts.extraRoutes?.(app, ctx);
  return app;
}

export function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 - b1 || a2 - b2;
}

/**
 * What every API server shares: `/v1.xx` prefixes, version check, Docker's headers,
 * JSON-or-empty bodies, and Docker-style errors (`{"message": …}`, never a 500 for a
 * client's mistake).
 */
/** The compilers of a server without fastify schemas: a route that declared one would fail here. */
function noSchemas(): never {
  throw new SkiffError('internal', 'skiff API routes take no fastify schemas (check bodies with zod)');
}

export function createBaseServer(o: {
  log: Logger;
  version: string | undefined;
  bodyLimit?: number | undefined;
  tls?: { certPem: string; keyPem: string; caPem: string } | undefined;
  /** A HEAD route beside each GET route (fastify's default); otherwise only those added. */
  headRoutes?: boolean;
}): FastifyInstance {
  const https = o.tls
    ? {
        https: {
          key: o.tls.keyPem,
          cert: o.tls.certPem + o.tls.caPem,
          ca: o.tls.caPem,
          requestCert: true,
          // Joining nodes have no certificate yet; the guard refuses everything else.
          rejectUnauthorized: false,
          minVersion: 'TLSv1.2' as const,
        },
      }
    : {};
  const app = Fastify({
    ...https,
    // Routes have no fastify schemas (bodies are checked with zod, schemas.ts): without
    // these, fastify builds its default compilers at creation, loading ajv and
    // fast-json-stringify (~20 ms of every node start) for nothing.
    schemaController: { compilersFactory: { buildValidator: noSchemas, buildSerializer: noSchemas } },
    bodyLimit: o.bodyLimit ?? 4 * 1024 * 1024,
    exposeHeadRoutes: o.headRoutes ?? true,
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      const m = VERSION_PREFIX.exec(url);
      if (!m) return url;
      requestedVersion.set(req, `${m[1]}.${m[2]}`);
      return url.slice(m[0].length);
    },
  }) as unknown as FastifyInstance;

  // Bodies are JSON or empty (Go clients send `Content-Type: application/json` with no body on some POSTs).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    if (jsonNestedDeeperThan(text, MAX_JSON_DEPTH)) {
      done(
        new SkiffError('invalid_argument', `request body is nested more than ${MAX_JSON_DEPTH} levels deep`),
        undefined,
      );
      return;
    }
    json(req, text, (err, value) => {
      if (err)
        done(new SkiffError('invalid_argument', `request body is not valid JSON: ${err.message}`), undefined);
      else done(null, value);
    });
  });

  app.addHook('onRequest', async (req, reply) => {
    const v = requestedVersion.get(req.raw);
    if (v !== undefined && compareVersions(v, API_VERSION) > 0) {
      throw new SkiffError(
        'invalid_argument',
        `client version ${v} is too new. Maximum supported API version is ${API_VERSION}`,
      );
    }
    if (v !== undefined && compareVersions(v, MIN_API_VERSION) < 0) {
      throw new SkiffError(
        'invalid_argument',
        `client version ${v} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
      );
    }
    reply.header('Api-Version', API_VERSION);
    reply.header('Docker-Experimental', 'false');
    reply.header('Ostype', 'linux');
    reply.header('Server', `skiff/${o.version ?? 'dev'} (linux)`);
  });

  app.setErrorHandler((err, req, reply) => {
    let status: number;
    let message: string;
    if (isSkiffError(err)) {
      status = httpStatusFor(err.code);
      message = err.hint ? `${err.message} (${err.hint})` : err.message;
    } else if (
      typeof err === 'object' &&
      err !== null &&
      'statusCode' in err &&
      typeof err.statusCode === 'number' &&
      err.statusCode >= 400 &&
      err.statusCode < 500
    ) {
      status = err.statusCode;
      message = err instanceof Error ? err.message : 'bad request';
    } else {
      status = 500;
      message = 'internal error; the manager log has the details';
    }
    if (status >= 500) o.log.error({ err, method: req.method, url: req.url }, 'API request failed');
    else o.log.debug({ method: req.method, url: req.url, status, message }, 'API request rejected');
    void reply.status(status).header('content-type', ERROR_CONTENT_TYPE).send(errorBody(message));
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.status(404).header('content-type', ERROR_CONTENT_TYPE).send(errorBody('page not found'));
  });
  return app;
}
