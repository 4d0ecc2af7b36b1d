import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ExecOptions, ExecResult } from '../../../agent/network/exec.js';
import {
  batchArgs,
  batchOutcomes,
  lbRuleset,
  mergeVips,
  ServiceLoadBalancer,
} from '../../../agent/network/service-lb.js';

/**
 * FAKE exec: records each table write (namespace, nft input) of every exec, whether one
 * `nsenter … nft` or a batch script's (namespace, ruleset) argument pairs, and answers
 * after `ms` (a batch after `batchMs`; fake timers) as nft would.
 */
function fakeNft(ms: number, failing = new Set<string>(), batchMs = ms) {
  const execs: { netnsPath: string; input: string }[][] = [];
  const run = (file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> => {
    const writes =
      file === 'nsenter'
        ? [{ netnsPath: (args[0] ?? '').replace('--net=', ''), input: opts?.input ?? '' }]
        : Array.from({ length: (args.length - 3) / 2 }, (_, i) => ({
            netnsPath: args[3 + 2 * i] ?? '',
            input: args[4 + 2 * i] ?? '',
          }));
    execs.push(writes);
    const out = writes
      .map((w, i) =>
        failing.has(w.netnsPath) ? `Error: no such file\n@skiff-lb ${i} 1` : `@skiff-lb ${i} 0`,
      )
      .join('\n');
    const result =
      file === 'nsenter'
        ? {
            code: failing.has(writes[0]?.netnsPath ?? '') ? 1 : 0,
            stdout: '',
            stderr: 'Error: no such file\n',
          }
        : { code: 0, stdout: `${out}\n`, stderr: '' };
    return new Promise((resolve) => setTimeout(() => resolve(result), file === 'nsenter' ? ms : batchMs));
  };
  return { run, execs, writesTo: (ns: string) => execs.flat().filter((w) => w.netnsPath === ns) };
}

afterEach(() => {
  vi.useRealTimers();
});

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
    const sync = () => lb.sync('c1', '/ns', () => vips);
    await Promise.all([sync(), sync(), sync()]);
    expect(inputs).toHaveLength(1);
    await lb.sync('c1', '/ns', () => vips);
    expect(inputs).toHaveLength(1);
    vips = [];
    await lb.sync('c1', '/ns', () => vips);
    expect(inputs[1]).toBe('table ip skiff_lb {}\ndelete table ip skiff_lb\n');
  });

  it('turns a burst of view changes into one rewrite per namespace, in one exec, the latest view winning', async () => {
    vi.useFakeTimers();
    const nft = fakeNft(5);
    const lb = new ServiceLoadBalancer(nft.run);
    const containers = Array.from({ length: 10 }, (_, i) => `c${i}`);
    let backends: string[] = [];
    const changed = () =>
      Promise.all(containers.map((c) => lb.sync(c, `/ns/${c}`, () => [{ vip: '10.0.1.2', backends }])));
    // 15 tasks come up one after another, each a new view (as a stack deploy's do).
    const syncs: Promise<unknown>[] = [];
    for (let t = 1; t <= 15; t++) {
      backends = Array.from({ length: t }, (_, i) => `10.0.1.${10 + i}`);
      syncs.push(changed());
      await vi.advanceTimersByTimeAsync(2);
    }
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(syncs);
    expect(nft.execs).toHaveLength(1);
    for (const c of containers) {
      const writes = nft.writesTo(`/ns/${c}`);
      expect(writes).toHaveLength(1);
      expect(writes[0]?.input).toBe(lbRuleset([{ vip: '10.0.1.2', backends }]));
    }
  });

  it('gathers the changes made while a batch runs into the next batch', async () => {
    vi.useFakeTimers();
    const nft = fakeNft(200);
    const lb = new ServiceLoadBalancer(nft.run);
    let backends = ['10.0.1.5'];
    const wanted = () => [{ vip: '10.0.1.2', backends }];
    const first = Promise.all([lb.sync('a', '/ns/a', wanted), lb.sync('b', '/ns/b', wanted)]);
    await vi.advanceTimersByTimeAsync(100); // the batch is running
    expect(nft.execs).toHaveLength(1);
    const later: Promise<unknown>[] = [];
    for (const n of [6, 7, 8]) {
      backends = [...backends, `10.0.1.${n}`];
      later.push(lb.sync('a', '/ns/a', wanted), lb.sync('b', '/ns/b', wanted));
      await vi.advanceTimersByTimeAsync(20);
    }
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all([first, ...later]);
    expect(nft.execs).toHaveLength(2);
    expect(nft.execs[1]?.map((w) => w.input)).toEqual([lbRuleset(wanted()), lbRuleset(wanted())]);
  });

  it('still rewrites at most 500 ms after a change when changes never pause', async () => {
    vi.useFakeTimers();
    const nft = fakeNft(5);
    const lb = new ServiceLoadBalancer(nft.run);
    let n = 0;
    const syncs: Promise<unknown>[] = [];
    // A change every 60 ms for 2 s: never the 100 ms pause a batch otherwise waits for.
    for (let t = 0; t < 2_000; t += 60) {
      n++;
      const backends = [`10.0.2.${n}`];
      syncs.push(lb.sync('a', '/ns/a', () => [{ vip: '10.0.1.2', backends }]));
      await vi.advanceTimersByTimeAsync(60);
    }
    expect(nft.execs.length).toBeGreaterThanOrEqual(3);
    expect(nft.execs.length).toBeLessThanOrEqual(5);
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all(syncs);
  });

  it('holds a due batch while containers start on the node, for 1 s after its oldest change at most', async () => {
    vi.useFakeTimers();
    const nft = fakeNft(5);
    let starting = true;
    const lb = new ServiceLoadBalancer(nft.run, undefined, { starting: () => starting });
    const wanted = () => [{ vip: '10.0.1.2', backends: ['10.0.1.5'] }];
    const done = lb.sync('a', '/ns/a', wanted);
    await vi.advanceTimersByTimeAsync(600); // due after 100 ms, held: a deploy is starting tasks
    expect(nft.execs).toHaveLength(0);
    starting = false;
    await vi.advanceTimersByTimeAsync(120); // the starts are over: written at the next pause
    expect(nft.execs).toHaveLength(1);
    await done;

    starting = true; // starts that never end: still written, 1 s after the change
    const again = lb.sync('a', '/ns/a', () => [{ vip: '10.0.1.2', backends: ['10.0.1.6'] }]);
    await vi.advanceTimersByTimeAsync(850);
    expect(nft.execs).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(nft.execs).toHaveLength(2);
    await again;
  });

  it('runs an urgent batch (a stopping task waits for it) at once, even while containers start', async () => {
    vi.useFakeTimers();
    const nft = fakeNft(5);
    const lb = new ServiceLoadBalancer(nft.run, undefined, { starting: () => true });
    const wanted = () => [{ vip: '10.0.1.2', backends: ['10.0.1.5'] }];
    const routine = lb.sync('a', '/ns/a', wanted);
    await vi.advanceTimersByTimeAsync(300); // held while containers start
    expect(nft.execs).toHaveLength(0);
    const urgent = lb.sync('b', '/ns/b', wanted, true);
    await vi.advanceTimersByTimeAsync(10);
    // One batch, the held table with it.
    expect(nft.execs).toHaveLength(1);
    expect(nft.execs[0]?.map((w) => w.netnsPath).sort()).toEqual(['/ns/a', '/ns/b']);
    await Promise.all([routine, urgent]);
  });

  it('writes a starting container’s table at once, not behind the batch of other containers', async () => {
    vi.useFakeTimers();
    const nft = fakeNft(10, new Set(), 300);
    const lb = new ServiceLoadBalancer(nft.run);
    const wanted = () => [{ vip: '10.0.1.2', backends: ['10.0.1.5'] }];
    let othersDone = false;
    const others = Promise.all([lb.sync('a', '/ns/a', wanted), lb.sync('b', '/ns/b', wanted)]).then(() => {
      othersDone = true;
    });
    await vi.advanceTimersByTimeAsync(100); // their batch is running
    let ownDone = false;
    const own = lb.syncNow('new', '/ns/new', wanted).then(() => {
      ownDone = true;
    });
    await vi.advanceTimersByTimeAsync(20);
    expect(ownDone).toBe(true);
    expect(othersDone).toBe(false);
    expect(nft.writesTo('/ns/new')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all([others, own]);
  });

  it('writes the tables of containers starting meanwhile together, in the exec after the one in flight', async () => {
    vi.useFakeTimers();
    const nft = fakeNft(10, new Set(['/ns/gone']));
    const lb = new ServiceLoadBalancer(nft.run);
    const wanted = () => [{ vip: '10.0.1.2', backends: ['10.0.1.5'] }];
    const first = lb.syncNow('a', '/ns/a', wanted);
    await vi.advanceTimersByTimeAsync(1); // a's exec is in flight
    const more = [lb.syncNow('b', '/ns/b', wanted), lb.syncNow('c', '/ns/c', wanted)];
    const gone = lb.syncNow('gone', '/ns/gone', wanted);
    gone.catch(() => {});
    await vi.advanceTimersByTimeAsync(30);
    await Promise.all([first, ...more]);
    await expect(gone).rejects.toThrow('nft in /ns/gone: Error: no such file');
    expect(nft.execs.map((e) => e.map((w) => w.netnsPath))).toEqual([
      ['/ns/a'],
      ['/ns/b', '/ns/c', '/ns/gone'],
    ]);
    // Written: the same view again costs no exec.
    await lb.syncNow('b', '/ns/b', wanted);
    expect(nft.execs).toHaveLength(2);
  });

  it('does not let a batch and a starting container’s own write cross on its table', async () => {
    vi.useFakeTimers();
    const nft = fakeNft(10, new Set(), 300);
    const lb = new ServiceLoadBalancer(nft.run);
    let backends = ['10.0.1.5'];
    const wanted = () => [{ vip: '10.0.1.2', backends }];
    const batch = Promise.all([lb.sync('a', '/ns/a', wanted), lb.sync('b', '/ns/b', wanted)]);
    await vi.advanceTimersByTimeAsync(100); // its batch is writing a's table
    backends = ['10.0.1.5', '10.0.1.6'];
    const own = lb.syncNow('a', '/ns/a', wanted);
    await vi.advanceTimersByTimeAsync(1_000);
    await Promise.all([batch, own]);
    // After the batch's write, the newer view.
    expect(nft.writesTo('/ns/a').map((w) => w.input)).toEqual([
      lbRuleset([{ vip: '10.0.1.2', backends: ['10.0.1.5'] }]),
      lbRuleset(wanted()),
    ]);
  });

  it('rejects the callers of a namespace nft refused, and only those', async () => {
    vi.useFakeTimers();
    const nft = fakeNft(1, new Set(['/ns/gone']));
    const lb = new ServiceLoadBalancer(nft.run);
    const wanted = () => [{ vip: '10.0.1.2', backends: ['10.0.1.5'] }];
    const ok = lb.sync('a', '/ns/a', wanted);
    const gone = lb.sync('gone', '/ns/gone', wanted);
    gone.catch(() => {});
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(ok).resolves.toBeUndefined();
    await expect(gone).rejects.toThrow('nft in /ns/gone: Error: no such file');
    // Not recorded as written: the next change retries it.
    const again = lb.sync('gone', '/ns/gone', wanted);
    again.catch(() => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(nft.writesTo('/ns/gone')).toHaveLength(2);
  });

  it('passes namespaces and rulesets to the batch script as arguments, and reads each outcome', () => {
    const args = batchArgs([
      { netnsPath: '/ns/a', text: 'table ip skiff_lb {\n}\n' },
      { netnsPath: '/ns/b', text: '' },
    ]);
    expect(args[0]).toBe('-c');
    // The script is fixed text: no namespace or rule ever becomes shell code.
    expect(args[1]).not.toContain('/ns/');
    expect(args.slice(3)).toEqual([
      '/ns/a',
      'table ip skiff_lb {\n}\n',
      '/ns/b',
      'table ip skiff_lb {}\ndelete table ip skiff_lb\n',
    ]);
    expect(batchOutcomes('@skiff-lb 0 0\n/dev/stdin:3:1: Error: bad\n  here\n@skiff-lb 1 1\n', 3)).toEqual([
      undefined,
      '/dev/stdin:3:1: Error: bad',
      null,
    ]);
  });
});
