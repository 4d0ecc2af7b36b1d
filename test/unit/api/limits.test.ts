// What a client can push at the API is bounded: nesting depth of a JSON body, the time
// a request on TCP may take to arrive (10 s unauthenticated, 60 s for an authenticated
// body; on a route that reads its body as a stream, 60 s of silence), and an /events
// stream that stops being read.
import { type AddressInfo, connect } from 'node:net';
import type { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { STREAMED_BODY } from '../../../manager/index.js';
import { newApi } from './helpers.js';

describe('request bodies', () => {
  it('a deeply nested JSON body is a 400 with a clear message, not a 500', async () => {
    const { app, replicator } = await newApi();
    const before = replicator.proposals;
    for (const depth of [600, 2_200, 100_000]) {
      const res = await app.inject({
        method: 'POST',
        url: '/services/create',
        headers: { 'content-type': 'application/json' },
        payload: `{"Name":"x","Labels":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      });
      expect(res.statusCode, `depth ${depth}`).toBe(400);
      expect(res.json().message).toMatch(/nested more than \d+ levels deep/);
    }
    expect(replicator.proposals).toBe(before);
    await app.close();
  });

  it('a body over the size bound is a 413, read no further', async () => {
    const { app, replicator } = await newApi();
    const before = replicator.proposals;
    const res = await app.inject({
      method: 'POST',
      url: '/configs/create',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ Name: 'big', Data: 'A'.repeat(5 << 20) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toMatch(/body/i);
    expect(replicator.proposals).toBe(before);
    await app.close();
  });

  it('a body nested within the bound is parsed as before', async () => {
    const { app } = await newApi();
    const res = await app.inject({
      method: 'POST',
      url: '/secrets/create',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ Name: 's', Data: 'aGk=', Labels: { a: '["[[[{{{"]' } }),
    });
    expect(res.statusCode).toBe(201);
    await app.close();
  });
});

describe('the TCP API', () => {
  it('closes a connection that sends headers to /skiff/join and then trickles the body', async () => {
    const { app } = await newApi({ tcp: { publicRequestTimeoutMs: 500 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const sock = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    let trickle: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
      const closed = new Promise<number>((resolve) => sock.once('close', () => resolve(Date.now())));
      sock.on('error', () => {});
      const started = Date.now();
      sock.write(
        'POST /skiff/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{',
      );
      // One byte every 50 ms: the whole body would take 80 minutes.
      trickle = setInterval(() => sock.writable && sock.write(' '), 50);
      const deadline = new Promise<number>((resolve) => setTimeout(() => resolve(-1), 10_000).unref());
      const at = await Promise.race([closed, deadline]);
      expect(at, 'the server closed the connection').toBeGreaterThan(0);
      expect(at - started).toBeLessThan(8_000);
    } finally {
      clearInterval(trickle);
      sock.destroy();
      await app.close();
    }
  });

  /**
   * Sends headers and a body of `contentType` to `path`, one byte every `gapMs` (or the
   * first byte only, when `gapMs` is null); when did the server close?
   */
  async function trickleAuthenticated(
    bodyTimeoutMs: number,
    contentType: string,
    waitMs: number,
    path = '/secrets/create',
    gapMs: number | null = 50,
  ) {
    const { app, clientTls } = await newApi({
      tcp: { bodyTimeoutMs },
      // A route like the daemon's uploads: its body, whatever its label, read as it comes.
      extraRoutes: (api) => {
        void api.register(async (scope) => {
          scope.removeAllContentTypeParsers();
          scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
          scope.post('/upload', STREAMED_BODY, async (req) => {
            for await (const _ of req.body as Readable);
            return {};
          });
        });
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const sock = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: clientTls.caPem,
      cert: clientTls.certPem,
      key: clientTls.keyPem,
      checkServerIdentity: () => undefined,
    });
    let trickle: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
      const closed = new Promise<number>((resolve) => sock.once('close', () => resolve(Date.now())));
      sock.on('error', () => {});
      const started = Date.now();
      sock.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\nContent-Length: 100000\r\n\r\n{`,
      );
      if (gapMs !== null) trickle = setInterval(() => sock.writable && sock.write(' '), gapMs);
      const deadline = new Promise<number>((resolve) => setTimeout(() => resolve(-1), waitMs).unref());
      const at = await Promise.race([closed, deadline]);
      return at < 0 ? undefined : at - started;
    } finally {
      clearInterval(trickle);
      sock.destroy();
      await app.close();
    }
  }

  it('closes an authenticated connection whose body trickles past the body timeout', async () => {
    const after = await trickleAuthenticated(500, 'application/json', 10_000);
    expect(after, 'the server closed the connection').toBeDefined();
    expect(after).toBeLessThan(8_000);
  });

  it('leaves the body of a streamed route open past the body timeout while bytes come', async () => {
    // docker import and cp label their tarballs application/json: the route decides.
    const after = await trickleAuthenticated(300, 'application/json', 2_000, '/upload');
    expect(after).toBeUndefined();
  });

  it('closes the body of a streamed route that sends nothing for the body timeout', async () => {
    const after = await trickleAuthenticated(300, 'application/json', 10_000, '/upload', null);
    expect(after, 'the server closed the connection').toBeDefined();
    expect(after).toBeGreaterThanOrEqual(250);
    expect(after).toBeLessThan(8_000);
  });

  it('exempts no body for its content type alone: exec stdin sent to a JSON route is bounded', async () => {
    const after = await trickleAuthenticated(500, 'application/vnd.skiff.exec-stdin', 10_000);
    expect(after, 'the server closed the connection').toBeDefined();
    expect(after).toBeLessThan(8_000);
  });

  it('still answers a client that sends its request at once', async () => {
    const { app } = await newApi({ tcp: { publicRequestTimeoutMs: 500 } });
    const res = await app.inject({ method: 'POST', url: '/skiff/join', payload: { token: 'nope' } });
    expect(res.statusCode).toBe(400);
    await app.close();
  });
});

describe('/events', () => {
  it('drops a client that stops reading instead of buffering its events without end', async () => {
    const bound = 256 << 10;
    const { app } = await newApi({ eventsMaxBufferedBytes: bound });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const sock = connect(port, '127.0.0.1');
    try {
      sock.write('GET /events HTTP/1.1\r\nHost: x\r\n\r\n');
      // Read the headers, then stop reading for good.
      await new Promise<void>((resolve) => sock.once('data', () => resolve()));
      sock.pause();
      const listeners = async () => (await app.inject({ url: '/info' })).json().NEventsListener as number;
      expect(await listeners()).toBe(1);
      // Events of ~16 KiB each (labels travel in the event) until the kernel's buffers are
      // full and the daemon's own buffer passes the bound: at most 64 MiB are produced.
      const label = 'x'.repeat(16 << 10);
      let produced = 0;
      while ((await listeners()) > 0) {
        expect(produced, 'bytes of events produced while the client stays listed').toBeLessThan(64 << 20);
        for (let i = 0; i < 64; i++) {
          const res = await app.inject({
            method: 'POST',
            url: '/configs/create',
            payload: { Name: `c${produced}-${i}`, Data: 'aGk=', Labels: { big: label } },
          });
          expect(res.statusCode).toBe(201);
        }
        produced += 64 * label.length;
      }
    } finally {
      sock.destroy();
      await app.close();
    }
  });
});
