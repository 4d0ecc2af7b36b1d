import { describe, expect, it } from 'vitest';
import {
  chooseBridgeSubnet,
  defaultBridgePools,
  parseCidr,
  routedSubnets,
} from '../../../agent/network/index.js';

const HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT';
const route = (iface: string, dest: string, mask: string) =>
  `${iface}\t${dest}\t00000000\t0001\t0\t0\t0\t${mask}\t0\t0\t0`;

describe("a cluster node's bridge subnet", () => {
  it('reads /proc/net/route in the kernel byte order, without the default route', () => {
    const text = [
      HEADER,
      route('eth0', '00000000', '00000000'), // default
      route('eth0', '000200C0', '00FFFFFF'), // 192.0.2.0/24
      route('docker0', '000011AC', '0000FFFF'), // 172.17.0.0/16
      '',
    ].join('\n');
    expect(routedSubnets(text)).toEqual([parseCidr('192.0.2.0/24'), parseCidr('172.17.0.0/16')]);
    expect(routedSubnets(text, 'docker0')).toEqual([parseCidr('192.0.2.0/24')]);
  });

  it("takes 172.17.0.0/16 on a host that routes none of dockerd's pools", () => {
    expect(chooseBridgeSubnet([parseCidr('192.0.2.0/24')])).toBe('172.17.0.0/16');
  });

  it("steps past docker0's subnet and any other that overlaps a route", () => {
    expect(chooseBridgeSubnet([parseCidr('172.17.0.0/16'), parseCidr('172.18.5.0/24')])).toBe(
      '172.19.0.0/16',
    );
    // A wide route covering all of 172.16/12 leaves the 192.168 pools.
    expect(chooseBridgeSubnet([parseCidr('172.16.0.0/12'), parseCidr('192.168.0.0/20')])).toBe(
      '192.168.16.0/20',
    );
  });

  it('has nothing to offer when every pool is routed', () => {
    expect(chooseBridgeSubnet([parseCidr('172.16.0.0/12'), parseCidr('192.168.0.0/16')])).toBeUndefined();
    expect(defaultBridgePools()).toHaveLength(15 + 16);
  });
});
