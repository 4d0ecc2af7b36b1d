// Health checks: probes by exec on the configured timing, starting → healthy →
// unhealthy transitions reported as events, the start period, and probe timeouts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerEvent } from '../../../agent/runtime/index.js';
import { waitFor } from '../../lab/index.js';
import { createHarness, type Harness } from './harness.js';

const MS = 1e6;
let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.cleanup();
});

describe('health checks', () => {
  it('goes starting → healthy → unhealthy → healthy with retries, and emits each change', async () => {
    const events: ContainerEvent[] = [];
    const off = h.rt.onEvent((e) => events.push(e));
    try {
      const c = await h.create({
        Command: ['sleep', '60'],
        // The start period keeps early failures (before the file exists) from counting.
        HealthCheck: {
          Test: ['CMD-SHELL', 'test -f /tmp/healthy'],
          Interval: 100 * MS,
          Timeout: 5000 * MS,
          Retries: 2,
          StartPeriod: 60_000 * MS,
          StartInterval: 100 * MS,
        },
      });
      const started = await h.rt.start(c.id);
      expect(started.health?.status).toBe('starting');
      const healthOf = async () => (await h.rt.inspect(c.id)).health;

      await h.rt.exec(c.id, ['touch', '/tmp/healthy']);
      await waitFor(async () => (await healthOf())?.status === 'healthy', {
        what: 'healthy',
        timeoutMs: 10_000,
      });
      await h.rt.exec(c.id, ['rm', '/tmp/healthy']);
      const unhealthy = await waitFor(
        async () => {
          const s = await healthOf();
          return s?.status === 'unhealthy' ? s : undefined;
        },
        { what: 'unhealthy', timeoutMs: 10_000 },
      );
      expect(unhealthy.failingStreak).toBeGreaterThanOrEqual(2);
      expect(unhealthy.log.at(-1)?.exitCode).toBe(1);
      await h.rt.exec(c.id, ['touch', '/tmp/healthy']);
      await waitFor(async () => (await healthOf())?.status === 'healthy', {
        what: 'healthy again',
        timeoutMs: 10_000,
      });

      const changes = events
        .filter((e): e is Extract<ContainerEvent, { type: 'health' }> => e.type === 'health' && e.id === c.id)
        .map((e) => e.health);
      expect(changes).toEqual(['healthy', 'unhealthy', 'healthy']);
      await h.rt.delete(c.id, { force: true });
    } finally {
      off();
    }
  });

  it('does not count failures during the start period, and probes at the start interval there', async () => {
    const c = await h.create({
      Command: ['sleep', '60'],
      HealthCheck: {
        Test: ['CMD', 'false'],
        Interval: 60_000 * MS,
        StartPeriod: 60_000 * MS,
        StartInterval: 100 * MS,
        Retries: 1,
      },
    });
    await h.rt.start(c.id);
    // Three probes within seconds prove the start interval (the interval is a minute).
    const h3 = await waitFor(
      async () => {
        const s = (await h.rt.inspect(c.id)).health;
        return s && s.log.length >= 3 ? s : undefined;
      },
      { what: 'three probes', timeoutMs: 10_000 },
    );
    expect(h3.status).toBe('starting');
    expect(h3.failingStreak).toBe(0);
    await h.rt.delete(c.id, { force: true });
  });

  it('takes the image health check when the spec has none, and fails probes past their timeout', async () => {
    const c = await h.create(
      { Command: ['sleep', '60'] },
      {
        imageConfig: {
          Healthcheck: { Test: ['CMD', 'sleep', '10'], Interval: 100 * MS, Timeout: 200 * MS, Retries: 1 },
        },
      },
    );
    await h.rt.start(c.id);
    const s = await waitFor(
      async () => {
        const v = (await h.rt.inspect(c.id)).health;
        return v?.status === 'unhealthy' ? v : undefined;
      },
      { what: 'unhealthy by timeout', timeoutMs: 10_000 },
    );
    expect(s.log.at(-1)).toMatchObject({
      exitCode: -1,
      output: expect.stringMatching(/exceeded its timeout/),
    });
    await h.rt.delete(c.id, { force: true });
  });

  it('has no health state when the check is NONE', async () => {
    const c = await h.create(
      { Command: ['sleep', '60'], HealthCheck: { Test: ['NONE'] } },
      { imageConfig: { Healthcheck: { Test: ['CMD', 'true'] } } },
    );
    await h.rt.start(c.id);
    expect((await h.rt.inspect(c.id)).health).toBeUndefined();
    await h.rt.delete(c.id, { force: true });
  });
});
