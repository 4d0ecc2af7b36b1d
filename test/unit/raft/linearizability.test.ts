import { describe, expect, it } from 'vitest';
import { checkLinearizable } from '../../support/linearizability.js';

describe('linearizability checker', () => {
  it('accepts a valid concurrent history and rejects a stale read', () => {
    const put = { kind: 'put' as const, key: 'k', value: 'a', invoke: 1, response: 4 };
    expect(checkLinearizable([put, { kind: 'get', key: 'k', value: null, invoke: 2, response: 3 }]).ok).toBe(
      true,
    );
    expect(checkLinearizable([put, { kind: 'get', key: 'k', value: 'a', invoke: 2, response: 3 }]).ok).toBe(
      true,
    );
    expect(checkLinearizable([put, { kind: 'get', key: 'k', value: null, invoke: 5, response: 6 }]).ok).toBe(
      false,
    );
  });

  it('lets an unacknowledged write take effect or not, but not un-happen', () => {
    const put = { kind: 'put' as const, key: 'k', value: 'a', invoke: 1, response: Number.POSITIVE_INFINITY };
    const seen = { kind: 'get' as const, key: 'k', value: 'a', invoke: 2, response: 3 };
    const gone = { kind: 'get' as const, key: 'k', value: null, invoke: 4, response: 5 };
    expect(checkLinearizable([put, { ...gone, invoke: 2, response: 3 }]).ok).toBe(true);
    expect(checkLinearizable([put, seen]).ok).toBe(true);
    expect(checkLinearizable([put, seen, gone]).ok).toBe(false);
  });
});
