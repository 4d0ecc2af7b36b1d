import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cidrContains,
  cidrsOverlap,
  formatCidr,
  formatIpv4,
  LocalSubnetAllocator,
  parseCidr,
  parseIpv4,
} from '../../../agent/network/index.js';

describe('IPv4 and CIDR parsing', () => {
  it('round-trips addresses', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => parseIpv4(formatIpv4(n)) === n));
  });

  it('rejects malformed addresses with a readable error', () => {
    for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.1.2', 'a.b.c.d', '', '10.0.0.-1', '1e1.0.0.0']) {
      expect(() => parseIpv4(bad), bad).toThrow(/is not an IPv4 address/);
    }
  });

  it('parses CIDR blocks and refuses host bits unless asked', () => {
    expect(formatCidr(parseCidr('10.89.3.0/24'))).toBe('10.89.3.0/24');
    expect(() => parseCidr('10.89.3.7/24')).toThrow(/host bits set.*|did you mean/);
    expect(formatCidr(parseCidr('10.89.3.7/24', { allowHostBits: true }))).toBe('10.89.3.0/24');
    expect(() => parseCidr('10.0.0.0/33')).toThrow(/over 32/);
    expect(() => parseCidr('10.0.0.0')).toThrow(/not an IPv4 CIDR/);
    expect(formatCidr(parseCidr('0.0.0.0/0'))).toBe('0.0.0.0/0');
  });

  it('knows containment and overlap', () => {
    const net = parseCidr('10.1.0.0/16');
    expect(cidrContains(net, parseIpv4('10.1.255.3'))).toBe(true);
    expect(cidrContains(net, parseIpv4('10.2.0.1'))).toBe(false);
    expect(cidrsOverlap(net, parseCidr('10.1.7.0/24'))).toBe(true);
    expect(cidrsOverlap(parseCidr('10.1.7.0/24'), net)).toBe(true);
    expect(cidrsOverlap(net, parseCidr('10.2.0.0/24'))).toBe(false);
    expect(cidrsOverlap(parseCidr('0.0.0.0/0'), parseCidr('192.168.1.0/24'))).toBe(true);
  });
});

describe('LocalSubnetAllocator', () => {
  it('hands out the first free /24 with its .1 gateway', () => {
    const alloc = new LocalSubnetAllocator({ pool: '10.89.0.0/16' });
    expect(alloc.allocate([])).toEqual({ subnet: '10.89.0.0/24', gateway: '10.89.0.1' });
    expect(alloc.allocate(['10.89.0.0/24', '10.89.1.0/24'])).toEqual({
      subnet: '10.89.2.0/24',
      gateway: '10.89.2.1',
    });
  });

  it('avoids host routes and single addresses that overlap', () => {
    const alloc = new LocalSubnetAllocator({ pool: '10.89.0.0/16' });
    expect(alloc.allocate(['10.89.0.0/23', '10.89.2.9', '192.0.2.0/24']).subnet).toBe('10.89.3.0/24');
    // A host route covering the whole pool leaves nothing.
    expect(() => alloc.allocate(['10.0.0.0/8'])).toThrow(/no free \/24 subnet left in 10\.89\.0\.0\/16/);
  });

  it('never returns a subnet that overlaps anything in use', () => {
    const alloc = new LocalSubnetAllocator({ pool: '10.89.0.0/20', prefixLength: 24 });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 15 }), (used) => {
        const inUse = used.map((n) => `10.89.${n}.0/24`);
        const got = alloc.allocate(inUse);
        return !inUse.some((u) => cidrsOverlap(parseCidr(u), parseCidr(got.subnet)));
      }),
    );
  });

  it('refuses a subnet size that does not fit the pool', () => {
    expect(() => new LocalSubnetAllocator({ pool: '10.89.0.0/24', prefixLength: 16 })).toThrow(
      /does not fit/,
    );
    expect(() => new LocalSubnetAllocator({ pool: 'nonsense' })).toThrow(/not an IPv4 CIDR/);
  });
});
