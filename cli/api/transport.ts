// HTTP/1.1 to a manager over its unix socket or TCP (mTLS), on Node's own http and https
// modules. Not undici: a short command's time is mostly start-up, and undici costs a
// CLI run ~70 ms to load plus its WebAssembly HTTP parser, which V8 finishes compiling
// in the background before the process may exit (another ~100 ms per command).
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { requireManagerPeer } from '../../lib/index.js';

export interface TransportTarget {
  /** A unix socket; else `origin` is dialled. */
  socketPath?: string;
  /** `http://host:port` or `https://host:port` (ignored with a socket). */
  origin: string;
  /** Client certificate, key and the cluster CA (PEM), for https. */
  tls?: { ca: string; cert?: string; key?: string };
  /** How long to wait for a response's headers; its body may take as long as it takes. */
  headersTimeoutMs: number;
}

export interface TransportResponse {
  statusCode: number;
  /** The body as it arrives. */
  body: IncomingMessage;
  text(): Promise<string>;
}

export interface TransportRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers?: Record<string, string>;
  /** A string is sent whole; a stream is piped, and may go on after the response began. */
  body?: string | Readable;
  signal?: AbortSignal;
}

// node:https (and with it tls and crypto) loads only for a manager on TCP: most commands
// talk to the local unix socket, and those modules are a good part of a command's start.
const require = createRequire(import.meta.url);
const https = (): typeof Https => require('node:https') as typeof Https;

export class HttpTransport {
  private readonly agent: HttpAgent;
  private readonly secure: boolean;
  private readonly host: string;
  private readonly port: number | undefined;

  constructor(private readonly target: TransportTarget) {
    const url = new URL(target.socketPath ? 'http://localhost' : target.origin);
    this.secure = url.protocol === 'https:';
    this.host = url.hostname;
    this.port = url.port === '' ? undefined : Number(url.port);
    const tls = target.tls;
    this.agent = this.secure
      ? new (https().Agent)({
          keepAlive: true,
          ...(tls ? { ca: tls.ca, ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}) } : {}),
          // Node certificates name nodes by ID, not by host: the cluster CA is checked, and
          // the manager role (a worker's certificate of the same CA is no API server).
          checkServerIdentity: requireManagerPeer,
        })
      : new HttpAgent({ keepAlive: true });
  }

  request(r: TransportRequest): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...r.headers };
      if (typeof r.body === 'string') headers['content-length'] = String(Buffer.byteLength(r.body));
      const options: RequestOptions = {
        method: r.method,
        path: r.path,
        headers,
        agent: this.agent,
        ...(this.target.socketPath
          ? // No TLS on a socket: an empty servername spares the agent its IP check of the
            // host, whose first use compiles a large regular expression (~10 ms of a command).
            { socketPath: this.target.socketPath, servername: '' }
          : { host: this.host, ...(this.port ? { port: this.port } : {}) }),
        ...(r.signal ? { signal: r.signal } : {}),
      };
      const req = this.secure ? https().request(options) : httpRequest(options);
      const timer = setTimeout(
        () => req.destroy(new Error(`no response within ${this.target.headersTimeoutMs} ms`)),
        this.target.headersTimeoutMs,
      );
      req.once('response', (res) => {
        clearTimeout(timer);
        resolve({ statusCode: res.statusCode ?? 0, body: res, text: () => readText(res) });
      });
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      if (r.body === undefined || typeof r.body === 'string') req.end(r.body);
      else {
        r.body.once('error', (err) => req.destroy(err));
        r.body.pipe(req);
      }
    });
  }

  /** Closes the idle connections (the client is done). */
  close(): void {
    this.agent.destroy();
  }
}

// Events rather than `for await`: the stream's async iterator loads more of node:stream.
function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', reject);
  });
}
