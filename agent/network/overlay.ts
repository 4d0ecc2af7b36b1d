// The VXLAN side of an overlay network on one node: a VXLAN device enslaved to the
// network's bridge, with no learning and one all-zeros FDB entry per peer node (head-end
// replication: broadcast and unknown unicast go to every peer; the bridge learns which
// container MAC sits behind the VXLAN port). Every node's bridge carries the same
// gateway address, so ARP for the gateway is kept off the wire: each container talks to
// its own node's gateway and DNS server. The VXLAN port takes this network's packets
// (its VNI) only from its peer nodes: a host that is not one cannot inject frames into it.
import { SkiffError } from '../../lib/index.js';
import type { Exec } from './exec.js';
import { mustExec } from './exec.js';

export const VXLAN_PORT = 4789;
const ZERO_MAC = '00:00:00:00:00:00';

export interface OverlayDevice {
  vxlan: string;
  bridge: string;
  vni: number;
  gateway: string;
  nftTable: string;
  mtu: number;
}

/** The nftables ruleset that keeps gateway ARP local. Pure. */
export function arpGuardRuleset(d: OverlayDevice): string {
  const vx = JSON.stringify(d.vxlan);
  return [
    `table bridge ${d.nftTable} {`,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    `    oifname ${vx} arp daddr ip ${d.gateway} drop`,
    `    oifname ${vx} arp saddr ip ${d.gateway} drop`,
    `    iifname ${vx} arp daddr ip ${d.gateway} drop`,
    `    iifname ${vx} arp saddr ip ${d.gateway} drop`,
    '  }',
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    `    iifname ${vx} arp daddr ip ${d.gateway} drop`,
    `    iifname ${vx} arp saddr ip ${d.gateway} drop`,
    '  }',
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    `    oifname ${vx} arp saddr ip ${d.gateway} drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * The nftables table (ip family, the overlay's table name) that drops this overlay's
 * VXLAN packets — UDP to VXLAN_PORT whose VXLAN header (bits 96-119 past the UDP header)
 * carries its VNI — unless they come from one of `peers`. Pure.
 */
export function vxlanPeerRuleset(
  d: Pick<OverlayDevice, 'nftTable' | 'vni'>,
  peers: readonly string[],
): string {
  return [
    // Declared, dropped and defined in one transaction: the rules never vanish meanwhile.
    `table ip ${d.nftTable} {}`,
    `delete table ip ${d.nftTable}`,
    `table ip ${d.nftTable} {`,
    '  set peers {',
    '    type ipv4_addr',
    ...(peers.length > 0 ? [`    elements = { ${[...peers].sort().join(', ')} }`] : []),
    '  }',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    udp dport ${VXLAN_PORT} @th,96,24 ${d.vni} ip saddr != @peers counter drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The nftables commands that make the peer set exactly `peers`. Pure. */
export function vxlanPeerSetUpdate(nftTable: string, peers: readonly string[]): string {
  return [
    `flush set ip ${nftTable} peers`,
    ...(peers.length > 0 ? [`add element ip ${nftTable} peers { ${[...peers].sort().join(', ')} }`] : []),
    '',
  ].join('\n');
}

/** Which FDB entries to add and delete to go from `current` to `wanted` peer addresses. Pure. */
export function fdbChanges(current: readonly string[], wanted: readonly string[]) {
  const have = new Set(current);
  const want = new Set(wanted);
  return {
    add: [...want].filter((ip) => !have.has(ip)).sort(),
    remove: [...have].filter((ip) => !want.has(ip)).sort(),
  };
}

export class Overlay {
  constructor(private readonly run: Exec) {}

  async ensure(d: OverlayDevice): Promise<void> {
    const exists = await this.run('ip', ['link', 'show', 'dev', d.vxlan]);
    if (exists.code !== 0) {
      await mustExec(
        this.run,
        'ip',
        [
          'link',
          'add',
          d.vxlan,
          'type',
          'vxlan',
          'id',
          String(d.vni),
          'dstport',
          String(VXLAN_PORT),
          'nolearning',
        ],
        `creating VXLAN device for VNI ${d.vni}`,
      );
    }
    await mustExec(
      this.run,
      'ip',
      ['link', 'set', 'dev', d.vxlan, 'mtu', String(d.mtu), 'master', d.bridge, 'up'],
      `attaching ${d.vxlan} to ${d.bridge}`,
    );
    await this.run('nft', ['delete', 'table', 'bridge', d.nftTable]);
    const r = await this.run('nft', ['-f', '-'], { input: arpGuardRuleset(d) });
    if (r.code !== 0) {
      throw new SkiffError('internal', `cannot install the overlay ARP guard: ${r.stderr.trim()}`);
    }
    // The peers already programmed stay allowed while the table is replaced.
    const v = await this.run('nft', ['-f', '-'], { input: vxlanPeerRuleset(d, await this.peers(d.vxlan)) });
    if (v.code !== 0) {
      throw new SkiffError('internal', `cannot install the overlay's VXLAN peer filter: ${v.stderr.trim()}`);
    }
  }

  async remove(d: Pick<OverlayDevice, 'vxlan' | 'nftTable'>): Promise<void> {
    await this.run('ip', ['link', 'del', 'dev', d.vxlan]);
    await this.run('nft', ['delete', 'table', 'bridge', d.nftTable]);
    await this.run('nft', ['delete', 'table', 'ip', d.nftTable]);
  }

  /** Peer underlay addresses with an all-zeros FDB entry on the device. */
  async peers(vxlan: string): Promise<string[]> {
    const out = await mustExec(
      this.run,
      'bridge',
      ['-j', 'fdb', 'show', 'dev', vxlan],
      'listing VXLAN peers',
    );
    const entries = JSON.parse(out || '[]') as { mac?: string; dst?: string }[];
    return entries.filter((e) => e.mac === ZERO_MAC && e.dst).map((e) => e.dst as string);
  }

  /** Points the device at exactly `wanted`, and lets VXLAN in from them alone. */
  async setPeers(d: Pick<OverlayDevice, 'vxlan' | 'nftTable'>, wanted: readonly string[]): Promise<void> {
    const vxlan = d.vxlan;
    const { add, remove } = fdbChanges(await this.peers(vxlan), wanted);
    for (const ip of add) {
      await mustExec(
        this.run,
        'bridge',
        ['fdb', 'append', ZERO_MAC, 'dev', vxlan, 'dst', ip],
        `adding VXLAN peer ${ip}`,
      );
    }
    for (const ip of remove) {
      await mustExec(
        this.run,
        'bridge',
        ['fdb', 'del', ZERO_MAC, 'dev', vxlan, 'dst', ip],
        `removing VXLAN peer ${ip}`,
      );
    }
    const r = await this.run('nft', ['-f', '-'], { input: vxlanPeerSetUpdate(d.nftTable, wanted) });
    if (r.code !== 0) {
      throw new SkiffError('internal', `cannot update the overlay's VXLAN peer filter: ${r.stderr.trim()}`);
    }
  }
}
