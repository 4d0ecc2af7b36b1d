import { describe, expect, it } from 'vitest';
import { loadKv } from '../../../bench/lib/index.js';

describe('loadKv', () => {
  it('drives N clients against the given endpoints with unique keys and sized values', async () => {
    const store = new Map<string, string>();
    const perTarget = new Map<string, number>();
    const r = await loadKv(
      { urls: ['http://a', 'http://b'], clients: 4, valueBytes: 16, durationMs: 50 },
      async (key, value, target) => {
        await new Promise((res) => setImmediate(res));
        if (store.has(key)) throw new Error(`duplicate key ${key}`);
        store.set(key, value);
        perTarget.set(target!, (perTarget.get(target!) ?? 0) + 1);
      },
    );
    expect(r.errors).toBe(0);
    expect(r.commits).toBe(store.size);
    expect(r.commits).toBeGreaterThan(4);
    expect([...store.values()].every((v) => v.length === 16)).toBe(true);
    expect([...perTarget.keys()].sort()).toEqual(['http://a', 'http://b']);
    expect(r.commitsPerSec).toBeGreaterThan(0);
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
  });

  it('stops early on a broken store and reports its first error', async () => {
    const r = await loadKv({ clients: 2, durationMs: 10_000, maxErrors: 5 }, async () => {
      throw new Error('connection refused');
    });
    expect(r.commits).toBe(0);
    expect(r.errors).toBeGreaterThanOrEqual(5);
    expect(r.firstError).toBe('connection refused');
    expect(r.seconds).toBeLessThan(5);
  });

  it('rejects nonsense options', async () => {
    await expect(loadKv({ clients: 0, durationMs: 10 }, async () => {})).rejects.toThrow(/clients/);
    await expect(loadKv({ durationMs: 0 }, async () => {})).rejects.toThrow(/durationMs/);
  });
});
