import { describe, expect, it } from 'vitest';
import { interleave, interleaveAll, repeat, sideBySideFigures } from '../../../bench/lib/index.js';

describe('bench method', () => {
  it('runs warm-ups untimed, then the timed runs', async () => {
    const calls: number[] = [];
    const s = await repeat(async (run) => void calls.push(run), { warmup: 2, runs: 3 });
    expect(calls).toEqual([-1, -2, 0, 1, 2]);
    expect(s.ms).toHaveLength(3);
    expect(s.median).toBeGreaterThanOrEqual(0);
  });

  it('takes the number an op resolves to as its own measurement', async () => {
    const s = await repeat(async (run) => (run + 1) * 10, { warmup: 1, runs: 3 });
    expect(s.ms).toEqual([10, 20, 30]);
    expect(s.median).toBe(20);
    const r = await interleave(
      async () => 30,
      async () => 10,
      { warmup: 0, runs: 3 },
    );
    expect(r.ratio).toBe(3);
  });

  it('interleaves the two systems, alternating which goes first', async () => {
    const order: string[] = [];
    const r = await interleave(
      async (run) => void order.push(`a${run}`),
      async (run) => void order.push(`b${run}`),
      { warmup: 1, runs: 4 },
    );
    expect(order).toEqual(['a-1', 'b-1', 'a0', 'b0', 'b1', 'a1', 'a2', 'b2', 'b3', 'a3']);
    expect(r.a.ms).toHaveLength(4);
    expect(r.b.ms).toHaveLength(4);
  });

  it('interleaves several systems in rounds, rotating which goes first', async () => {
    const order: string[] = [];
    const op = (name: string) => async (run: number) => {
      order.push(`${name}${run}`);
      return name.charCodeAt(0) - 96 + run;
    };
    const [a, b, c] = await interleaveAll([op('a'), op('b'), op('c')], { warmup: 1, runs: 3 });
    expect(order).toEqual(['a-1', 'b-1', 'c-1', 'a0', 'b0', 'c0', 'b1', 'c1', 'a1', 'c2', 'a2', 'b2']);
    // The i-th sample of each system is its run of round i.
    expect(a!.ms).toEqual([1, 2, 3]);
    expect(b!.ms).toEqual([2, 3, 4]);
    expect(c!.ms).toEqual([3, 4, 5]);
  });

  it('turns an interleaved run into median and p95 figures with the paired ratio', () => {
    const r = {
      a: { ms: [2, 2, 20], median: 2, p95: 20 },
      b: { ms: [1, 1, 10], median: 1, p95: 10 },
      ratio: 2,
    };
    expect(sideBySideFigures('start', 'crun', r, 'create')).toEqual([
      { name: 'start', metric: 'create median', unit: 'ms', value: 2, peer: 'crun', peerValue: 1, ratio: 2 },
      { name: 'start', metric: 'create p95', unit: 'ms', value: 20, peer: 'crun', peerValue: 10, ratio: 2 },
    ]);
  });
});
