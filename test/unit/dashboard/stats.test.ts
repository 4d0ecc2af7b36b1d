// A service's CPU and memory for its page's charts: points from the node's stats reads
// (CPU from counter differences), a bounded history, and reading only while a page asks.
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { StatsHistory, statsPoint } from '../../../dashboard/model/index.js';
import { StatsSampler } from '../../../dashboard/server/stats.js';
import type { ServiceStats } from '../../../lib/index.js';
import { silentLogger } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';

function read(
  timeMs: number,
  tasks: [string, number | undefined, number | undefined, number?][],
): ServiceStats {
  return {
    serviceId: 's1',
    serviceName: 'web',
    timeMs,
    tasks: tasks.map(([taskId, cpuNanos, memoryBytes, at]) => ({
      taskId,
      nodeId: 'n1',
      timeMs: at ?? timeMs,
      ...(cpuNanos !== undefined ? { cpuNanos } : {}),
      ...(memoryBytes !== undefined ? { memoryBytes } : {}),
    })),
    unreachable: [],
  };
}

describe('service stats points', () => {
  it('has no CPU for the first read, then cores from each task’s counter over its own read times', () => {
    const h = new StatsHistory(10);
    expect(
      h.add(
        read(1000, [
          ['a', 1e9, 100],
          ['b', 0, 50],
        ]),
      ),
    ).toEqual({ t: 1000, cpu: null, memory: 150, tasks: 2 });
    // a: 1 s of CPU in 2 s → 0.5 core; b read 1 s later than a: 1.5 s of CPU in 3 s → 0.5 core.
    const p = h.add(
      read(3000, [
        ['a', 2e9, 120],
        ['b', 1.5e9, 60, 4000],
      ]),
    );
    expect(p.cpu).toBeCloseTo(1, 9);
    expect(p.memory).toBe(180);
  });

  it('leaves out a task that started or was replaced between two reads instead of counting it wrong', () => {
    const before = new Map([
      ['a', { cpuNanos: 5e9, timeMs: 0 }],
      ['gone', { cpuNanos: 1e9, timeMs: 0 }],
    ]);
    // a's counter went back: its container restarted. new: not in the previous read.
    expect(
      statsPoint(
        read(1000, [
          ['a', 1e8, 10],
          ['new', 9e9, 10],
        ]),
        before,
      ),
    ).toEqual({
      t: 1000,
      cpu: null,
      memory: 20,
      tasks: 2,
    });
  });

  it('has no memory when no task answered, and keeps only the last points', () => {
    const h = new StatsHistory(3);
    expect(h.add(read(0, [])).memory).toBeNull();
    for (let i = 1; i <= 5; i++) h.add(read(i * 1000, [['a', i * 1e9, i]]));
    expect(h.points.map((p) => p.t)).toEqual([3000, 4000, 5000]);
    expect(h.points.map((p) => p.cpu)).toEqual([1, 1, 1]);
  });
});

describe('the stats sampler', () => {
  const samplers: StatsSampler[] = [];
  afterEach(() => {
    for (const s of samplers.splice(0)) s.close();
  });

  /** A node whose tasks use half a core and a growing amount of memory; it counts the reads. */
  function fakeNode() {
    const reads: string[] = [];
    let n = 0;
    const upstream = {
      async request(r: { path: string }) {
        reads.push(r.path);
        const now = Date.now();
        const text = JSON.stringify(
          r.path.includes('/nosuch/')
            ? { message: 'service nosuch not found' }
            : {
                ...read(now, [['a', now * 5e5, 1000 + n++]]),
                unreachable: [{ nodeId: 'n9', message: 'node n9 did not answer within 2000ms' }],
              },
        );
        return {
          statusCode: r.path.includes('/nosuch/') ? 404 : 200,
          body: Readable.from([Buffer.from(text)]),
          text: async () => text,
        };
      },
    };
    return { upstream, reads };
  }

  it('reads a service at once and then on an interval while its page asks, and stops when it no longer does', async () => {
    const { upstream, reads } = fakeNode();
    const sampler = new StatsSampler(upstream, silentLogger, { intervalMs: 50, idleMs: 300 });
    samplers.push(sampler);
    const first = await sampler.watch('web');
    expect(first.points).toHaveLength(1);
    expect(first.unreachable).toEqual([{ nodeId: 'n9', message: 'node n9 did not answer within 2000ms' }]);
    expect(reads).toEqual(['/skiff/services/web/stats']);
    const later = await waitFor(
      async () => {
        const v = await sampler.watch('web');
        return v.points.length >= 3 ? v : undefined;
      },
      { what: 'three points', timeoutMs: 5000, intervalMs: 20 },
    );
    expect(later.points.at(-1)?.cpu).toBeCloseTo(0.5, 1);
    // Nobody asks: reading stops, and the history stays for a page that comes back.
    await waitFor(() => sampler.reading.length === 0, {
      what: 'reading to stop',
      timeoutMs: 5000,
      intervalMs: 20,
    });
    const stopped = reads.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(reads.length).toBe(stopped);
    expect((await sampler.watch('web')).points.length).toBeGreaterThan(later.points.length);
  });

  it('keeps points of the window only, a bounded number of services, and says why a read failed', async () => {
    const { upstream } = fakeNode();
    let now = Date.now();
    const sampler = new StatsSampler(upstream, silentLogger, {
      intervalMs: 60_000,
      windowMs: 10_000,
      maxServices: 2,
      now: () => now,
    });
    samplers.push(sampler);
    await sampler.watch('a');
    await sampler.watch('b');
    now += 20_000;
    expect(sampler.reading.sort()).toEqual(['a', 'b']);
    await sampler.watch('c');
    // 'a' was watched longest ago: forgotten, and no longer read.
    expect(sampler.reading.sort()).toEqual(['b', 'c']);
    // b's only point is older than the window.
    expect((await sampler.watch('b')).points).toEqual([]);
    const missing = await sampler.watch('nosuch');
    expect(missing.error).toBe('service nosuch not found');
    expect(missing.points).toEqual([]);
  });
});
