// IPv4 arithmetic for the allocator: CIDRs as integer ranges.
import { SkiffError } from '../../lib/index.js';

export interface Cidr {
  base: number;
  prefix: number;
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(text: string): Cidr {
  const [addr, len] = text.split('/');
  const ip = addr === undefined ? undefined : parseIpv4(addr);
  const prefix = Number(len);
  if (ip === undefined || len === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new SkiffError(
      'invalid_argument',
      `invalid subnet "${text}": expected an IPv4 CIDR such as 10.0.1.0/24`,
    );
  }
  const size = 2 ** (32 - prefix);
  return { base: Math.floor(ip / size) * size, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);
}

export function contains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + cidrSize(c);
}
