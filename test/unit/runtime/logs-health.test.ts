import { describe, expect, it } from 'vitest';
import { applyProbe, healthPlan, initialHealth, nextProbeDelay } from '../../../agent/runtime/health.js';
import { parseLogRecord, parseLogText } from '../../../agent/runtime/index.js';

describe('k8s-file logs', () => {
  const text = [
    '2026-01-01T00:00:00.000000001+00:00 stdout F one',
    '2026-01-01T00:00:01.000000000+00:00 stderr P par',
    '2026-01-01T00:00:01.500000000+00:00 stdout F two',
    '2026-01-01T00:00:02.000000000+00:00 stderr F tial',
    'garbage',
    '2026-01-01T00:00:03.000000000+01:00 stdout F ',
    '',
  ].join('\n');
  it('joins partial records per stream and keeps times', () => {
    const e = parseLogText(text);
    expect(e.map((x) => `${x.stream}:${x.line}`)).toEqual([
      'stdout:one',
      'stdout:two',
      'stderr:partial',
      'stdout:',
    ]);
    expect(e[2]!.time.toISOString()).toBe('2026-01-01T00:00:01.000Z');
    expect(e[3]!.time.toISOString()).toBe('2025-12-31T23:00:03.000Z');
  });
  it('applies since and tail', () => {
    expect(parseLogText(text, { tail: 2 }).map((x) => x.line)).toEqual(['partial', '']);
    expect(parseLogText(text, { tail: 0 })).toEqual([]);
    expect(parseLogText(text, { since: new Date('2026-01-01T00:00:01.200Z') }).map((x) => x.line)).toEqual([
      'two',
    ]);
  });
  it('rejects malformed records', () => {
    expect(parseLogRecord('not a record')).toBeUndefined();
    expect(parseLogRecord('2026-01-01T00:00:00Z stdin F x')).toBeUndefined();
  });
});

describe('health state machine', () => {
  const MS = 1e6;
  const plan = healthPlan(undefined, {
    Test: ['CMD-SHELL', 'curl -f localhost'],
    Interval: 1000 * MS,
    Retries: 2,
    StartPeriod: 10_000 * MS,
    StartInterval: 100 * MS,
  })!;
  const t0 = new Date('2026-01-01T00:00:00Z');
  const at = (ms: number, exitCode: number) => ({
    start: new Date(t0.getTime() + ms),
    end: new Date(t0.getTime() + ms),
    exitCode,
    output: '',
  });

  it('builds the probe command and merges spec over image', () => {
    expect(plan.command).toEqual(['/bin/sh', '-c', 'curl -f localhost']);
    const merged = healthPlan(
      { Test: ['CMD', 'true'], Interval: 5000 * MS, Timeout: 7000 * MS },
      { Interval: 2000 * MS },
    );
    expect(merged).toMatchObject({
      command: ['true'],
      intervalMs: 2000,
      timeoutMs: 7000,
      retries: 3,
      startPeriodMs: 0,
    });
    expect(healthPlan({ Test: ['CMD', 'true'] }, { Test: ['NONE'] })).toBeUndefined();
    expect(healthPlan(undefined, undefined)).toBeUndefined();
  });

  it('ignores failures in the start period until the first success, then counts to retries', () => {
    let h = initialHealth();
    h = applyProbe(plan, h, at(100, 1), t0);
    h = applyProbe(plan, h, at(200, 1), t0);
    h = applyProbe(plan, h, at(300, 1), t0);
    expect(h).toMatchObject({ status: 'starting', failingStreak: 0 });
    expect(nextProbeDelay(plan, h, t0, new Date(t0.getTime() + 300))).toBe(100);
    h = applyProbe(plan, h, at(400, 0), t0);
    expect(h.status).toBe('healthy');
    expect(nextProbeDelay(plan, h, t0, new Date(t0.getTime() + 400))).toBe(1000);
    h = applyProbe(plan, h, at(1400, 1), t0);
    expect(h).toMatchObject({ status: 'healthy', failingStreak: 1 });
    h = applyProbe(plan, h, at(2400, 1), t0);
    expect(h).toMatchObject({ status: 'unhealthy', failingStreak: 2 });
    h = applyProbe(plan, h, at(3400, 0), t0);
    expect(h).toMatchObject({ status: 'healthy', failingStreak: 0 });
  });

  it('counts failures after the start period and keeps the last 5 results', () => {
    let h = initialHealth();
    h = applyProbe(plan, h, at(11_000, 1), t0);
    h = applyProbe(plan, h, at(12_000, 1), t0);
    expect(h.status).toBe('unhealthy');
    for (let i = 0; i < 10; i++) h = applyProbe(plan, h, at(13_000 + i, 1), t0);
    expect(h.log).toHaveLength(5);
  });
});
