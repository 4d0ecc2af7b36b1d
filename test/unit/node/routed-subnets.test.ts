// The host's routed subnets a single node keeps out of its address pool, read from
// /proc/net/route as `ip -j -4 route show` names them.
import { describe, expect, it } from 'vitest';
import { routedSubnets } from '../../../node/single-node.js';

const PROC_NET_ROUTE = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
  'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
  'br-a\t0065C80A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
  'eth0\t0500000A\t010200C0\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0',
  'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  '',
].join('\n');

describe('routedSubnets', () => {
  it('lists the routed subnets, without the default route and host routes', () => {
    expect(routedSubnets(PROC_NET_ROUTE)).toEqual(['10.200.101.0/24', '172.17.0.0/16', '192.0.2.0/24']);
  });

  it('reads nothing from a table without routes or from garbage', () => {
    expect(routedSubnets(PROC_NET_ROUTE.split('\n')[0] ?? '')).toEqual([]);
    expect(routedSubnets('Iface\nnot a route line\n')).toEqual([]);
  });
});
