import { describe, expect, it } from 'vitest';
import {
  baseRules,
  networkBaseChainRules,
  networkChainRules,
  networkRestore,
} from '../../../agent/network/firewall.js';
import { bridgeNameFor, chainNameFor, vxlanNameFor } from '../../../agent/network/names.js';
import {
  arpGuardRuleset,
  fdbChanges,
  vxlanPeerRuleset,
  vxlanPeerSetUpdate,
} from '../../../agent/network/overlay.js';
import {
  validateAttachments,
  validateContainerId,
  validateNetworkDefinition,
  validatePorts,
} from '../../../agent/network/types.js';

const input = {
  bridge: 'skbrabc',
  chain: 'SKIFF-N-abc',
  subnet: '10.89.1.0/24',
  internal: false,
  overlay: false,
};

describe('derived names', () => {
  it('fit the kernel and iptables limits and differ per network', () => {
    for (const id of ['a', 'x'.repeat(200), 'stack_net-1']) {
      expect(bridgeNameFor(id).length).toBeLessThanOrEqual(15);
      expect(vxlanNameFor(id).length).toBeLessThanOrEqual(15);
      expect(chainNameFor(id).length).toBeLessThanOrEqual(28);
    }
    expect(bridgeNameFor('a')).not.toBe(bridgeNameFor('b'));
    expect(bridgeNameFor('a')).toBe(bridgeNameFor('a'));
  });
});

describe('firewall rules', () => {
  it("declare the network's chain (created or emptied) and fill it in one iptables-restore input", () => {
    expect(networkRestore({ ...input, internal: true }).split('\n')).toEqual([
      '*filter',
      ':SKIFF-N-abc - [0:0]',
      '-A SKIFF-N-abc -i skbrabc -o skbrabc -j ACCEPT',
      '-A SKIFF-N-abc -i skbrabc -o skbr+ -j DROP',
      '-A SKIFF-N-abc -i skbrabc -j DROP',
      '-A SKIFF-N-abc -o skbrabc -j DROP',
      'COMMIT',
      '',
    ]);
  });

  it('append the missing base-chain rules in the same input, each in its table', () => {
    const lines = networkRestore(input, networkBaseChainRules(input)).split('\n');
    expect(lines).toEqual([
      '*filter',
      ':SKIFF-N-abc - [0:0]',
      '-A SKIFF-N-abc -i skbrabc -o skbrabc -j ACCEPT',
      '-A SKIFF-N-abc -i skbrabc -o skbr+ -j DROP',
      '-A SKIFF-N-abc -i skbrabc -j ACCEPT',
      '-A SKIFF-N-abc -o skbrabc -j DROP',
      '-A SKIFF-FORWARD -j SKIFF-N-abc',
      '-A SKIFF-INPUT -i skbrabc -p udp --dport 53 -j ACCEPT',
      '-A SKIFF-INPUT -i skbrabc -p tcp --dport 53 -j ACCEPT',
      'COMMIT',
      '*nat',
      '-A SKIFF-POSTROUTING -s 10.89.1.0/24 ! -o skbrabc -j MASQUERADE',
      'COMMIT',
      '',
    ]);
  });

  it('accept intra-network traffic, drop traffic to other skiff networks, allow egress', () => {
    expect(networkChainRules(input)).toEqual([
      ['-i', 'skbrabc', '-o', 'skbrabc', '-j', 'ACCEPT'],
      ['-i', 'skbrabc', '-o', 'skbr+', '-j', 'DROP'],
      ['-i', 'skbrabc', '-j', 'ACCEPT'],
      ['-o', 'skbrabc', '-j', 'DROP'],
    ]);
  });

  it('cut internal networks off from the outside and do not masquerade them', () => {
    const internal = { ...input, internal: true };
    expect(networkChainRules(internal)[2]).toEqual(['-i', 'skbrabc', '-j', 'DROP']);
    expect(networkBaseChainRules(internal).some((r) => r.table === 'nat')).toBe(false);
    expect(networkBaseChainRules(input).find((r) => r.table === 'nat')?.rule).toEqual([
      '-s',
      '10.89.1.0/24',
      '!',
      '-o',
      'skbrabc',
      '-j',
      'MASQUERADE',
    ]);
  });

  it('let replies and published ports in ahead of the per-network drops', () => {
    expect(baseRules().map((r) => r.rule.join(' '))).toEqual([
      '-o skbr+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-o skbr+ -m conntrack --ctstate DNAT -j ACCEPT',
    ]);
  });

  it('open the VXLAN port only for overlays', () => {
    const has4789 = (o: boolean) =>
      networkBaseChainRules({ ...input, overlay: o }).some((r) => r.rule.includes('4789'));
    expect(has4789(true)).toBe(true);
    expect(has4789(false)).toBe(false);
  });
});

