// The cluster's IPAM: subnets and VXLAN IDs for networks, addresses for tasks and
// service VIPs. Pure: the leader rebuilds it from the store after each election and
// records every decision through the store, so a new leader never hands out twice.
import type { IPAMConfig } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import {
  type Cidr,
  cidrSize,
  contains,
  formatCidr,
  formatIpv4,
  overlaps,
  parseCidr,
  parseIpv4,
} from './ipv4.js';

export interface AllocatorOptions {
  /** Pools networks get subnets from (Swarm's DefaultAddrPool), default 10.0.0.0/8. */
  pools?: string[];
  /** Prefix length of allocated subnets (Swarm's SubnetSize), default 24. */
  subnetSize?: number;
  /** Subnets in use elsewhere (host routes) that must not be handed out. */
  reserved?: string[];
  /** First VXLAN ID, default 4096 as Swarm uses. */
  vxlanBase?: number;
}

export interface NetworkAllocation {
  subnet: string;
  gateway: string;
  vxlanId: number;
}

interface NetworkState {
  cidr: Cidr;
  gateway: number;
  vxlanId: number;
  /** Host offsets in use within the subnet. */
  used: Set<number>;
  /** Where the next search for a free address starts (round robin). */
  cursor: number;
}

export class Allocator {
  private readonly pools: Cidr[];
  private readonly subnetSize: number;
  private readonly reserved: Cidr[];
  private readonly vxlanBase: number;
  private readonly networks = new Map<string, NetworkState>();
  private readonly vxlanIds = new Set<number>();

  constructor(opts: AllocatorOptions = {}) {
    this.pools = (opts.pools ?? ['10.0.0.0/8']).map(parseCidr);
    this.subnetSize = opts.subnetSize ?? 24;
    this.reserved = (opts.reserved ?? []).map(parseCidr);
    this.vxlanBase = opts.vxlanBase ?? 4096;
  }

  /**
   * Allocates a network. A requested subnet is honoured when free; otherwise the next
   * free subnet of the pools. Idempotent for a network already known.
   */
  allocateNetwork(id: string, request?: IPAMConfig): NetworkAllocation {
    const known = this.networks.get(id);
    if (known) return this.describe(known);
    const cidr = request?.Subnet ? this.checkRequested(request.Subnet) : this.nextFreeSubnet();
    let gateway = cidr.base + 1;
    if (request?.Gateway) {
      const g = parseIpv4(request.Gateway);
      if (g === undefined || !contains(cidr, g)) {
        throw new SkiffError(
          'invalid_argument',
          `gateway ${request.Gateway} is not inside subnet ${formatCidr(cidr)}`,
        );
      }
      gateway = g;
    }
    let vxlanId = this.vxlanBase;
    while (this.vxlanIds.has(vxlanId)) vxlanId++;
    return this.describe(this.record(id, cidr, gateway, vxlanId));
  }

  /** Re-learns an allocation recorded in the store (after a leader change). */
  restoreNetwork(id: string, alloc: NetworkAllocation): void {
    const cidr = parseCidr(alloc.subnet);
    const gw = parseIpv4(alloc.gateway) ?? cidr.base + 1;
    this.record(id, cidr, gw, alloc.vxlanId);
  }

  releaseNetwork(id: string): void {
    const n = this.networks.get(id);
    if (!n) return;
    this.vxlanIds.delete(n.vxlanId);
    this.networks.delete(id);
  }

  /** An address on the network, as CIDR text ("10.0.1.5/24"). A requested one is honoured when free. */
  allocateAddress(networkId: string, requested?: string): string {
    const n = this.mustGet(networkId);
    const size = cidrSize(n.cidr);
    if (requested) {
      const ip = parseIpv4(requested.split('/')[0] ?? '');
      if (ip === undefined || !contains(n.cidr, ip)) {
        throw new SkiffError('invalid_argument', `address ${requested} is not inside ${formatCidr(n.cidr)}`);
      }
      const off = ip - n.cidr.base;
      if (n.used.has(off)) throw new SkiffError('conflict', `address ${requested} is already in use`);
      n.used.add(off);
      return `${formatIpv4(ip)}/${n.cidr.prefix}`;
    }
    // Offsets 0 (network) and size-1 (broadcast) are never handed out.
    for (let i = 0; i < size - 2; i++) {
      const off = 1 + ((n.cursor - 1 + i) % (size - 2));
      if (!n.used.has(off)) {
        n.used.add(off);
        n.cursor = off + 1 > size - 2 ? 1 : off + 1;
        return `${formatIpv4(n.cidr.base + off)}/${n.cidr.prefix}`;
      }
    }
    throw new SkiffError(
      'unavailable',
      `network ${networkId} (${formatCidr(n.cidr)}) has no free address left`,
    );
  }

  /** Marks an address recorded in the store as used (after a leader change). */
  restoreAddress(networkId: string, address: string): void {
    const n = this.networks.get(networkId);
    const ip = parseIpv4(address.split('/')[0] ?? '');
    if (n && ip !== undefined && contains(n.cidr, ip)) n.used.add(ip - n.cidr.base);
  }

  releaseAddress(networkId: string, address: string): void {
    const n = this.networks.get(networkId);
    const ip = parseIpv4(address.split('/')[0] ?? '');
    if (!n || ip === undefined) return;
    const off = ip - n.cidr.base;
    if (ip !== n.gateway) n.used.delete(off);
  }

  private record(id: string, cidr: Cidr, gateway: number, vxlanId: number): NetworkState {
    const state: NetworkState = { cidr, gateway, vxlanId, used: new Set([gateway - cidr.base]), cursor: 1 };
    this.networks.set(id, state);
    this.vxlanIds.add(vxlanId);
    return state;
  }

  private describe(n: NetworkState): NetworkAllocation {
    return { subnet: formatCidr(n.cidr), gateway: formatIpv4(n.gateway), vxlanId: n.vxlanId };
  }

  private mustGet(id: string): NetworkState {
    const n = this.networks.get(id);
    if (!n) throw new SkiffError('not_found', `network ${id} has no allocation`);
    return n;
  }

  private inUse(c: Cidr): boolean {
    for (const n of this.networks.values()) if (overlaps(n.cidr, c)) return true;
    return this.reserved.some((r) => overlaps(r, c));
  }

  private checkRequested(subnet: string): Cidr {
    const c = parseCidr(subnet);
    if (c.prefix > 30)
      throw new SkiffError('invalid_argument', `subnet ${subnet} is too small: use /30 or larger`);
    if (this.inUse(c)) {
      throw new SkiffError('conflict', `subnet ${subnet} overlaps a subnet already in use`, {
        hint: 'choose another subnet, or leave it out to get a free one',
      });
    }
    return c;
  }

  private nextFreeSubnet(): Cidr {
    const step = 2 ** (32 - this.subnetSize);
    for (const pool of this.pools) {
      for (let base = pool.base; base + step <= pool.base + cidrSize(pool); base += step) {
        const c = { base, prefix: this.subnetSize };
        if (!this.inUse(c)) return c;
      }
    }
    throw new SkiffError('unavailable', 'no free subnet left in the address pools', {
      hint: 'add a pool or use a smaller subnet size',
    });
  }
}
