export { Allocator, type AllocatorOptions, type NetworkAllocation } from './allocator.js';
export { formatCidr, formatIpv4, parseCidr, parseIpv4 } from './ipv4.js';