describe('overlay', () => {
  it('computes FDB changes to reach exactly the wanted peers', () => {
    expect(fdbChanges(['10.0.0.2', '10.0.0.3'], ['10.0.0.3', '10.0.0.4'])).toEqual({
      add: ['10.0.0.4'],
      remove: ['10.0.0.2'],
    });
    expect(fdbChanges([], [])).toEqual({ add: [], remove: [] });
  });

  it('keeps gateway ARP off the VXLAN port', () => {
    const rules = arpGuardRuleset({
      vxlan: 'skvx1',
      bridge: 'skbr1',
      vni: 7,
      gateway: '10.1.0.1',
      nftTable: 'skiff_ov_1',
      mtu: 1450,
    });
    expect(rules).toContain('table bridge skiff_ov_1');
    expect(rules).toContain('oifname "skvx1" arp saddr ip 10.1.0.1 drop');
    expect(rules).toContain('iifname "skvx1" arp daddr ip 10.1.0.1 drop');
  });

  it("takes the overlay's VXLAN packets (its VNI) only from its peers", () => {
    const rules = vxlanPeerRuleset({ nftTable: 'skiff_ov_1', vni: 7 }, ['10.0.0.3', '10.0.0.2']);
    expect(rules).toContain('table ip skiff_ov_1 {');
    expect(rules).toContain('elements = { 10.0.0.2, 10.0.0.3 }');
    expect(rules).toContain('udp dport 4789 @th,96,24 7 ip saddr != @peers counter drop');
    // No peers: an empty set, so every packet of this VNI is dropped.
    expect(vxlanPeerRuleset({ nftTable: 't', vni: 7 }, [])).not.toContain('elements');
    expect(vxlanPeerSetUpdate('t', ['10.0.0.9'])).toBe(
      'flush set ip t peers\nadd element ip t peers { 10.0.0.9 }\n',
    );
    expect(vxlanPeerSetUpdate('t', [])).toBe('flush set ip t peers\n');
  });
});

describe('input validation', () => {
  const ok = { id: 'n', name: 'web_default', driver: 'bridge', subnet: '10.89.1.0/24', gateway: '10.89.1.1' };

  it('accepts a good network and refuses bad ones with the network named', () => {
    expect(validateNetworkDefinition(ok)).toEqual(ok);
    expect(() => validateNetworkDefinition({ ...ok, gateway: '10.89.2.1' })).toThrow(
      /network web_default: gateway 10\.89\.2\.1 is not a host address/,
    );
    expect(() => validateNetworkDefinition({ ...ok, gateway: '10.89.1.0' })).toThrow(/not a host address/);
    expect(() => validateNetworkDefinition({ ...ok, subnet: '10.89.1.0/31' })).toThrow(/too small/);
    expect(() => validateNetworkDefinition({ ...ok, subnet: '10.89.1.5/24' })).toThrow(
      /network web_default:.*host bits/,
    );
    expect(() => validateNetworkDefinition({ ...ok, driver: 'overlay' })).toThrow(/needs a vxlanId/);
    expect(() => validateNetworkDefinition({ ...ok, driver: 'macvlan' })).toThrow(
      /invalid network definition: driver/,
    );
  });

  it('validates attachments, ports and container IDs', () => {
    expect(() => validateAttachments([])).toThrow(/invalid network attachments/);
    expect(() =>
      validateAttachments([
        { networkId: 'a', aliases: [] },
        { networkId: 'a', aliases: [] },
      ]),
    ).toThrow(/listed twice/);
    expect(() => validateAttachments([{ networkId: 'a', aliases: [], ipv4Address: '300.1.1.1' }])).toThrow(
      /not an IPv4 address/,
    );
    expect(() => validatePorts([{ containerPort: 80, hostPort: 70000, protocol: 'tcp' }])).toThrow(
      /hostPort/,
    );
    expect(() =>
      validatePorts([
        { containerPort: 80, hostPort: 8080, protocol: 'tcp' },
        { containerPort: 81, hostPort: 8080, protocol: 'tcp' },
      ]),
    ).toThrow(/published twice/);
    expect(validatePorts([{ containerPort: 53, hostPort: 53, protocol: 'udp' }])).toHaveLength(1);
    expect(() => validateContainerId('../etc')).toThrow(/not valid/);
    expect(() => validateContainerId('abc_1.2-x')).not.toThrow();
  });
});
