import { describe, expect, it } from 'vitest';
import { NetworkViews, type NetworkViewTarget } from '../../../agent/worker/adapters/network.js';
import type { AssignedNetwork } from '../../../lib/index.js';

/** FAKE network layer: records what would be programmed into the kernel and the DNS server. */
class FakeNetworkLayer implements NetworkViewTarget {
  readonly defs = new Map<string, { id: string; driver: 'bridge' | 'overlay' }>();
  readonly peers = new Map<string, string[]>();
  readonly records = new Map<string, { name: string; ips: string[] }[]>();
  readonly vips = new Map<string, { vip: string; backends: string[] }[]>();
  readonly dns = {
    setRecords: (id: string, r: readonly { name: string; ips: string[] }[]) => {
      if (r.length === 0) this.records.delete(id);
      else this.records.set(id, [...r]);
    },
  };
  getNetwork(id: string) {
    const d = this.defs.get(id);
    return d && { ...d, name: id, subnet: '10.1.0.0/24', gateway: '10.1.0.1' };
  }
  listNetworks() {
    return [...this.defs.keys()].map((id) => this.getNetwork(id)!);
  }
  readonly urgent: boolean[] = [];
  async setServiceVips(
    id: string,
    vips: readonly { vip: string; backends: string[] }[],
    opts: { urgent?: boolean } = {},
  ) {
    this.urgent.push(opts.urgent ?? false);
    if (vips.length === 0) this.vips.delete(id);
    else this.vips.set(id, [...vips]);
  }
  async setOverlayPeers(id: string, peers: readonly { nodeId: string; underlayIp: string }[]) {
    if (!this.defs.has(id)) throw new Error(`network ${id} is not set up on this node`);
    await Promise.resolve();
    this.peers.set(
      id,
      peers.map((p) => p.underlayIp),
    );
  }
}

function view(id: string, peers: string[], web: string[]): AssignedNetwork {
  return {
    id,
    name: id,
    driver: 'overlay',
    subnet: '10.1.0.0/24',
    gateway: '10.1.0.1',
    vxlanId: 4097,
    peers: peers.map((addr, i) => ({ nodeId: `n${i}`, addr })),
    records: [{ name: 'web', ips: web }],
    vips: [{ vip: '10.1.0.2', backends: web }],
  };
}

const msg = (o: Partial<Parameters<NetworkViews['update']>[0]>) => ({
  complete: false,
  networks: [],
  removedNetworks: [],
  ...o,
});

describe('network views on the agent', () => {
  it('programs peers and names of networks set up on the node, and later ones when they are set up', async () => {
    const net = new FakeNetworkLayer();
    const views = new NetworkViews(net);
    net.defs.set('ov', { id: 'ov', driver: 'overlay' });
    await views.update(
      msg({
        complete: true,
        networks: [view('ov', ['192.168.0.2'], ['10.1.0.5']), view('later', ['192.168.0.3'], ['10.1.0.9'])],
      }),
    );
    expect(net.peers.get('ov')).toEqual(['192.168.0.2']);
    expect(net.records.get('ov')).toEqual([{ name: 'web', ips: ['10.1.0.5'] }]);
    // Not set up here yet: names are kept, peers wait for the network.
    expect(net.peers.has('later')).toBe(false);
    net.defs.set('later', { id: 'later', driver: 'overlay' });
    await views.apply('later');
    expect(net.peers.get('later')).toEqual(['192.168.0.3']);

    await views.update(
      msg({ networks: [view('ov', ['192.168.0.2', '192.168.0.4'], ['10.1.0.5', '10.1.0.6'])] }),
    );
    expect(net.peers.get('ov')).toEqual(['192.168.0.2', '192.168.0.4']);
    expect(net.records.get('ov')?.[0]?.ips).toEqual(['10.1.0.5', '10.1.0.6']);
    expect(net.peers.get('later')).toEqual(['192.168.0.3']);
  });

  it('clears a network the node has no tasks on any more, and what a complete set leaves out', async () => {
    const net = new FakeNetworkLayer();
    const views = new NetworkViews(net);
    net.defs.set('a', { id: 'a', driver: 'overlay' });
    net.defs.set('b', { id: 'b', driver: 'overlay' });
    await views.update(
      msg({
        complete: true,
        networks: [view('a', ['192.168.0.2'], ['10.1.0.5']), view('b', ['192.168.0.3'], ['10.1.0.6'])],
      }),
    );
    expect(net.vips.get('a')).toEqual([{ vip: '10.1.0.2', backends: ['10.1.0.5'] }]);
    await views.update(msg({ removedNetworks: ['a'] }));
    expect(net.peers.get('a')).toEqual([]);
    expect(net.records.has('a')).toBe(false);
    expect(net.vips.has('a')).toBe(false);
    // A new session's complete set no longer has b.
    await views.update(msg({ complete: true, networks: [] }));
    expect(net.peers.get('b')).toEqual([]);
    expect(net.records.has('b')).toBe(false);
  });

  it('gives a bridge network (single-node mode) names only, and survives a network removed meanwhile', async () => {
    const net = new FakeNetworkLayer();
    const views = new NetworkViews(net);
    net.defs.set('br', { id: 'br', driver: 'bridge' });
    net.defs.set('gone', { id: 'gone', driver: 'overlay' });
    const applying = views.update(
      msg({ networks: [view('br', ['192.168.0.2'], ['10.1.0.5']), view('gone', ['192.168.0.3'], [])] }),
    );
    net.defs.delete('gone');
    await applying;
    expect(net.peers.has('br')).toBe(false);
    expect(net.records.get('br')).toEqual([{ name: 'web', ips: ['10.1.0.5'] }]);
    expect(net.peers.has('gone')).toBe(false);
  });

  it('has the tables rewritten at once when a task left a VIP’s set (it is stopping) or an empty set got tasks, not when one joined others', async () => {
    const net = new FakeNetworkLayer();
    const views = new NetworkViews(net);
    net.defs.set('ov', { id: 'ov', driver: 'overlay' });
    await views.update(msg({ complete: true, networks: [view('ov', [], [])] }));
    expect(net.urgent.at(-1)).toBe(false);
    // Every connection to the VIP was refused until now.
    await views.update(msg({ networks: [view('ov', [], ['10.1.0.5'])] }));
    expect(net.urgent.at(-1)).toBe(true);
    await views.update(msg({ networks: [view('ov', [], ['10.1.0.5', '10.1.0.6'])] }));
    expect(net.urgent.at(-1)).toBe(false);
    await views.update(msg({ networks: [view('ov', ['192.168.0.2'], ['10.1.0.5', '10.1.0.6'])] }));
    expect(net.urgent.at(-1)).toBe(false);
    await views.update(msg({ networks: [view('ov', ['192.168.0.2'], ['10.1.0.6'])] }));
    expect(net.urgent.at(-1)).toBe(true);
  });
});
