// Hands out subnets for single-node mode (in cluster mode the manager's allocator
// does). Pure: the caller passes the subnets already in use (skiff's own networks and
// the host's routes), so the same inputs always give the same answer.
import { SkiffError } from '../../lib/index.js';
import { cidrSize, cidrsOverlap, formatCidr, formatIpv4, type Ipv4Cidr, parseCidr } from './cidr.js';

export interface AllocatedSubnet {
  subnet: string;
  gateway: string;
}

export class LocalSubnetAllocator {
  private readonly pool: Ipv4Cidr;
  private readonly prefixLength: number;

  constructor(options: { pool?: string; prefixLength?: number } = {}) {
    this.pool = parseCidr(options.pool ?? '10.89.0.0/16');
    this.prefixLength = options.prefixLength ?? 24;
    if (this.prefixLength < this.pool.prefixLength || this.prefixLength > 30) {
      throw new SkiffError(
        'invalid_argument',
        `subnet size /${this.prefixLength} does not fit pool ${formatCidr(this.pool)}`,
        { hint: 'pick a prefix length between the pool prefix and 30' },
      );
    }
  }

  /** The first subnet of the pool that overlaps none of `inUse` (CIDRs or addresses). */
  allocate(inUse: readonly string[]): AllocatedSubnet {
    const taken = inUse.map((c) => parseCidr(c.includes('/') ? c : `${c}/32`, { allowHostBits: true }));
    const step = 2 ** (32 - this.prefixLength);
    const end = this.pool.network + cidrSize(this.pool);
    for (let network = this.pool.network; network < end; network += step) {
      const candidate: Ipv4Cidr = { network, prefixLength: this.prefixLength };
      if (!taken.some((t) => cidrsOverlap(t, candidate))) {
        return { subnet: formatCidr(candidate), gateway: formatIpv4(network + 1) };
      }
    }
    throw new SkiffError(
      'unavailable',
      `no free /${this.prefixLength} subnet left in ${formatCidr(this.pool)}`,
      {
        hint: 'remove unused networks (skiff network prune) or configure a larger address pool',
      },
    );
  }
}
