// Two lab hosts, one overlay network: containers on different hosts exchange TCP
// traffic by service name over VXLAN; when a host leaves, the other host's
// forwarding entries for it are gone. A third host, not a member, cannot inject
// frames into the overlay through the VXLAN port.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeNameFor, vxlanNameFor } from '../../../agent/network/index.js';
import { Cleanup, createLab, type Lab, type LabHost, runChecked, waitFor } from '../../lab/index.js';
import { NetworkAgent, Sandbox } from '../../support/network-agent/index.js';

const overlay = {
  id: 'ov-shop',
  name: 'shop_backend',
  driver: 'overlay',
  subnet: '10.220.0.0/24',
  gateway: '10.220.0.1',
  vxlanId: 4242,
} as const;

// Addresses and names as the manager's allocator and the worker would hand them out.
const API_IP = '10.220.0.10';
const CLIENT_IP = '10.220.0.20';
const records = [
  { name: 'api', ips: [API_IP] },
  { name: 'tasks.api', ips: [API_IP] },
  { name: 'client', ips: [CLIENT_IP] },
];

async function fdbPeers(host: LabHost): Promise<string[]> {
  const out = await runChecked('ip', [
    'netns',
    'exec',
    host.netns,
    'bridge',
    '-j',
    'fdb',
    'show',
    'dev',
    vxlanNameFor(overlay.id),
  ]);
  return (JSON.parse(out) as { dst?: string }[]).flatMap((e) => (e.dst ? [e.dst] : [])).sort();
}

