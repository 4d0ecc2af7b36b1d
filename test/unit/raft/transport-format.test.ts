// Raft streams say their frame format (metadata `skiff-raft-format`): a node refuses a
// newer one with both versions named and delivers nothing of it; a stream without the
// key (a node from before it) reads as format 1.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Writer, writeMessage } from '../../../manager/raft/codec.js';
import { GrpcTransport, type Message, RAFT_FORMAT, RAFT_FORMAT_KEY } from '../../../manager/raft/index.js';
import { waitFor } from '../../lab/index.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function receiver() {
  const got: Message[] = [];
  const t = await GrpcTransport.start({ id: 'b', listenAddr: '127.0.0.1:0', onMessage: (m) => got.push(m) });
  closers.push(() => t.close());
  return { t, got };
}

const bytes = (b: Buffer) => b;
const Raw = grpc.makeGenericClientConstructor(
  {
    send: {
      path: '/skiff.raft.Raft/Send',
      requestStream: true,
      responseStream: false,
      requestSerialize: bytes,
      requestDeserialize: bytes,
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: bytes,
    },
  },
  'Raft',
);

/** One frame of one heartbeat from 'a' to 'b', sent as a peer would, with `format` in the metadata (none: an older node). */
function sendRaw(addr: string, format: string | undefined): Promise<grpc.ServiceError | null> {
  const client = new Raw(addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    send(md: grpc.Metadata, cb: grpc.requestCallback<Buffer>): grpc.ClientWritableStream<Buffer>;
  };
  closers.push(() => client.close());
  const md = new grpc.Metadata();
  if (format !== undefined) md.set(RAFT_FORMAT_KEY, format);
  return new Promise((resolve) => {
    const call = client.send(md, (err) => resolve(err));
    call.on('error', () => {});
    const w = new Writer();
    w.u32(1);
    writeMessage(w, { type: 'heartbeat', from: 'a', to: 'b', term: 3, commit: 0 });
    call.write(w.finish());
    call.end();
  });
}

describe('raft frame format', () => {
  it('refuses a stream of a newer format, naming both versions, and delivers none of it', async () => {
    const { t, got } = await receiver();
    const err = await sendRaw(t.addr, String(RAFT_FORMAT + 1));
    expect(err?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err?.details).toBe(
      `raft messages of format ${RAFT_FORMAT + 1}; this node reads raft formats 1 to ${RAFT_FORMAT}: upgrade it to the version its peers run`,
    );
    expect(got).toEqual([]);
  });

  it('reads a stream without a format as format 1, and its own format', async () => {
    const { t, got } = await receiver();
    expect(await sendRaw(t.addr, undefined)).toBeNull();
    expect(await sendRaw(t.addr, String(RAFT_FORMAT))).toBeNull();
    await waitFor(() => got.length === 2, { what: 'both heartbeats delivered', timeoutMs: 5000 });
    expect(got.map((m) => [m.type, m.from, m.term])).toEqual([
      ['heartbeat', 'a', 3],
      ['heartbeat', 'a', 3],
    ]);
  });

  it('sends its format between two transports', async () => {
    const { t: b, got } = await receiver();
    const a = await GrpcTransport.start({ id: 'a', listenAddr: '127.0.0.1:0', onMessage: () => {} });
    closers.push(() => a.close());
    a.setPeers({ b: b.addr });
    a.send([{ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 0 }]);
    await waitFor(() => got.length === 1, { what: 'the heartbeat delivered', timeoutMs: 5000 });
  });
});
