// agent/network: bridge and overlay networks through the CNI reference plugins,
// container sandboxes, published ports, and the embedded DNS server.
export { chooseBridgeSubnet, defaultBridgePools, routedSubnets } from './bridge-subnet.js';
export { cidrContains, cidrsOverlap, formatCidr, formatIpv4, parseCidr, parseIpv4 } from './cidr.js';
export type { DnsEndpoint, DnsRecord } from './dns-records.js';
export { DnsServer, type DnsServerOptions } from './dns-server.js';
export { bridgeNameFor, vxlanNameFor } from './names.js';
export { NetworkManager, type NetworkManagerOptions, type OverlayPeer } from './network-manager.js';
export { type AllocatedSubnet, LocalSubnetAllocator } from './subnet-allocator.js';
export type { AttachedInterface } from './types.js';