describe('overlay network across two lab hosts', () => {
  const cleanup = new Cleanup();
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  let h3: LabHost;
  let agent1: NetworkAgent;
  let agent2: NetworkAgent;
  let api: Sandbox;
  let client: Sandbox;

  beforeAll(async () => {
    lab = await createLab({ hosts: 3 });
    cleanup.add(() => lab.destroy(), 'lab');
    [h1, h2, h3] = [lab.hosts[0]!, lab.hosts[1]!, lab.hosts[2]!];
    [agent1, agent2] = await Promise.all([NetworkAgent.start(h1), NetworkAgent.start(h2)]);
    cleanup.add(() => agent1.stop(), 'agent 1');
    cleanup.add(() => agent2.stop(), 'agent 2');
    for (const [agent, peer] of [
      [agent1, h2],
      [agent2, h1],
    ] as const) {
      await agent.ensureNetwork(overlay);
      cleanup.add(() => agent.removeNetwork(overlay.id), 'overlay network');
      await agent.call('setOverlayPeers', overlay.id, [
        { nodeId: 'node-1', underlayIp: h1.addr },
        { nodeId: 'node-2', underlayIp: h2.addr },
      ]);
      expect(peer.addr).toBeTruthy();
      await agent.call('setRecords', overlay.id, records);
    }
    const a = await agent1.createSandbox('api-1');
    cleanup.add(() => agent1.removeSandbox('api-1'), 'api sandbox');
    await agent1.attach('api-1', a.netnsPath, [
      { networkId: overlay.id, aliases: ['api'], ipv4Address: API_IP },
    ]);
    api = new Sandbox('api-1', a.netnsPath, h1);
    const c = await agent2.createSandbox('client-1');
    cleanup.add(() => agent2.removeSandbox('client-1'), 'client sandbox');
    await agent2.attach('client-1', c.netnsPath, [
      { networkId: overlay.id, aliases: ['client'], ipv4Address: CLIENT_IP },
    ]);
    client = new Sandbox('client-1', c.netnsPath, h2);
    const server = api.serveHttp(path.join(h1.dir, 'www'), 'api on h1');
    cleanup.add(() => server.stop(), 'api server');
    const back = client.serveHttp(path.join(h2.dir, 'www'), 'client on h2');
    cleanup.add(() => back.stop(), 'client server');
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('programs one static forwarding entry per peer, not itself', async () => {
    expect(await fdbPeers(h1)).toEqual([h2.addr]);
    expect(await fdbPeers(h2)).toEqual([h1.addr]);
    const link = await runChecked('ip', [
      'netns',
      'exec',
      h1.netns,
      'ip',
      '-d',
      '-j',
      'link',
      'show',
      'dev',
      vxlanNameFor(overlay.id),
    ]);
    const info = (
      JSON.parse(link) as {
        master?: string;
        linkinfo?: { info_data?: { id?: number; learning?: boolean } };
      }[]
    )[0];
    expect(info?.master).toBe(bridgeNameFor(overlay.id));
    expect(info?.linkinfo?.info_data?.id).toBe(4242);
    expect(info?.linkinfo?.info_data?.learning).toBe(false);
  });

  it('lets containers on different hosts exchange TCP traffic by service name', async () => {
    const resolv = path.join(h2.dir, 'client-resolv.conf');
    writeFileSync(resolv, await agent2.resolvConfFor('client-1'));
    await waitFor(() => client.httpGetByName(resolv, 'api', 80), {
      what: 'api over the overlay',
      timeoutMs: 20_000,
    });
    expect(await client.httpGetByName(resolv, 'api', 80)).toBe('api on h1');
    expect(await client.lookup('tasks.api', overlay.gateway)).toEqual([API_IP]);

    const resolvApi = path.join(h1.dir, 'api-resolv.conf');
    writeFileSync(resolvApi, await agent1.resolvConfFor('api-1'));
    await waitFor(() => api.httpGetByName(resolvApi, 'client', 80), {
      what: 'client over the overlay',
      timeoutMs: 20_000,
    });
    expect(await api.httpGetByName(resolvApi, 'client', 80)).toBe('client on h2');
  });

  it('keeps each container talking to its own host for the shared gateway address', async () => {
    const bridgeMac = async (host: LabHost) =>
      (
        JSON.parse(
          await runChecked('ip', [
            'netns',
            'exec',
            host.netns,
            'ip',
            '-j',
            'link',
            'show',
            'dev',
            bridgeNameFor(overlay.id),
          ]),
        ) as { address: string }[]
      )[0]?.address;
    const entry = await waitFor(
      async () => {
        await client.exec('busybox', ['ping', '-c', '1', '-W', '1', overlay.gateway]);
        const neigh = await client.exec('ip', ['-j', 'neigh', 'show', overlay.gateway]);
        return (JSON.parse(neigh.stdout || '[]') as { lladdr?: string }[]).find((n) => n.lladdr);
      },
      { what: 'the gateway in the client container’s neighbour table', timeoutMs: 10_000 },
    );
    expect(entry?.lladdr).toBe(await bridgeMac(h2));
    expect(entry?.lladdr).not.toBe(await bridgeMac(h1));
    // h1 never saw the client's ARP for the gateway (it would have learned the client's address from it).
    const h1Neigh = await runChecked('ip', [
      'netns',
      'exec',
      h1.netns,
      'ip',
      '-j',
      'neigh',
      'show',
      'dev',
      bridgeNameFor(overlay.id),
    ]);
    expect((JSON.parse(h1Neigh || '[]') as { dst: string }[]).map((n) => n.dst)).not.toContain(CLIENT_IP);
  });

  it('takes VXLAN packets for the overlay only from member hosts', async () => {
    const eth0 = async () =>
      (
        JSON.parse((await api.exec('ip', ['-j', '-s', 'link', 'show', 'dev', 'eth0'])).stdout) as {
          address: string;
          stats64: { rx: { packets: number; bytes: number } };
        }[]
      )[0]!;
    // h3 builds a VXLAN device of its own on the overlay's VNI, pointed at h1, and sends
    // UDP datagrams to the api container's address and MAC through it.
    const vx = 'vxintruder';
    await h3.run('ip', [
      'link',
      'add',
      vx,
      'type',
      'vxlan',
      'id',
      String(overlay.vxlanId),
      'dstport',
      '4789',
    ]);
    await h3.run('ip', ['link', 'set', vx, 'up']);
    await h3.run('bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', vx, 'dst', h1.addr]);
    await h3.run('ip', ['addr', 'add', '10.220.0.99/24', 'dev', vx]);
    await h3.run('ip', [
      'neigh',
      'replace',
      API_IP,
      'lladdr',
      (await eth0()).address,
      'dev',
      vx,
      'nud',
      'permanent',
    ]);
    const send = (count: number, size: number) =>
      h3.run('bash', [
        '-c',
        `for i in $(seq ${count}); do printf '%0${size}d' 0 > /dev/udp/${API_IP}/9; done`,
      ]);
    const before = (await eth0()).stats64.rx;
    try {
      // 100 small datagrams while h3 is not a member, then 100 large ones once it is: when the
      // large ones have arrived, the small ones (sent first, on the same path) have too, if
      // they were let in.
      await send(100, 10);
      await agent1.call('setOverlayPeers', overlay.id, [
        { nodeId: 'node-1', underlayIp: h1.addr },
        { nodeId: 'node-2', underlayIp: h2.addr },
        { nodeId: 'node-3', underlayIp: h3.addr },
      ]);
      await send(100, 1000);
      const after = await waitFor(
        async () => {
          const rx = (await eth0()).stats64.rx;
          return rx.bytes - before.bytes >= 100 * 1000 ? rx : undefined;
        },
        { what: "the member's datagrams in the api container", timeoutMs: 15_000 },
      );
      expect(after.packets - before.packets).toBeGreaterThanOrEqual(100);
      expect(after.packets - before.packets, 'datagrams received from a non-member host').toBeLessThan(150);
    } finally {
      await agent1.call('setOverlayPeers', overlay.id, [
        { nodeId: 'node-1', underlayIp: h1.addr },
        { nodeId: 'node-2', underlayIp: h2.addr },
      ]);
    }
  });

  it("drops a leaving host's forwarding entries on the other host", async () => {
    await agent1.call('setOverlayPeers', overlay.id, [{ nodeId: 'node-1', underlayIp: h1.addr }]);
    expect(await fdbPeers(h1)).toEqual([]);
    expect(await agent1.call('overlayPeerAddresses', overlay.id)).toEqual([]);
    // With the entry gone, nothing from h1 reaches h2's containers any more.
    expect(await api.httpGet(CLIENT_IP, 80, 2)).toBeUndefined();
    // A host that comes back is programmed again.
    await agent1.call('setOverlayPeers', overlay.id, [
      { nodeId: 'node-1', underlayIp: h1.addr },
      { nodeId: 'node-2', underlayIp: h2.addr },
    ]);
    expect(await fdbPeers(h1)).toEqual([h2.addr]);
    await waitFor(() => api.httpGet(CLIENT_IP, 80), { what: 'client reachable again', timeoutMs: 15_000 });
  });
});
