// Encrypted overlays at the network layer, on two lab hosts with a plain and an
// "encrypted" overlay side by side. What this kernel can show (it has xfrm but no ESP
// transform, so no SA can be made): the agent marks only the encrypted VNI's VXLAN
// packets, and a marked packet with no SA to its peer is blocked, never sent in clear —
// a capture on the switch sees the plain overlay's VNI and never the other's — while
// the plain overlay carries traffic as before; removing the encrypted overlays leaves no
// xfrm state, policy or nftables table behind.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HelperExec } from '../../../agent/host-exec.js';
import { ESP_NFT_TABLE, OverlayEsp } from '../../../agent/network/ipsec.js';
import { silentLogger } from '../../../lib/index.js';
import {
  Cleanup,
  captureOnSwitch,
  createLab,
  type Lab,
  type LabHost,
  runChecked,
  runCommand,
  waitFor,
} from '../../lab/index.js';
import { NetworkAgent, Sandbox } from '../../support/network-agent/index.js';

const plain = {
  id: 'ov-plain',
  name: 'plain',
  driver: 'overlay',
  subnet: '10.231.0.0/24',
  gateway: '10.231.0.1',
  vxlanId: 4311,
} as const;
const sealed = {
  id: 'ov-sealed',
  name: 'sealed',
  driver: 'overlay',
  subnet: '10.232.0.0/24',
  gateway: '10.232.0.1',
  vxlanId: 4312,
} as const;

/** The host tools of one lab host, as the agent runs them. */
function hostExec(host: LabHost): HelperExec {
  return async (file, args, opts) => {
    const r = await runCommand('ip', ['netns', 'exec', host.netns, file, ...args], {
      ...(opts?.input === undefined ? {} : { input: opts.input }),
    });
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
}

describe('encrypted overlay marks on two lab hosts', () => {
  const cleanup = new Cleanup();
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  let client: Sandbox;
  const esp = new Map<LabHost, OverlayEsp>();

  beforeAll(async () => {
    lab = await createLab({ hosts: 2 });
    cleanup.add(() => lab.destroy(), 'lab');
    [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    const agents = await Promise.all([NetworkAgent.start(h1), NetworkAgent.start(h2)]);
    for (const a of agents) cleanup.add(() => a.stop(), 'agent');
    for (const [agent, peer] of [
      [agents[0]!, h2],
      [agents[1]!, h1],
    ] as const) {
      for (const n of [plain, sealed]) {
        await agent.ensureNetwork(n);
        cleanup.add(() => agent.removeNetwork(n.id), n.name);
        await agent.call('setOverlayPeers', n.id, [{ nodeId: peer.name, underlayIp: peer.addr }]);
      }
    }
    const sandboxes: Sandbox[] = [];
    for (const [i, agent, host] of [
      [10, agents[0]!, h1],
      [20, agents[1]!, h2],
    ] as const) {
      const id = `box-${i}`;
      const s = await agent.createSandbox(id);
      cleanup.add(() => agent.removeSandbox(id), id);
      await agent.attach(id, s.netnsPath, [
        { networkId: plain.id, aliases: [], ipv4Address: `10.231.0.${i}` },
        { networkId: sealed.id, aliases: [], ipv4Address: `10.232.0.${i}` },
      ]);
      sandboxes.push(new Sandbox(id, s.netnsPath, host));
    }
    const server = sandboxes[0]!.serveHttp(path.join(h1.dir, 'www'), 'served on h1');
    cleanup.add(() => server.stop(), 'server');
    client = sandboxes[1]!;
    await waitFor(async () => (await client.httpGet('10.232.0.10', 80, 2)) !== undefined, {
      what: 'the server on both overlays',
    });
    for (const [host, peer] of [
      [h1, h2],
      [h2, h1],
    ] as const) {
      const e = new OverlayEsp(hostExec(host), silentLogger);
      esp.set(host, e);
      // Cleared even when the test fails: the lab's namespaces go with it anyway, but say so.
      cleanup.add(() => e.sync({ self: host.addr, vnis: [], peers: [], keys: null }), 'ESP state');
      await e.sync({ self: host.addr, vnis: [sealed.vxlanId], peers: [peer.addr], keys: undefined });
    }
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('never sends the encrypted VNI in clear, and leaves the plain overlay alone', async () => {
    const cap = await captureOnSwitch(lab, path.join(h1.dir, 'vxlan.pcap'), 'udp port 4789');
    cleanup.add(() => cap.stop(), 'capture');
    expect(await client.httpGet('10.231.0.10', 80, 3)).toContain('served on h1');
    expect(await client.httpGet('10.232.0.10', 80, 2)).toBeUndefined();
    const seen = await cap.stop();
    expect(seen).toMatch(/vni 4311/);
    expect(seen).not.toMatch(/vni 4312/);
    const table = await runChecked('ip', [
      'netns',
      'exec',
      h2.netns,
      'nft',
      'list',
      'table',
      'ip',
      ESP_NFT_TABLE,
    ]);
    // The guard drops clear packets of the encrypted VNI that would come in.
    expect(table).toMatch(/@th,96,24 0x10d8 meta ipsec missing counter/);
  });

  it('leaves nothing behind once the node has no encrypted overlay', async () => {
    for (const host of [h1, h2]) {
      await esp.get(host)?.sync({ self: host.addr, vnis: [], peers: [], keys: null });
      const inNs = (...a: string[]) => runCommand('ip', ['netns', 'exec', host.netns, ...a]);
      expect((await inNs('ip', 'xfrm', 'policy', 'list')).stdout.trim()).toBe('');
      expect((await inNs('ip', 'xfrm', 'state', 'list')).stdout.trim()).toBe('');
      expect((await inNs('nft', 'list', 'table', 'ip', ESP_NFT_TABLE)).code).not.toBe(0);
    }
    expect(await client.httpGet('10.232.0.10', 80, 3)).toContain('served on h1');
  });
});
