import { describe, expect, it } from 'vitest';
import { Allocator } from '../../../manager/allocator/index.js';

describe('allocator', () => {
  it('gives each network its own subnet and VXLAN ID, skipping reserved ranges', () => {
    const a = new Allocator({ pools: ['10.0.0.0/16'], reserved: ['10.0.0.0/24'] });
    const n1 = a.allocateNetwork('n1');
    const n2 = a.allocateNetwork('n2');
    expect(n1).toEqual({ subnet: '10.0.1.0/24', gateway: '10.0.1.1', vxlanId: 4096 });
    expect(n2).toEqual({ subnet: '10.0.2.0/24', gateway: '10.0.2.1', vxlanId: 4097 });
    expect(a.allocateNetwork('n1')).toEqual(n1);
  });

  it('honours a requested subnet and gateway, and refuses an overlapping one', () => {
    const a = new Allocator();
    expect(a.allocateNetwork('x', { Subnet: '172.28.0.0/16', Gateway: '172.28.0.254' })).toMatchObject({
      subnet: '172.28.0.0/16',
      gateway: '172.28.0.254',
    });
    expect(() => a.allocateNetwork('y', { Subnet: '172.28.5.0/24' })).toThrow(/overlaps/);
    expect(() => a.allocateNetwork('z', { Subnet: '10.9.0.0/24', Gateway: '10.8.0.1' })).toThrow(
      /not inside/,
    );
    expect(() => a.allocateNetwork('w', { Subnet: 'banana' })).toThrow(/invalid subnet/);
  });

  it('hands out distinct addresses, never the network, gateway or broadcast address', () => {
    const a = new Allocator({ pools: ['10.1.0.0/16'], subnetSize: 29 });
    a.allocateNetwork('n');
    const got = new Set<string>();
    for (let i = 0; i < 5; i++) got.add(a.allocateAddress('n'));
    expect([...got].sort()).toEqual([
      '10.1.0.2/29',
      '10.1.0.3/29',
      '10.1.0.4/29',
      '10.1.0.5/29',
      '10.1.0.6/29',
    ]);
    expect(() => a.allocateAddress('n')).toThrow(/no free address/);
    a.releaseAddress('n', '10.1.0.4/29');
    expect(a.allocateAddress('n')).toBe('10.1.0.4/29');
  });

  it('honours a static address and refuses it twice', () => {
    const a = new Allocator({ pools: ['10.1.0.0/16'] });
    a.allocateNetwork('n');
    expect(a.allocateAddress('n', '10.1.0.50')).toBe('10.1.0.50/24');
    expect(() => a.allocateAddress('n', '10.1.0.50')).toThrow(/already in use/);
    expect(() => a.allocateAddress('n', '10.2.0.5')).toThrow(/not inside/);
  });

  it('rebuilds the same state from recorded allocations', () => {
    const a = new Allocator({ pools: ['10.1.0.0/16'] });
    const n = a.allocateNetwork('n');
    const ip = a.allocateAddress('n');
    const b = new Allocator({ pools: ['10.1.0.0/16'] });
    b.restoreNetwork('n', n);
    b.restoreAddress('n', ip);
    expect(b.allocateAddress('n')).not.toBe(ip);
    expect(b.allocateNetwork('m').subnet).not.toBe(n.subnet);
    expect(b.allocateNetwork('m').vxlanId).not.toBe(n.vxlanId);
  });
});
