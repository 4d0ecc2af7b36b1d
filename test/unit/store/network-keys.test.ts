import { describe, expect, it } from 'vitest';
import {
  networkKeysDueAt,
  networkKeysView,
  newNetworkKeyRing,
  rotateNetworkKeys,
} from '../../../manager/store/index.js';

describe('network key ring', () => {
  it('starts with three keys and sends with the middle one', () => {
    const ring = newNetworkKeyRing(1000);
    expect(ring.keys.map((k) => k.tag)).toEqual([1, 2, 3]);
    expect(new Set(ring.keys.map((k) => k.key)).size).toBe(3);
    expect(Buffer.from(ring.keys[0]!.key, 'base64')).toHaveLength(20);
    expect(networkKeysView(ring).primary).toBe(2);
  });

  it('rotates to the key every node already has, keeping the previous one readable', () => {
    const ring = newNetworkKeyRing(1000);
    const next = rotateNetworkKeys(ring, 2000);
    expect(next.keys.map((k) => k.tag)).toEqual([2, 3, 4]);
    // The new primary (3) was handed out one rotation ago; the old primary (2) is still read.
    expect(networkKeysView(next).primary).toBe(3);
    expect(next.keys.slice(0, 2)).toEqual(ring.keys.slice(1));
    expect(networkKeysDueAt(next, 500)).toBe(2500);
  });
});
