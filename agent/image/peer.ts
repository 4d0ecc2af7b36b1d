// Registry-less distribution: nodes of a cluster fetch images from each other. Each node
// serves, over mTLS with the cluster's node certificates, the manifests and blobs of the
// images it holds (`peerHandler`, behind the node's peer listener); a node lacking an
// image reads it from the nodes that hold it (`PeerSource`, a ContentSource for the
// ordinary pull, so digests are checked, only missing blobs are fetched, and a partial
// blob resumes with Range). Blobs are spread over the holders, and a holder that fails
// is passed over for the next one.

import { once } from 'node:events';
import { open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { connect, DEFAULT_CIPHERS, type TLSSocket } from 'node:tls';
import { type Logger, SkiffError } from '../../lib/index.js';
import type { ContentStore } from './content-store.js';
import {
  type BlobStream,
  type ContentSource,
  type FetchedManifest,
  MAX_MANIFEST_BYTES,
} from './distribution.js';
import type { ImageRecord } from './image-records.js';
import { MediaType } from './manifest.js';
import type { ImageReference } from './reference.js';

/** The paths of a node's peer endpoint. */
export const PEER_PATHS = { manifests: '/skiff/peer/manifests/', blobs: '/skiff/peer/blobs/' } as const;

/** This node's certificate and key, and the cluster CA every peer's certificate must chain to. */
export interface PeerTls {
  ca: string;
  cert: string;
  key: string;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
/**
 * AES-128-GCM first (Node's default puts AES-256 first): the peer endpoint moves image
 * layers, and on a machine with AES-NI it encrypts a third to a half faster.
 */
export const PEER_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  ...DEFAULT_CIPHERS.split(':').filter((c) => c !== 'TLS_AES_128_GCM_SHA256'),
].join(':');
const HEAD_TIMEOUT_MS = 15_000;
/**
 * How long a body may send nothing before it is dropped: a holder cut off the network
 * (not killed: the kernel would close its sockets) would otherwise hold the fetch for
 * good. The download then resumes from the next holder.
 */
const BODY_IDLE_MS = 30_000;

/** Reads an image from other nodes of the cluster (host:port of their peer endpoints). */
export class PeerSource implements ContentSource {
  private turn = 0;

  constructor(
    private readonly peers: readonly string[],
    private readonly tls: () => PeerTls,
    private readonly log: Logger,
    private readonly idleMs = BODY_IDLE_MS,
  ) {
    if (peers.length === 0) throw new SkiffError('not_found', 'no node of the cluster holds the image');
  }

  async getManifest(ref: ImageReference, reference: string): Promise<FetchedManifest> {
    if (!DIGEST.test(reference))
      throw new SkiffError('invalid_argument', `nodes serve images by digest, not by tag (${reference})`);
    const res = await this.first(PEER_PATHS.manifests + reference, {}, `manifest ${reference}`, 0);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_MANIFEST_BYTES) {
        res.res.body.destroy();
        throw new SkiffError('corrupt', `node ${res.addr} sent a manifest over ${MAX_MANIFEST_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    void ref;
    return {
      bytes: Buffer.concat(chunks),
      contentType: res.res.headers.get('content-type'),
      digest: reference,
    };
  }

  async openBlob(_ref: ImageReference, digest: string, offset = 0): Promise<BlobStream> {
    // Each blob (and each resumption) starts at the next holder: the layers of one image
    // come from several nodes at once.
    const start = this.turn++;
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const { res } = await this.first(PEER_PATHS.blobs + digest, headers, `blob ${digest}`, start);
    return { body: res.body, offset: res.status === 206 ? offset : 0 };
  }

  /** The first holder, from `start` on, that answers the path with 200 or 206. */
  private async first(
    path: string,
    headers: Record<string, string>,
    what: string,
    start: number,
  ): Promise<{ res: PeerResponse; addr: string }> {
    const errors: string[] = [];
    for (let i = 0; i < this.peers.length; i++) {
      const addr = this.peers[(start + i) % this.peers.length]!;
      try {
        const res = await get(addr, path, headers, this.tls(), this.idleMs);
        if (res.status === 200 || res.status === 206) {
          this.log.debug({ peer: addr, path }, 'reading from a peer');
          return { res, addr };
        }
        res.body.destroy();
        errors.push(`${addr} answered ${res.status}`);
      } catch (e) {
        errors.push(`${addr}: ${(e as Error).message}`);
      }
    }
    throw new SkiffError('unavailable', `no node of the cluster served ${what} (${errors.join('; ')})`, {
      hint: 'the nodes holding the image may be down; the task is retried',
    });
  }
}

/** A peer's answer: its status, its headers (names in lower case) and its body. */
interface PeerResponse {
  status: number;
  headers: Map<string, string>;
  body: Readable;
}

const MAX_HEAD_BYTES = 16 * 1024;

/**
 * One GET on a peer endpoint, over TLS with the node's certificate, as HTTP/1.1 written
 * and read here rather than through node:http: its parser copies every 16 KiB record of a
 * body into a new buffer, which on a 200 MB image costs a third more garbage and the
 * collections it triggers. The endpoint's answers are simple (one request per
 * connection, a Content-Length always), and the body is the socket itself past the head,
 * failing if it ends before Content-Length bytes (a holder that died mid-blob: resumed).
 */
function get(
  addr: string,
  path: string,
  headers: Record<string, string>,
  tls: PeerTls,
  idleMs: number,
): Promise<PeerResponse> {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: addr.slice(0, i).replace(/^\[|\]$/g, ''),
      port: Number(addr.slice(i + 1)),
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      ciphers: PEER_CIPHERS,
      // Node certificates name node IDs, not hosts: the cluster CA is what is checked.
      checkServerIdentity: () => undefined,
    });
    let head: Buffer = Buffer.alloc(0);
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(e);
    };
    socket.setTimeout(HEAD_TIMEOUT_MS, () => fail(new Error(`no answer within ${HEAD_TIMEOUT_MS}ms`)));
    socket.on('error', fail);
    socket.once('secureConnect', () => {
      const lines = [`GET ${path} HTTP/1.1`, `host: ${addr}`, 'connection: close'];
      for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD_BYTES) fail(new Error('the node sent an oversized answer head'));
        return;
      }
      socket.off('data', onData);
      socket.pause();
      const parsed = parseHead(head.toString('latin1', 0, end));
      if (!parsed) return fail(new Error('the node sent a malformed answer'));
      settled = true;
      socket.off('error', fail);
      resolve({ ...parsed, body: bodyOf(socket, head.subarray(end + 4), parsed.headers, idleMs) });
    };
    socket.on('data', onData);
    socket.on('end', () => fail(new Error('the node closed the connection before answering')));
  });
}

function parseHead(text: string): Omit<PeerResponse, 'body'> | undefined {
  const [statusLine, ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(statusLine ?? '');
  if (!m) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(m[1]), headers };
}

/** The body past the head: `rest`, then the socket, up to Content-Length bytes. */
function bodyOf(socket: TLSSocket, rest: Buffer, headers: Map<string, string>, idleMs: number): Readable {
  const cl = headers.get('content-length');
  const length = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined;
  let received = 0;
  const body = new Readable({
    highWaterMark: 1 << 20,
    read: () => socket.resume(),
    destroy: (err, cb) => {
      socket.destroy();
      cb(err);
    },
  });
  const take = (chunk: Buffer) => {
    if (chunk.length === 0) return;
    const room = length === undefined ? chunk.length : length - received;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    received += part.length;
    if (part.length > 0 && !body.push(part)) socket.pause();
    if (length !== undefined && received >= length) {
      socket.removeAllListeners('data');
      socket.setTimeout(0);
      body.push(null);
      socket.end();
    }
  };
  socket.setTimeout(idleMs, () => body.destroy(new Error(`the node sent nothing for ${idleMs}ms`)));
  socket.on('error', (e) => body.destroy(e));
  socket.on('end', () => {
    if (length === undefined) body.push(null);
    else if (received < length)
      body.destroy(new Error(`the node closed the connection after ${received} of ${length} bytes`));
  });
  take(rest);
  socket.on('data', take);
  return body;
}

/** What one served request moved, for the node's logs and metrics. */
export interface PeerServed {
  peer: string;
  digest: string;
  kind: 'manifest' | 'blob';
  offset: number;
  bytes: number;
}

/**
 * Serves the manifests and blobs of the images this node holds, and nothing else: the
 * TLS layer has already refused a client without a certificate of the cluster CA.
 */
export function peerHandler(
  deps: { content: ContentStore; images: () => readonly ImageRecord[] },
  log: Logger,
  onServed?: (s: PeerServed) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    void serve(deps, req, res, log, onServed).catch((e: unknown) => {
      log.warn({ err: (e as Error).message, path: req.url }, 'peer request failed');
      if (!res.headersSent) reply(res, 500, 'internal error');
      else res.destroy();
    });
  };
}

async function serve(
  deps: { content: ContentStore; images: () => readonly ImageRecord[] },
  req: IncomingMessage,
  res: ServerResponse,
  log: Logger,
  onServed?: (s: PeerServed) => void,
): Promise<void> {
  const socket = req.socket as TLSSocket;
  const cn = socket.authorized ? socket.getPeerCertificate?.()?.subject?.CN : undefined;
  const peer = Array.isArray(cn) ? cn[0] : cn;
  if (!peer) return reply(res, 401, 'a certificate of the cluster is required');
  if (req.method !== 'GET') return reply(res, 405, 'only GET');
  const url = req.url ?? '';
  const kind = url.startsWith(PEER_PATHS.manifests)
    ? 'manifest'
    : url.startsWith(PEER_PATHS.blobs)
      ? 'blob'
      : undefined;
  const digest = kind
    ? url.slice(kind === 'manifest' ? PEER_PATHS.manifests.length : PEER_PATHS.blobs.length)
    : '';
  if (!kind || !DIGEST.test(digest)) return reply(res, 404, 'not found');
  const images = deps.images();
  const held =
    kind === 'manifest'
      ? images.some((i) => i.manifestDigest === digest || i.indexDigest === digest)
      : images.some((i) => i.id === digest || i.layers.some((l) => l.digest === digest));
  const size = held ? await deps.content.size(digest) : undefined;
  // Only what an image of this node references: the endpoint is no general blob store.
  if (size === undefined) return reply(res, 404, `${digest} is not held here`);
  if (kind === 'manifest') {
    const bytes = await deps.content.read(digest);
    res.writeHead(200, {
      'content-type': manifestType(bytes, images, digest),
      'content-length': bytes.length,
    });
    res.end(bytes);
    onServed?.({ peer, digest, kind, offset: 0, bytes: bytes.length });
    return;
  }
  const offset = rangeStart(req.headers.range);
  if (offset !== undefined && offset >= size) {
    res.writeHead(416, { 'content-range': `bytes */${size}` });
    res.end();
    return;
  }
  const from = offset ?? 0;
  res.writeHead(offset === undefined ? 200 : 206, {
    'content-type': 'application/octet-stream',
    'content-length': size - from,
    ...(offset === undefined ? {} : { 'content-range': `bytes ${from}-${size - 1}/${size}` }),
  });
  const sent = await sendBlob(deps.content.path(digest), from, size, res);
  log.info(
    { peer, digest, offset: from, bytes: sent, complete: from + sent === size },
    'blob served to a peer',
  );
  onServed?.({ peer, digest, kind, offset: from, bytes: sent });
}

const SEND_CHUNK = 1 << 20;

/**
 * Sends a blob's bytes from `from` on, read 1 MiB at a time into two buffers that are
 * reused once the connection took their bytes: a stream would allocate a new buffer for
 * every read (400 MB for a 200 MB image served to two nodes) and the collections that
 * memory triggers cost the serving node more than reading it. Answers the bytes sent.
 */
async function sendBlob(path: string, from: number, size: number, res: ServerResponse): Promise<number> {
  let gone = false;
  const closed = new Promise<void>((resolve) =>
    res.once('close', () => {
      gone = true;
      resolve();
    }),
  );
  const fh = await open(path, 'r');
  let sent = 0;
  try {
    const buffers = [Buffer.allocUnsafeSlow(SEND_CHUNK), Buffer.allocUnsafeSlow(SEND_CHUNK)];
    const taken: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    for (let pos = from, k = 0; pos < size && !gone; k ^= 1) {
      await Promise.race([taken[k], closed]);
      if (gone) break;
      const buffer = buffers[k]!;
      const { bytesRead } = await fh.read(buffer, 0, Math.min(SEND_CHUNK, size - pos), pos);
      if (bytesRead === 0) throw new Error(`the blob at ${path} is shorter than its ${size} bytes`);
      pos += bytesRead;
      sent += bytesRead;
      taken[k] = new Promise<void>((resolve) => res.write(buffer.subarray(0, bytesRead), () => resolve()));
      if (res.writableNeedDrain) await Promise.race([once(res, 'drain'), closed]);
    }
    if (!gone) res.end();
    await closed;
  } finally {
    await fh.close();
  }
  return sent;
}

/** The image paths to `images`, every other request to `other` (the node's exec for managers), if any. */
export function routePeerRequests(
  images: (req: IncomingMessage, res: ServerResponse) => void,
  other: ((req: IncomingMessage, res: ServerResponse) => void) | undefined,
): (req: IncomingMessage, res: ServerResponse) => void {
  const isImagePath = (url: string) =>
    url.startsWith(PEER_PATHS.manifests) || url.startsWith(PEER_PATHS.blobs);
  return (req, res) => (other && !isImagePath(req.url ?? '') ? other(req, res) : images(req, res));
}

function reply(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** `bytes=N-` (the one form a resumed download asks for); anything else serves the whole blob. */
function rangeStart(range: string | undefined): number | undefined {
  const m = /^bytes=(\d+)-$/.exec(range ?? '');
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

function manifestType(bytes: Buffer, images: readonly ImageRecord[], digest: string): string {
  const rec = images.find((i) => i.manifestDigest === digest);
  if (rec) return rec.manifestMediaType;
  try {
    const t = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    if (typeof t === 'string') return t;
  } catch {
    // an index without a media type field: the OCI one
  }
  return MediaType.ociIndex;
}

/**
 * The node's peer endpoint: HTTPS on `host:port`, a client certificate of the cluster CA
 * required. The certificate is taken again when renewal replaced it. Serves images to
 * every node and, through the node's other handler, exec to managers.
 */
export async function listenPeers(
  listen: { host: string; port: number },
  tls: () => PeerTls,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ close(): Promise<void> }> {
  const { createServer } = await import('node:https');
  let current = tls();
  const server = createServer(
    {
      ca: current.ca,
      cert: current.cert,
      key: current.key,
      requestCert: true,
      rejectUnauthorized: true,
      ciphers: PEER_CIPHERS,
      honorCipherOrder: true,
      // An exec's stdin streams for as long as its command runs (Node would cut a request
      // at 5 minutes); a handler bounds what must arrive whole.
      requestTimeout: 0,
    },
    handler,
  );
  const refresh = setInterval(() => {
    const next = tls();
    if (next.cert === current.cert && next.key === current.key && next.ca === current.ca) return;
    current = next;
    server.setSecureContext({ ca: next.ca, cert: next.cert, key: next.key });
  }, 60_000);
  refresh.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(refresh);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
