// Where a node's peer endpoint is, as its registration names it: recorded in the store so
// that any manager forwards an exec in one of the node's tasks there. Only an address on
// the node's own registered host counts: a node cannot send managers' exec streams (stdin
// included) to another host.
import { afterEach, describe, expect, it } from 'vitest';
import { type Node, nodePeerAddr, registeredPeerAddr } from '../../../lib/index.js';
import { Dispatcher } from '../../../manager/dispatcher/index.js';
import { FakeStore } from './fake-store.js';

describe('a node’s peer endpoint', () => {
  let dispatcher: Dispatcher | undefined;
  afterEach(() => dispatcher?.stop());

  it('is recorded from the registration’s images address on the node’s own host', async () => {
    const store = new FakeStore();
    dispatcher = new Dispatcher({ store, heartbeatPeriodMs: 60_000 });
    const images = (addr: string) => ({ addr, digests: [] });
    await dispatcher.register({
      nodeId: 'a',
      description: {},
      addr: '10.0.0.1',
      images: images('10.0.0.1:2380'),
    });
    await dispatcher.register({
      nodeId: 'b',
      description: {},
      addr: '10.0.0.2',
      images: images('10.0.0.9:2380'),
    });
    await dispatcher.register({ nodeId: 'c', description: {}, addr: '10.0.0.3' });
    expect(store.peerAddrs.get('a')).toBe('10.0.0.1:2380');
    expect(store.peerAddrs.get('b')).toBeUndefined();
    expect(store.peerAddrs.get('c')).toBeUndefined();
  });

  it('needs a port in range after the host', () => {
    expect(registeredPeerAddr('fd00::1', 'fd00::1:2380')).toBe('fd00::1:2380');
    for (const bad of ['10.0.0.1', '10.0.0.1:', '10.0.0.1:0', '10.0.0.1:65536', '10.0.0.1:80x', ':2380'])
      expect(registeredPeerAddr('10.0.0.1', bad), bad).toBeUndefined();
    expect(registeredPeerAddr('10.0.0.1', undefined)).toBeUndefined();
  });

  it('is read from the node object, absent for a node that recorded none', () => {
    const node = (status: Record<string, unknown>) =>
      ({ Status: { State: 'ready', ...status } }) as unknown as Node;
    expect(nodePeerAddr(node({ Addr: '10.0.0.1', 'x-skiff-peer-addr': '10.0.0.1:2380' }))).toBe(
      '10.0.0.1:2380',
    );
    expect(nodePeerAddr(node({ Addr: '10.0.0.1' }))).toBeUndefined();
  });
});
