// The raft transport between managers: a message's `from` must be the member the
// sender's certificate names (one manager cannot speak for another), a worker's
// certificate gets nothing through, and snapshot transfers are bounded in size.
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRootCa,
  mtlsChannelCredentials,
  mtlsServerCredentials,
  type NodeRole,
  raftPeerMember,
} from '../../../manager/ca/index.js';
import { GrpcTransport, type Message } from '../../../manager/raft/index.js';
import { nodeIdentity } from '../../fixtures/node-identity.js';
import { waitFor } from '../../lab/index.js';

const ca = createRootCa({ clusterId: 'c1', commonName: 'skiff-raft-ca' });
const identity = (nodeId: string, role: NodeRole) => nodeIdentity(ca, nodeId, role);

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function transport(id: string, o: { role?: NodeRole; maxSnapshotBytes?: number } = {}) {
  const pems = identity(id, o.role ?? 'manager');
  const got: Message[] = [];
  const t = await GrpcTransport.start({
    id,
    listenAddr: '127.0.0.1:0',
    onMessage: (m) => got.push(m),
    serverCredentials: mtlsServerCredentials(pems),
    // The server side of this test's sender is never called back: any role's client works.
    channelCredentials: mtlsChannelCredentials(pems),
    peerMember: raftPeerMember,
    ...(o.maxSnapshotBytes ? { maxSnapshotBytes: o.maxSnapshotBytes } : {}),
  });
  stops.push(() => t.close());
  return { t, got };
}

const heartbeat = (from: string, to: string, term: number): Message => ({
  type: 'heartbeat',
  from,
  to,
  term,
  commit: 0,
});
const snap = (from: string, to: string, bytes: number): Message => ({
  type: 'snap',
  from,
  to,
  term: 1,
  snapshot: {
    meta: { index: 5, term: 1, conf: { voters: [from, to], learners: [], addrs: {} } },
    data: new Uint8Array(bytes),
  },
});

describe('raft transport: who may speak', () => {
  it('drops a message whose from is not the member its certificate names, delivers its own', async () => {
    const m1 = await transport('m1');
    const m2 = await transport('m2');
    m2.t.setPeers({ m1: m1.t.addr });
    // The spoofed message goes first on the same stream: once the honest one arrives,
    // the spoofed one was read and dropped.
    m2.t.send([heartbeat('m3', 'm1', 7), heartbeat('m2', 'm1', 8)]);
    await waitFor(() => m1.got.some((m) => m.type === 'heartbeat'), {
      what: "m2's heartbeat",
      timeoutMs: 10_000,
    });
    expect(m1.got.filter((m) => m.type === 'heartbeat').map((m) => [m.from, m.term])).toEqual([['m2', 8]]);
  });

  it('refuses a snapshot sent as another member', async () => {
    const m1 = await transport('m1');
    const m2 = await transport('m2');
    m2.t.setPeers({ m1: m1.t.addr });
    m2.t.send([snap('m3', 'm1', 1000)]);
    await waitFor(() => m2.got.find((m) => m.type === 'snapStatus'), {
      what: 'the snapshot outcome',
      timeoutMs: 10_000,
    });
    expect(m2.got.find((m) => m.type === 'snapStatus')?.reject).toBe(true);
    expect(m1.got.filter((m) => m.type === 'snap')).toEqual([]);
  });

  it("gets nothing through with a worker's certificate", async () => {
    const m1 = await transport('m1');
    const w = await transport('w1', { role: 'worker' });
    w.t.setPeers({ m1: m1.t.addr });
    await waitFor(
      () => {
        if (w.got.some((m) => m.type === 'unreachable')) return true;
        w.t.send([heartbeat('w1', 'm1', 9)]);
        return false;
      },
      { what: 'the worker to find m1 unreachable', timeoutMs: 10_000 },
    );
    expect(m1.got).toEqual([]);
  });
});

describe('raft transport: snapshot bounds', () => {
  it('refuses a snapshot over the bound and takes one under it', async () => {
    const m1 = await transport('m1', { maxSnapshotBytes: 64 << 10 });
    const m2 = await transport('m2');
    m2.t.setPeers({ m1: m1.t.addr });
    m2.t.send([snap('m2', 'm1', 1 << 20)]);
    await waitFor(() => m2.got.find((m) => m.type === 'snapStatus'), {
      what: 'the big snapshot refused',
      timeoutMs: 10_000,
    });
    expect(m2.got.find((m) => m.type === 'snapStatus')?.reject).toBe(true);
    expect(m1.got.filter((m) => m.type === 'snap')).toEqual([]);

    m2.got.length = 0;
    m2.t.send([snap('m2', 'm1', 32 << 10)]);
    await waitFor(() => m1.got.find((m) => m.type === 'snap'), {
      what: 'the small snapshot',
      timeoutMs: 10_000,
    });
    expect(m1.got.find((m) => m.type === 'snap')?.snapshot?.data.length).toBe(32 << 10);
  });
});
