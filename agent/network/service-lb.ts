// Service VIPs, balanced in each client container's own network namespace: a DNAT rule
// in the namespace's OUTPUT hook sends a new connection (TCP or UDP) to a VIP to one of
// the service's serving tasks, picked by `numgen random`; conntrack keeps every
// established flow on the task it started with, so a task taken out of the set (failing
// its health check, stopping) gets no new connections while its open ones go on. Done
// in the client's namespace, as Swarm does with IPVS there: the translated packet
// leaves with a task address as destination, so it crosses hosts over the overlay like
// any other, and no node holds state for another node's containers. No IPVS on this
// kernel: nftables has everything needed (numgen, maps, NAT).
import type { Logger, ServiceVip } from '../../lib/index.js';
import { silentLogger } from '../../lib/index.js';
import type { Exec } from './exec.js';

/** The table each container's namespace holds its VIP rules in. */
export const LB_TABLE = 'skiff_lb';

/**
 * The whole table for a namespace, replaced atomically by one `nft -f` (creating the
 * table first makes the delete valid when it does not exist yet). Traffic to a VIP that
 * no rule translated (no serving task; ICMP) is refused at once instead of going out the
 * default route. Pure. Empty text when there are no VIPs.
 */
export function lbRuleset(vips: readonly ServiceVip[]): string {
  const sorted = [...vips].sort((a, b) => (a.vip < b.vip ? -1 : a.vip > b.vip ? 1 : 0));
  if (sorted.length === 0) return '';
  const dnat = sorted
    .filter((v) => v.backends.length > 0)
    .map((v) => {
      const map = v.backends.map((b, i) => `${i} : ${b}`).join(', ');
      return `    ip daddr ${v.vip} meta l4proto { tcp, udp } dnat to numgen random mod ${v.backends.length} map { ${map} }`;
    });
  const all = sorted.map((v) => v.vip).join(', ');
  return [
    `table ip ${LB_TABLE} {}`,
    `delete table ip ${LB_TABLE}`,
    `table ip ${LB_TABLE} {`,
    '  chain vip_nat {',
    '    type nat hook output priority -100; policy accept;',
    ...dnat,
    '  }',
    '  chain vip_refuse {',
    '    type filter hook output priority 0; policy accept;',
    `    ip daddr { ${all} } meta l4proto tcp reject with tcp reset`,
    `    ip daddr { ${all} } reject`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Merges the VIPs of several networks (a container on two networks sees both). */
export function mergeVips(lists: readonly (readonly ServiceVip[])[]): ServiceVip[] {
  const byVip = new Map<string, Set<string>>();
  for (const list of lists) {
    for (const v of list) {
      const set = byVip.get(v.vip) ?? new Set<string>();
      for (const b of v.backends) set.add(b);
      byVip.set(v.vip, set);
    }
  }
  return [...byVip].map(([vip, backends]) => ({ vip, backends: [...backends].sort() }));
}

/**
 * Keeps each container namespace's table equal to what `wanted` says at the time it
 * runs: one `nft` exec per container per burst of changes (queued requests find the
 * table already current), none when nothing changed.
 */
export class ServiceLoadBalancer {
  private readonly applied = new Map<string, string>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly log: Logger;

  constructor(
    private readonly run: Exec,
    log: Logger = silentLogger,
  ) {
    this.log = log.child({ component: 'service-lb' });
  }

  /**
   * Brings the container's table up to date. `wanted` is read when the turn comes, so a
   * burst of calls costs one exec. Throws when nft refuses the ruleset.
   */
  sync(
    containerId: string,
    netnsPath: string,
    wanted: () => readonly ServiceVip[] | undefined,
  ): Promise<void> {
    const prev = this.queues.get(containerId) ?? Promise.resolve();
    const next = prev.then(async () => {
      const vips = wanted();
      if (vips === undefined) return; // detached meanwhile
      const text = lbRuleset(vips);
      const before = this.applied.get(containerId) ?? '';
      if (text === before) return;
      const input = text === '' ? `table ip ${LB_TABLE} {}\ndelete table ip ${LB_TABLE}\n` : text;
      const r = await this.run('nsenter', [`--net=${netnsPath}`, 'nft', '-f', '-'], { input });
      if (r.code !== 0) {
        this.applied.delete(containerId);
        throw new Error(`nft in ${netnsPath}: ${(r.stderr.trim() || `exit code ${r.code}`).split('\n')[0]}`);
      }
      this.applied.set(containerId, text);
      this.log.debug({ containerId, vips: vips.length }, 'service VIPs programmed');
    });
    const settled = next.catch(() => {});
    this.queues.set(containerId, settled);
    void settled.then(() => {
      if (this.queues.get(containerId) === settled) this.queues.delete(containerId);
    });
    return next;
  }

  /** The table may hold anything (it outlived the agent): the next sync rewrites it. */
  unknown(containerId: string): void {
    this.applied.set(containerId, '#unknown');
  }

  /** The container's namespace is gone with its table. */
  forget(containerId: string): void {
    this.applied.delete(containerId);
  }
}
