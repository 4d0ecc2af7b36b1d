import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../../agent/network/exec.js';
import { lbRuleset, mergeVips, ServiceLoadBalancer } from '../../../agent/network/service-lb.js';

describe('service VIP rules in a container namespace', () => {
  it('sends new connections to a VIP to one of its tasks and refuses a VIP without tasks', () => {
    const text = lbRuleset([
      { vip: '10.0.1.3', backends: [] },
      { vip: '10.0.1.2', backends: ['10.0.1.5', '10.0.1.6'] },
    ]);
    expect(text).toContain(
      'ip daddr 10.0.1.2 meta l4proto { tcp, udp } dnat to numgen random mod 2 map { 0 : 10.0.1.5, 1 : 10.0.1.6 }',
    );
    expect(text).not.toMatch(/daddr 10\.0\.1\.3 .*dnat/);
    expect(text).toContain('ip daddr { 10.0.1.2, 10.0.1.3 } meta l4proto tcp reject with tcp reset');
    // One atomic replacement of the whole table.
    expect(text.split('\n').slice(0, 3)).toEqual([
      'table ip skiff_lb {}',
      'delete table ip skiff_lb',
      'table ip skiff_lb {',
    ]);
    expect(lbRuleset([])).toBe('');
  });

  it('merges the VIPs of a container’s networks', () => {
    expect(
      mergeVips([
        [{ vip: 'a', backends: ['2', '1'] }],
        [
          { vip: 'a', backends: ['3'] },
          { vip: 'b', backends: [] },
        ],
      ]),
    ).toEqual([
      { vip: 'a', backends: ['1', '2', '3'] },
      { vip: 'b', backends: [] },
    ]);
  });

  it('runs one nft per burst and none when nothing changed, removing the table when no VIP is left', async () => {
    const inputs: string[] = [];
    // FAKE exec: records what nft would be given.
    const lb = new ServiceLoadBalancer(async (_file, _args, opts): Promise<ExecResult> => {
      inputs.push(opts?.input ?? '');
      return { code: 0, stdout: '', stderr: '' };
    });
    let vips = [{ vip: '10.0.1.2', backends: ['10.0.1.5'] }];
    await Promise.all([1, 2, 3].map(() => lb.sync('c1', '/ns', () => vips)));
    expect(inputs).toHaveLength(1);
    await lb.sync('c1', '/ns', () => vips);
    expect(inputs).toHaveLength(1);
    vips = [];
    await lb.sync('c1', '/ns', () => vips);
    expect(inputs[1]).toBe('table ip skiff_lb {}\ndelete table ip skiff_lb\n');
  });
});
