import { describe, expect, it } from 'vitest';
import { interleave } from '../../lib/index.js';

async function* items<T>(xs: T[], gate?: Promise<void>): AsyncIterable<T> {
  for (const x of xs) {
    if (gate) await gate;
    yield x;
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('interleave', () => {
  it('yields every item of every source, each source in its own order', async () => {
    const out = await collect(
      interleave<number | string>([items([1, 2, 3]), items(['a', 'b'])], new AbortController().signal),
    );
    expect(out).toHaveLength(5);
    expect(out.filter((x) => typeof x === 'number')).toEqual([1, 2, 3]);
    expect(out.filter((x) => typeof x === 'string')).toEqual(['a', 'b']);
  });

  it('a failing source ends alone; the others go on', async () => {
    async function* failing(): AsyncIterable<number> {
      yield 1;
      throw new Error('container went away');
    }
    const out = await collect(interleave([failing(), items([7, 8])], new AbortController().signal));
    expect(out.sort()).toEqual([1, 7, 8]);
  });

  it('makes a source wait once maxQueued items wait for the reader', async () => {
    let produced = 0;
    async function* endless(): AsyncIterable<number> {
      for (;;) yield produced++;
    }
    const ac = new AbortController();
    const it = interleave([endless()], ac.signal, 4)[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    // Give the producer every chance to run ahead of the reader.
    for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
    expect(produced).toBeLessThanOrEqual(6);
    ac.abort();
    await it.return?.();
  });

  it('ends when the signal aborts, also with sources still open', async () => {
    const ac = new AbortController();
    const never = new Promise<void>(() => {});
    const it = interleave([items([1], never), items([2])], ac.signal);
    const seen: number[] = [];
    const done = (async () => {
      for await (const x of it) {
        seen.push(x);
        ac.abort();
      }
    })();
    await done;
    expect(seen).toEqual([2]);
  });
});
