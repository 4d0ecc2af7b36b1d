// Kernel object names derived from a network id. Interface names are at most 15
// characters, so they carry a hash of the id; the fixed prefixes let firewall rules
// match every skiff bridge with one wildcard and let a sweep find leftovers.
import { createHash } from 'node:crypto';

export const BRIDGE_PREFIX = 'skbr';
export const VXLAN_PREFIX = 'skvx';

function shortHash(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 11);
}

export function bridgeNameFor(networkId: string): string {
  return `${BRIDGE_PREFIX}${shortHash(networkId)}`;
}

export function vxlanNameFor(networkId: string): string {
  return `${VXLAN_PREFIX}${shortHash(networkId)}`;
}

/** The per-network iptables chain (iptables allows 28 characters). */
export function chainNameFor(networkId: string): string {
  return `SKIFF-N-${shortHash(networkId)}`;
}

/** The CNI network name: stable, and valid per the spec's name rule. */
export function cniNetworkNameFor(networkId: string): string {
  return `skiff-${shortHash(networkId)}`;
}

/** nftables table holding an overlay network's ARP guard. */
export function nftTableFor(networkId: string): string {
  return `skiff_ov_${shortHash(networkId)}`;
}
