// The read gate a manager's API waits on after start: one barrier shared by every read,
// tried again after a failure, and nothing more to pay once it has opened.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isSkiffError } from '../../../lib/index.js';
import { ReadGate } from '../../../manager/store/index.js';

/** A barrier the test settles by hand, counting its calls. */
function handBarrier() {
  const calls: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const barrier = () =>
    new Promise<void>((resolve, reject) => {
      calls.push({ resolve, reject });
    });
  return { barrier, calls };
}

/** Lets the gate's promise callbacks run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ReadGate', () => {
  it('holds reads until the barrier passes, with one barrier for all of them', async () => {
    const { barrier, calls } = handBarrier();
    const gate = new ReadGate({ barrier });
    expect(calls).toHaveLength(1); // started at once, before any read
    let served = 0;
    const reads = [gate.wait(), gate.wait(), gate.wait()].map((p) => p.then(() => served++));
    await settle();
    expect(served).toBe(0);
    expect(gate.open).toBe(false);
    calls[0]!.resolve();
    await Promise.all(reads);
    expect(served).toBe(3);
    expect(gate.open).toBe(true);
    await expect(gate.opened).resolves.toBeUndefined();
    // Open: later reads pass at once and cost no barrier.
    await gate.wait();
    expect(calls).toHaveLength(1);
    gate.close();
  });

  it('tries again after a failed barrier, and a read waiting meanwhile is served when it passes', async () => {
    const { barrier, calls } = handBarrier();
    const gate = new ReadGate({ barrier, retryMs: 250, waitMs: 10_000 });
    const read = gate.wait();
    calls[0]!.reject(new Error('no leader is known yet'));
    await settle();
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(250);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve();
    await expect(read).resolves.toBeUndefined();
    gate.close();
  });

  it('refuses a read that waited too long, saying why, without a 5xx of its own making', async () => {
    const { barrier, calls } = handBarrier();
    const gate = new ReadGate({ barrier, retryMs: 1000, waitMs: 3000 });
    const read = gate.wait().catch((e: unknown) => e);
    calls[0]!.reject(new Error('read barrier timed out'));
    await vi.advanceTimersByTimeAsync(3000);
    const err = await read;
    expect(isSkiffError(err) && err.code).toBe('unavailable');
    expect((err as Error).message).toMatch(/not caught up .*read barrier timed out/);
    expect(gate.open).toBe(false);
    gate.close();
  });

  it('stops trying once closed and refuses the reads still waiting', async () => {
    const { barrier, calls } = handBarrier();
    const gate = new ReadGate({ barrier, retryMs: 100 });
    const read = gate.wait().catch((e: unknown) => e);
    calls[0]!.reject(new Error('stopped'));
    gate.close();
    expect(isSkiffError(await read)).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(1);
    expect(gate.open).toBe(false);
  });

  it('refuses every read at once after it failed, also once it had opened', async () => {
    const { barrier, calls } = handBarrier();
    const gate = new ReadGate({ barrier });
    calls[0]!.resolve();
    await gate.wait();
    gate.fail('its raft log cannot be written (ENOSPC)');
    expect(gate.open).toBe(false);
    const err = await gate.wait().catch((e: unknown) => e);
    expect(isSkiffError(err) && err.code).toBe('unavailable');
    expect((err as Error).message).toMatch(/cannot serve reads: its raft log cannot be written \(ENOSPC\)/);
  });
});
