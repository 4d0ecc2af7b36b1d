// iptables rules that let a network's traffic through even when the host's FORWARD
// policy is DROP, keep networks apart, and masquerade egress. They must sit in the
// iptables (ip filter) chains themselves: with nftables, an accept in another table
// does not override iptables' DROP policy. Each network owns one chain plus a few
// rules in skiff's base chains, so deleting a network removes exactly what it added.

import { SkiffError } from '../../lib/index.js';
import type { Exec } from './exec.js';
import { mustExec } from './exec.js';
import { BRIDGE_PREFIX } from './names.js';

export const FORWARD_CHAIN = 'SKIFF-FORWARD';
export const INPUT_CHAIN = 'SKIFF-INPUT';
export const POSTROUTING_CHAIN = 'SKIFF-POSTROUTING';

export interface NetworkRuleInput {
  bridge: string;
  chain: string;
  subnet: string;
  internal: boolean;
  overlay: boolean;
}

export interface RuleSpec {
  table: 'filter' | 'nat';
  chain: string;
  rule: string[];
}

const allBridges = `${BRIDGE_PREFIX}+`;

/** Rules every skiff host has once, ahead of the per-network chains. Pure. */
export function baseRules(): RuleSpec[] {
  return [
    // Replies and published ports (DNAT by portmap) may enter any skiff network.
    {
      table: 'filter',
      chain: FORWARD_CHAIN,
      rule: ['-o', allBridges, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
    },
    {
      table: 'filter',
      chain: FORWARD_CHAIN,
      rule: ['-o', allBridges, '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'],
    },
  ];
}

/** The per-network chain's rules. Pure. */
export function networkChainRules(n: NetworkRuleInput): string[][] {
  return [
    ['-i', n.bridge, '-o', n.bridge, '-j', 'ACCEPT'],
    ['-i', n.bridge, '-o', allBridges, '-j', 'DROP'],
    ['-i', n.bridge, '-j', n.internal ? 'DROP' : 'ACCEPT'],
    ['-o', n.bridge, '-j', 'DROP'],
  ];
}

/**
 * iptables-restore input (for --noflush) that creates or empties the network's chain,
 * fills it, and appends `baseRules` (the network's missing rules in skiff's base chains). Pure.
 */
export function networkRestore(n: NetworkRuleInput, baseRules: readonly RuleSpec[] = []): string {
  const append = (table: RuleSpec['table']) =>
    baseRules.filter((r) => r.table === table).map((r) => `-A ${r.chain} ${r.rule.join(' ')}`);
  const rules = networkChainRules(n).map((rule) => `-A ${n.chain} ${rule.join(' ')}`);
  const lines = ['*filter', `:${n.chain} - [0:0]`, ...rules, ...append('filter'), 'COMMIT'];
  const nat = append('nat');
  if (nat.length > 0) lines.push('*nat', ...nat, 'COMMIT');
  return [...lines, ''].join('\n');
}

/** Rules a network adds to skiff's base chains. Pure. */
export function networkBaseChainRules(n: NetworkRuleInput): RuleSpec[] {
  const rules: RuleSpec[] = [
    { table: 'filter', chain: FORWARD_CHAIN, rule: ['-j', n.chain] },
    // The embedded DNS server listens on the gateway address.
    {
      table: 'filter',
      chain: INPUT_CHAIN,
      rule: ['-i', n.bridge, '-p', 'udp', '--dport', '53', '-j', 'ACCEPT'],
    },
    {
      table: 'filter',
      chain: INPUT_CHAIN,
      rule: ['-i', n.bridge, '-p', 'tcp', '--dport', '53', '-j', 'ACCEPT'],
    },
  ];
  if (n.overlay) {
    rules.push({
      table: 'filter',
      chain: INPUT_CHAIN,
      rule: ['-p', 'udp', '--dport', '4789', '-j', 'ACCEPT'],
    });
  }
  if (!n.internal) {
    rules.push({
      table: 'nat',
      chain: POSTROUTING_CHAIN,
      rule: ['-s', n.subnet, '!', '-o', n.bridge, '-j', 'MASQUERADE'],
    });
  }
  return rules;
}

export class Firewall {
  /** Base chains are checked once per process; restore() after a restart re-checks them. */
  private baseReady = false;

  constructor(private readonly run: Exec) {}

  private ipt(table: string, args: string[]) {
    return this.run('iptables', ['-w', '5', '-t', table, ...args]);
  }

  private async ensureChain(table: string, chain: string): Promise<void> {
    const r = await this.ipt(table, ['-N', chain]);
    if (r.code !== 0 && !/exists/i.test(r.stderr)) {
      await mustExec(this.run, 'iptables', ['-w', '5', '-t', table, '-N', chain], `creating chain ${chain}`);
    }
  }

  private async ensureRule(spec: RuleSpec, position?: 'first'): Promise<void> {
    const present = await this.ipt(spec.table, ['-C', spec.chain, ...spec.rule]);
    if (present.code === 0) return;
    const op = position === 'first' ? ['-I', spec.chain, '1'] : ['-A', spec.chain];
    await mustExec(
      this.run,
      'iptables',
      ['-w', '5', '-t', spec.table, ...op, ...spec.rule],
      'adding a firewall rule',
    );
  }

  private async deleteRule(spec: RuleSpec): Promise<void> {
    // Deleting a rule that is not there is fine: removal is idempotent.
    await this.ipt(spec.table, ['-D', spec.chain, ...spec.rule]);
  }

  async ensureBase(): Promise<void> {
    if (this.baseReady) return;
    await this.ensureChain('filter', FORWARD_CHAIN);
    await this.ensureChain('filter', INPUT_CHAIN);
    await this.ensureChain('nat', POSTROUTING_CHAIN);
    await this.ensureRule({ table: 'filter', chain: 'FORWARD', rule: ['-j', FORWARD_CHAIN] }, 'first');
    await this.ensureRule({ table: 'filter', chain: 'INPUT', rule: ['-j', INPUT_CHAIN] }, 'first');
    await this.ensureRule({ table: 'nat', chain: 'POSTROUTING', rule: ['-j', POSTROUTING_CHAIN] }, 'first');
    const base = baseRules();
    // Inserted in reverse at the top so they precede every per-network jump.
    for (const spec of [...base].reverse()) await this.ensureRule(spec, 'first');
    this.baseReady = true;
  }

  async ensureNetwork(n: NetworkRuleInput): Promise<void> {
    await this.ensureBase();
    // The network's rules in skiff's base chains: looked up at once (reads, side by side).
    const specs = networkBaseChainRules(n);
    const present = await Promise.all(
      specs.map((spec) => this.ipt(spec.table, ['-C', spec.chain, ...spec.rule])),
    );
    const missing = specs.filter((_, i) => present[i]?.code !== 0);
    // Then one atomic exec: the network's chain created (or emptied) and filled, and the
    // missing base rules appended. A network's set-up is on the way of its first
    // containers, and every iptables exec counts.
    const r = await this.run('iptables-restore', ['--noflush'], { input: networkRestore(n, missing) });
    if (r.code !== 0) {
      throw new SkiffError('internal', `cannot set up firewall chain ${n.chain}: ${r.stderr.trim()}`, {
        hint: 'check that iptables works on this host (iptables -S)',
      });
    }
  }

  async removeNetwork(n: NetworkRuleInput): Promise<void> {
    for (const spec of networkBaseChainRules(n)) await this.deleteRule(spec);
    await this.ipt('filter', ['-F', n.chain]);
    await this.ipt('filter', ['-X', n.chain]);
  }
}
