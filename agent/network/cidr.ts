// IPv4 addresses and CIDR blocks as numbers, so subnet arithmetic is exact and pure.
import { SkiffError } from '../../lib/index.js';

export interface Ipv4Cidr {
  /** Network address (host bits cleared) as an unsigned 32-bit number. */
  readonly network: number;
  readonly prefixLength: number;
}

export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw invalidAddress(text);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) throw invalidAddress(text);
    const octet = Number(part);
    if (octet > 255) throw invalidAddress(text);
    value = value * 256 + octet;
  }
  return value;
}

export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Parses "10.89.3.0/24"; host bits must be zero unless `allowHostBits` (for "10.0.0.5/24"). */
export function parseCidr(text: string, options: { allowHostBits?: boolean } = {}): Ipv4Cidr {
  const [addr, len, ...rest] = text.split('/');
  if (addr === undefined || len === undefined || rest.length > 0 || !/^\d{1,2}$/.test(len)) {
    throw new SkiffError('invalid_argument', `"${text}" is not an IPv4 CIDR block`, {
      hint: 'write it as address/prefix, e.g. 10.89.0.0/24',
    });
  }
  const prefixLength = Number(len);
  if (prefixLength > 32) {
    throw new SkiffError('invalid_argument', `"${text}": prefix length ${prefixLength} is over 32`);
  }
  const address = parseIpv4(addr);
  const network = (address & maskOf(prefixLength)) >>> 0;
  if (network !== address && !options.allowHostBits) {
    throw new SkiffError('invalid_argument', `"${text}" has host bits set`, {
      hint: `did you mean ${formatIpv4(network)}/${prefixLength}?`,
    });
  }
  return { network, prefixLength };
}

export function formatCidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefixLength}`;
}

export function cidrSize(cidr: Ipv4Cidr): number {
  return 2 ** (32 - cidr.prefixLength);
}

export function cidrContains(cidr: Ipv4Cidr, address: number): boolean {
  return (address & maskOf(cidr.prefixLength)) >>> 0 === cidr.network;
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const shorter = Math.min(a.prefixLength, b.prefixLength);
  const mask = maskOf(shorter);
  return (a.network & mask) >>> 0 === (b.network & mask) >>> 0;
}

function invalidAddress(text: string): SkiffError {
  return new SkiffError('invalid_argument', `"${text}" is not an IPv4 address`, {
    hint: 'write it as four numbers 0-255 separated by dots, e.g. 10.89.0.1',
  });
}
