import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SkiffError } from '../../../lib/index.js';
import { type JoinService, type NodeCertificateInfo, verifyNodeCertificate } from '../../ca/index.js';
import { boundArrival, boundBody } from '../body-timeout.js';
import type { ApiContext } from '../context.js';

/** Paths a TCP client may use without a client certificate. */
export const PUBLIC_PATHS: ReadonlySet<string> = new Set(['/skiff/ca', '/skiff/join']);

const peers = new WeakMap<FastifyRequest, NodeCertificateInfo>();

/**
 * How long a request to a public path may take to arrive whole: anyone reaching the port
 * can send one, so a client that sends headers and then trickles the body (slowloris)
 * is cut off instead of holding a connection and its buffers for as long as it likes.
 */
export const PUBLIC_REQUEST_TIMEOUT_MS = 10_000;

/**
 * How long an authenticated request's body may take to arrive whole (from its headers):
 * a node's key or a leaked client certificate must not hold connections and buffers
 * open without end either. The routes that read their body as a stream (STREAMED_BODY:
 * an image or context tarball, a copy into a container, exec stdin) take as long as the
 * upload or the command, cut only by this long a silence; responses are never bounded.
 */
export const AUTHENTICATED_BODY_TIMEOUT_MS = 60_000;

/**
 * Client-certificate authentication for the API on TCP: every request but fetching
 * the CA and joining needs a certificate from the cluster CA, for a node that is still
 * in the cluster; the control API needs the manager role.
 */
export function registerMutualTlsGuard(
  app: FastifyInstance,
  ctx: ApiContext,
  caPem: string,
  publicRequestTimeoutMs = PUBLIC_REQUEST_TIMEOUT_MS,
  bodyTimeoutMs = AUTHENTICATED_BODY_TIMEOUT_MS,
): void {
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (PUBLIC_PATHS.has(path)) {
      if (!req.raw.complete) boundArrival(req, ctx.log, publicRequestTimeoutMs);
      return;
    }
    const socket = req.raw.socket as TLSSocket;
    const peer = socket.getPeerCertificate?.();
    if (!socket.authorized || !peer?.raw) {
      reply.header('Connection', 'close');
      throw new SkiffError('unauthorized', "a client certificate from this cluster's CA is required");
    }
    const info = verifyNodeCertificate(peer.raw, caPem, ctx.clock());
    if (!ctx.store.getNode(info.nodeId)) {
      reply.header('Connection', 'close');
      throw new SkiffError('unauthorized', `node ${info.nodeId} is no longer part of the cluster`);
    }
    peers.set(req, info);
    boundBody(req, ctx.log, bodyTimeoutMs);
    if (info.role !== 'manager' && path !== '/skiff/renew') {
      throw new SkiffError(
        'forbidden',
        `node ${info.nodeId} has a worker certificate; the control API is for managers`,
      );
    }
  });
}

export function registerClusterCaRoutes(app: FastifyInstance, join: JoinService): void {
  app.get('/skiff/ca', async (_req, reply) => reply.type('application/x-pem-file').send(join.rootCaPem));
  app.post('/skiff/join', async (req) => join.join(req.body));
  app.post('/skiff/renew', async (req) => {
    const peer = peers.get(req);
    if (!peer)
      throw new SkiffError(
        'unauthorized',
        'renewing a certificate needs the current one as the TLS client certificate',
      );
    return join.renew(peer, req.body);
  });
  app.post('/skiff/promote', async (req) => {
    const peer = peers.get(req);
    if (!peer)
      throw new SkiffError('unauthorized', 'a promoted node calls this with its manager certificate');
    return join.promote(peer, req.body);
  });
}
