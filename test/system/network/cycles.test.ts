// 50 create/delete cycles (network, sandbox, attachment with published ports, both
// drivers) leave no veth, IP allocation, iptables/nftables rule, bridge or VXLAN
// device behind: the host looks exactly as it did after the first cycle.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup, createLab, type Lab, type LabHost, runChecked } from '../../lab/index.js';
import { NetworkAgent } from '../../support/network-agent/index.js';

const CYCLES = 50;

interface HostState {
  links: string[];
  iptables: string;
  nft: string;
  routes: string;
}

async function hostState(host: LabHost): Promise<HostState> {
  const inHost = (cmd: string, args: string[]) =>
    runChecked('ip', ['netns', 'exec', host.netns, cmd, ...args]);
  const links = (JSON.parse(await inHost('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map(
    (l) => l.ifname,
  );
  // Counters change with traffic; rules must not.
  const iptables = (await inHost('iptables-save', []))
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
    .join('\n');
  const nft = await inHost('nft', ['list', 'tables']);
  const routes = await inHost('ip', ['-4', 'route', 'show', 'table', 'all']);
  return { links: links.sort(), iptables, nft, routes };
}

function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
  } catch {
    return [];
  }
}

describe('network lifecycle', () => {
  const cleanup = new Cleanup();
  let lab: Lab;
  let host: LabHost;
  let agent: NetworkAgent;

  beforeAll(async () => {
    lab = await createLab({ hosts: 1 });
    cleanup.add(() => lab.destroy(), 'lab');
    host = lab.hosts[0]!;
    agent = await NetworkAgent.start(host);
    cleanup.add(() => agent.stop(), 'agent');
  });

  afterAll(async () => {
    await cleanup.run();
  });

  async function cycle(i: number): Promise<void> {
    const overlay = i % 2 === 1;
    const net = {
      id: `cycle-net-${i}`,
      name: `cycle_${i}`,
      driver: overlay ? 'overlay' : 'bridge',
      subnet: `10.212.${i}.0/24`,
      gateway: `10.212.${i}.1`,
      ...(overlay ? { vxlanId: 5000 + i } : {}),
    } as const;
    const ids = [`cyc${i}-a`, `cyc${i}-b`];
    await agent.ensureNetwork(net);
    try {
      if (overlay)
        await agent.call('setOverlayPeers', net.id, [{ nodeId: 'peer', underlayIp: '10.200.250.250' }]);
      for (const [n, id] of ids.entries()) {
        const { netnsPath } = await agent.createSandbox(id);
        const ports = n === 0 ? [{ containerPort: 80, hostPort: 18000 + i, protocol: 'tcp' as const }] : [];
        await agent.attach(id, netnsPath, [{ networkId: net.id, aliases: [`svc${i}`] }], ports);
      }
    } finally {
      for (const id of ids) await agent.removeSandbox(id);
      await agent.removeNetwork(net.id);
    }
  }

  it(`leaves nothing behind after ${CYCLES} create/delete cycles`, async () => {
    // The first cycle creates what stays for good (skiff's and portmap's base chains).
    await cycle(0);
    const baseline = await hostState(host);
    for (let i = 1; i <= CYCLES; i++) await cycle(i);
    const after = await hostState(host);
    expect(after.links).toEqual(baseline.links);
    expect(after.links.filter((l) => /^(veth|skbr|skvx)/.test(l))).toEqual([]);
    expect(after.iptables).toEqual(baseline.iptables);
    expect(after.iptables).not.toMatch(/SKIFF-N-|CNI-DN-|10\.212\./);
    expect(after.nft).toEqual(baseline.nft);
    expect(after.routes).toEqual(baseline.routes);
    expect(filesUnder(path.join(agent.stateDir, 'ipam'))).toEqual([]);
    expect(filesUnder(path.join(agent.stateDir, 'attachments'))).toEqual([]);
    expect(filesUnder(path.join(agent.stateDir, 'networks'))).toEqual([]);
    expect(filesUnder(path.join(agent.runDir, 'netns'))).toEqual([]);
    // ~50 s alone; the suite runs it beside other system tests on 2 cores.
  }, 360_000);
});
