import { describe, expect, it } from 'vitest';
import { formatDurationNs, parseDurationNs } from '../../lib/index.js';

describe('durations', () => {
  it('parses Go-style durations to nanoseconds', () => {
    expect(parseDurationNs('1m30s')).toBe(90e9);
    expect(parseDurationNs('500ms')).toBe(500e6);
    expect(parseDurationNs('1.5h')).toBe(5400e9);
    expect(parseDurationNs('0')).toBe(0);
    expect(parseDurationNs('10us')).toBe(10_000);
  });

  it('rejects what is not a duration', () => {
    expect(parseDurationNs('')).toBeUndefined();
    expect(parseDurationNs('10')).toBeUndefined();
    expect(parseDurationNs('1x')).toBeUndefined();
    expect(parseDurationNs('s')).toBeUndefined();
  });

  it('formats nanoseconds as Go prints them', () => {
    expect(formatDurationNs(90e9)).toBe('1m30s');
    expect(formatDurationNs(500e6)).toBe('500ms');
    expect(formatDurationNs(3600e9)).toBe('1h0m0s');
    expect(formatDurationNs(0)).toBe('0s');
  });
});
