import type { Http2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RECEIVE_WINDOW_BYTES,
  raiseReceiveWindow,
  silentLogger,
} from '../../../manager/raft/transport/grpc.js';

// The raft transport widens the HTTP/2 receive window by reaching through grpc-js's call
// wrappers (grpc-js has no server option for it yet). This pins that the installed grpc-js
// still has that shape, with and without interceptors: if it changes, replication on a busy
// manager silently slows down to 64 KiB per event-loop turn.
const identity = (b: Buffer) => b;
const service: grpc.ServiceDefinition = {
  push: {
    path: '/skiff.test.Window/Push',
    requestStream: true,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const Client = grpc.makeGenericClientConstructor(service, 'Window');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function sessionsSeen(
  serverOptions: grpc.ServerOptions,
  calls: number,
): Promise<(Http2Session | null)[]> {
  const seen: (Http2Session | null)[] = [];
  const done = new WeakSet<Http2Session>();
  const server = new grpc.Server(serverOptions);
  cleanups.push(() => server.forceShutdown());
  server.addService(service, {
    push: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      seen.push(raiseReceiveWindow(call, done, silentLogger));
      call.on('data', () => {});
      call.on('end', () => cb(null, Buffer.alloc(0)));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const client: grpc.Client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  const push = client as grpc.Client & {
    push(cb: grpc.requestCallback<Buffer>): grpc.ClientWritableStream<Buffer>;
  };
  for (let i = 0; i < calls; i++) {
    await new Promise<void>((resolve, reject) => {
      const call = push.push((err) => (err ? reject(err) : resolve()));
      call.write(Buffer.from('x'));
      call.end();
    });
  }
  return seen;
}

describe('raft transport receive window', () => {
  it('widens the connection and stream windows of the session a raft stream arrives on', async () => {
    const seen = await sessionsSeen({}, 2);
    expect(seen).toHaveLength(2);
    const session = seen[0];
    expect(session).toBeTruthy();
    // What is left of the connection window (the few bytes received are not yet returned).
    expect(session?.state.localWindowSize).toBeGreaterThan(RECEIVE_WINDOW_BYTES / 2);
    expect(session?.localSettings.initialWindowSize).toBe(RECEIVE_WINDOW_BYTES);
    // Both calls share one connection: it is found again and not widened twice.
    expect(seen[1]).toBe(session);
  });

  it('finds the session behind server interceptors too', async () => {
    const passThrough: grpc.ServerInterceptor = (_method, call) => new grpc.ServerInterceptingCall(call);
    const seen = await sessionsSeen({ interceptors: [passThrough] }, 1);
    expect(seen[0]?.state.localWindowSize).toBeGreaterThan(RECEIVE_WINDOW_BYTES / 2);
  });
});
