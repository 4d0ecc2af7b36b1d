// The subnet of a node's `bridge` network (standalone containers), chosen as dockerd
// chooses its default pool: the first of 172.17–31.0.0/16, then 192.168.0–240.0/20, that
// overlaps no route of the host. So skiff beside a dockerd (whose docker0 holds
// 172.17.0.0/16) takes 172.18.0.0/16 instead of a subnet the host already routes.
import { cidrsOverlap, formatIpv4, type Ipv4Cidr, parseCidr } from './cidr.js';

/** dockerd's default local address pools, in its order. */
export function defaultBridgePools(): string[] {
  const pools: string[] = [];
  for (let b = 17; b <= 31; b++) pools.push(`172.${b}.0.0/16`);
  for (let c = 0; c <= 240; c += 16) pools.push(`192.168.${c}.0/20`);
  return pools;
}

/** The first pool overlapping none of `routed`, or undefined when every one is taken. */
export function chooseBridgeSubnet(routed: readonly Ipv4Cidr[]): string | undefined {
  for (const pool of defaultBridgePools()) {
    const candidate = parseCidr(pool);
    if (!routed.some((r) => cidrsOverlap(r, candidate))) return pool;
  }
  return undefined;
}

/**
 * The destinations of `/proc/net/route` (addresses in the kernel's byte order, hex), less
 * the default route (which overlaps everything) and any route through `skipDevice`.
 */
export function routedSubnets(procNetRoute: string, skipDevice?: string): Ipv4Cidr[] {
  const out: Ipv4Cidr[] = [];
  for (const line of procNetRoute.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , , , , , mask] = f;
    if (iface === skipDevice || dest === undefined || mask === undefined) continue;
    const prefix = prefixLength(hostOrder(mask));
    if (prefix === undefined || prefix === 0) continue;
    out.push(parseCidr(`${formatIpv4(hostOrder(dest))}/${prefix}`, { allowHostBits: true }));
  }
  return out;
}

/** /proc/net/route prints each address as the hex of its 32 bits read little-endian. */
function hostOrder(hex: string): number {
  const v = Number.parseInt(hex, 16);
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

function prefixLength(mask: number): number | undefined {
  let bits = 0;
  while (bits < 32 && (mask & (0x80000000 >>> bits)) !== 0) bits++;
  return (mask << bits) >>> 0 === 0 || bits === 32 ? bits : undefined;
}
