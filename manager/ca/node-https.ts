// One HTTPS request to another node's manager port: node certificates name node IDs,
// not hosts, so the CA and the manager role are what is checked (no hostname check, no
// SNI); a JSON body; the whole answer read, up to a bound (or, nodeHttpsStream, handed
// over as it comes). Used by joining and renewing nodes, write forwarding and log reads,
// and (to a node's peer endpoint, whose certificate must name that node) exec forwarding.
import type { ClientRequest, IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { Readable } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import { peerNode, SkiffError } from '../../lib/index.js';
import { requireManagerPeer } from './certificates.js';

/** The largest answer read from another manager unless the caller says otherwise. */
export const MAX_NODE_RESPONSE_BYTES = 64 << 20;

export interface NodeHttpsRequest {
  /** host:port (a bare host means port 2377). */
  addr: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  timeoutMs: number;
  /** Who is called, for errors: "the leader", "the manager". */
  peer: string;
  /** A longer answer is refused (a peer must not fill this process's memory). */
  maxResponseBytes?: number;
  /**
   * The node whose peer endpoint is called (any role): its certificate must name it.
   * Absent: the server must hold a manager's certificate.
   */
  serverNode?: string;
}

export interface NodeHttpsResponse {
  /** 0 when the answer had no status line. */
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The request options both calls share: the peer's host and port, TLS, the head timeout. */
function requestOptions(
  r: Omit<NodeHttpsRequest, 'maxResponseBytes' | 'body'>,
  headers: Record<string, string | number>,
) {
  const i = r.addr.lastIndexOf(':');
  return {
    host: i > 0 ? r.addr.slice(0, i) : r.addr,
    port: i > 0 ? Number(r.addr.slice(i + 1)) : 2377,
    method: r.method,
    path: r.path,
    ...r.tls,
    // Only managers serve this port: a worker's certificate from the same CA is refused.
    // (Without a pinned CA — the join's CA fetch, checked against the token — nothing is.)
    // A node's peer endpoint must be that node's.
    checkServerIdentity: r.serverNode === undefined ? requireManagerPeer : requireNodePeer(r.serverNode),
    servername: '',
    timeout: r.timeoutMs,
    headers,
  };
}

/** A `checkServerIdentity` that wants the certificate of node `nodeId`, whatever its role. */
function requireNodePeer(nodeId: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const peer = peerNode(cert);
    if (peer?.nodeId === nodeId) return undefined;
    return new SkiffError(
      'unauthorized',
      `the peer at ${host || 'that address'} presents ${peer ? `the certificate of node ${peer.nodeId}` : 'no skiff node certificate'}, not node ${nodeId}'s: refusing to send it the request`,
    );
  };
}

/** Timeouts and transport errors as the SkiffErrors callers show. */
function failWith(
  req: ClientRequest,
  r: Pick<NodeHttpsRequest, 'addr' | 'peer' | 'timeoutMs'>,
  reject: (e: unknown) => void,
): void {
  req.on('timeout', () =>
    req.destroy(new SkiffError('timeout', `no answer from ${r.peer} at ${r.addr} within ${r.timeoutMs}ms`)),
  );
  req.on('error', (e) =>
    reject(
      e instanceof SkiffError
        ? e
        : new SkiffError('unavailable', `cannot reach ${r.peer} at ${r.addr}: ${e.message}`, { cause: e }),
    ),
  );
}

export function nodeHttps(r: NodeHttpsRequest): Promise<NodeHttpsResponse> {
  const data = r.body === undefined ? undefined : JSON.stringify(r.body);
  return new Promise((resolve, reject) => {
    const req = request(
      requestOptions(r, {
        ...r.headers,
        ...(data === undefined
          ? {}
          : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }),
      }),
      (res) => {
        const chunks: Buffer[] = [];
        const max = r.maxResponseBytes ?? MAX_NODE_RESPONSE_BYTES;
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) {
            req.destroy(
              new SkiffError(
                'unavailable',
                `${r.peer} at ${r.addr} answered more than ${max} bytes; refused`,
              ),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    failWith(req, r, reject);
    req.end(data);
  });
}

/**
 * The same call, answered with the response stream as soon as its head arrives (a
 * following log stream, for one): `timeoutMs` bounds the wait for the head only. The
 * caller consumes or destroys the stream.
 */
export function nodeHttpsStream(
  r: Omit<NodeHttpsRequest, 'maxResponseBytes' | 'body'> & {
    /** A request body streamed while the answer streams back (an exec's stdin). */
    body?: Readable;
  },
): Promise<{ status: number; headers: IncomingMessage['headers']; stream: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = request(requestOptions(r, r.headers ?? {}), (res) => {
      req.setTimeout(0);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, stream: res });
    });
    failWith(req, r, reject);
    if (r.body) {
      r.body.on('error', (e) => req.destroy(e));
      r.body.pipe(req);
    } else req.end();
  });
}
