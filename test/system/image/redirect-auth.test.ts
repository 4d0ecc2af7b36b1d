// A registry that answers a blob GET with a redirect: the registry's credentials follow
// only to the registry's own origin. Behind one port the test serves both TLS (the
// registry, through a proxy) and plain HTTP (a "blob store" that records headers), so a
// redirect from https to http keeps host and port and changes only the scheme — the
// downgrade a client comparing hosts alone would send the password over.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ImageService } from '../../../agent/image/index.js';
import {
  buildImage,
  makeSelfSignedCert,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../fixtures/index.js';

const USER = { user: 'alice', password: 'pa55:word' };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Seen {
  scheme: 'https' | 'http';
  host: string;
  path: string;
  authorization: string | undefined;
}

/**
 * One port speaking TLS and plain HTTP (told apart by the first byte, 0x16 for a TLS
 * handshake). Over TLS it proxies to `registry`, except layer GETs, which it redirects to
 * `redirectTo(port)` + the same path; plain HTTP, or TLS under another host name, serves
 * blobs from the registry's storage.
 */
async function startFront(
  registry: TestRegistry,
  dir: string,
  layers: Set<string>,
  redirectTo: (port: number) => string,
) {
  const cert = await makeSelfSignedCert(dir, 'front');
  const seen: Seen[] = [];
  const record = (scheme: Seen['scheme'], path: string, h: IncomingHttpHeaders) =>
    seen.push({ scheme, host: h.host ?? '', path, authorization: h.authorization });
  const upstream = new URL(registry.url);
  let port = 0;
  const serveBlob = (path: string, res: ServerResponse) => {
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path)?.[1];
    if (!digest) {
      res.writeHead(404).end();
      return;
    }
    readFile(registry.blobPath(digest)).then(
      (data) => res.writeHead(200, { 'content-length': data.length }).end(data),
      () => res.writeHead(404).end(),
    );
  };
  const tlsSide = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const path = req.url ?? '/';
    record('https', path, req.headers);
    // Under another name, this port plays the blob store over TLS too.
    if (req.headers.host !== `127.0.0.1:${port}`) {
      serveBlob(path, res);
      return;
    }
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path)?.[1];
    if (req.method === 'GET' && digest && layers.has(digest)) {
      res.writeHead(307, { location: `${redirectTo(port)}${path}` }).end();
      return;
    }
    const up = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const plainSide = createHttpServer((req, res) => {
    record('http', req.url ?? '/', req.headers);
    serveBlob(req.url ?? '/', res);
  });
  const sockets = new Set<Socket>();
  const front = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // Peek at the first byte without consuming it, then hand the socket to its side.
    socket.once('readable', () => {
      const first = socket.read(1) as Buffer | null;
      if (!first) {
        socket.destroy();
        return;
      }
      socket.unshift(first);
      (first[0] === 0x16 ? tlsSide : plainSide).emit('connection', socket);
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  port = (front.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    seen,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => front.close(() => resolve()));
    },
  };
}

async function setup(kind: 'basic' | 'token', redirectTo: (port: number) => string) {
  const registry = await startRegistry(
    kind === 'basic' ? { htpasswd: USER } : { tokenAuth: { users: [USER] } },
  );
  cleanups.push(() => registry.stop());
  const image = await buildImage({ files: { '/secret.txt': 'only for alice\n' } });
  cleanups.push(() => image.remove());
  await pushImage(image, registry.host, 'private/app:1', { creds: USER });
  const root = await mkdtemp(join(tmpdir(), 'skiff-redirect-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const layers = new Set(image.manifests[0]!.layers.map((l) => l.digest));
  const front = await startFront(registry, root, layers, redirectTo);
  cleanups.push(() => front.stop());
  const images = new ImageService({ root, authFile: join(root, 'auth.json') });
  cleanups.push(() => images.close());
  await images.login(front.host, USER.user, USER.password);
  return { front, images, layers, ref: `${front.host}/private/app:1` };
}

describe('registry redirects and credentials', () => {
  it.each(['basic', 'token'] as const)(
    '%s: a redirect from https to http on the same host and port carries no Authorization',
    async (kind) => {
      const { front, images, layers, ref } = await setup(kind, (port) => `http://127.0.0.1:${port}`);
      await images.pull(ref);
      const plain = front.seen.filter((s) => s.scheme === 'http');
      expect(new Set(plain.map((s) => s.path.split('/').at(-1)))).toEqual(layers);
      expect(plain.map((s) => s.authorization)).toEqual(plain.map(() => undefined));
      // The registry itself did get the credentials over TLS.
      expect(front.seen.some((s) => s.scheme === 'https' && s.authorization)).toBe(true);
    },
  );

  it('a redirect to another host name carries no Authorization either', async () => {
    const { front, images, layers, ref } = await setup('basic', (port) => `https://localhost:${port}`);
    await images.pull(ref);
    const other = front.seen.filter((s) => s.host.startsWith('localhost:'));
    expect(new Set(other.map((s) => s.path.split('/').at(-1)))).toEqual(layers);
    expect(other.map((s) => s.authorization)).toEqual(other.map(() => undefined));
  });
});
