import { describe, expect, it } from 'vitest';
import { parseByteSize } from '../../lib/index.js';

describe('parseByteSize', () => {
  it('reads plain counts and binary units, case-insensitive', () => {
    expect(parseByteSize('1048576')).toBe(1048576);
    expect(parseByteSize('8MiB')).toBe(8 * 1024 ** 2);
    expect(parseByteSize('32GiB')).toBe(32 * 1024 ** 3);
    expect(parseByteSize('512m')).toBe(512 * 1024 ** 2);
    expect(parseByteSize('1.5 GB')).toBe(1.5 * 1024 ** 3);
    expect(parseByteSize('0')).toBe(0);
  });

  it('refuses what is not a size', () => {
    for (const bad of ['', 'lots', '-1', '5 parsecs', '1e9', '12 MiB MiB'])
      expect(parseByteSize(bad)).toBeUndefined();
  });
});
