import { describe, expect, it } from 'vitest';
import { median, pairedRatio, percentile, round } from '../../../bench/lib/index.js';

describe('bench statistics', () => {
  it('takes the median of odd and even counts, unsorted input', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('takes percentiles by nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(xs, 95)).toBe(95);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 95)).toBeNaN();
  });

  it('computes ratios pair by pair, so drift that hits both sides cancels', () => {
    // The machine slows down 10x halfway; A is always 2x B within a pair.
    const a = [2, 2, 2, 20, 20];
    const b = [1, 1, 10, 10, 10];
    // Ratio of medians says 0.2; the pairs say A is 2x B in most pairs.
    expect(median(a) / median(b)).toBe(0.2);
    expect(pairedRatio(a, b)).toBe(2);
  });

  it('rejects series of different lengths', () => {
    expect(() => pairedRatio([1, 2], [1])).toThrow(/2 samples against 1/);
  });

  it('rounds for people', () => {
    expect(round(1.23456)).toBe(1.23);
    expect(round(1234.5678, 0)).toBe(1235);
  });
});
