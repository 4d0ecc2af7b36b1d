import { describe, expect, it } from 'vitest';
import { looksLikeObjectId, newObjectId } from '../../../manager/store/ids.js';
import { deepFreeze } from '../../../manager/store/state.js';

describe('deepFreeze', () => {
  it('freezes objects nested in objects and arrays, leaves primitives alone', () => {
    const o = deepFreeze({ a: { b: [1, { c: 'x' }] }, n: null, s: 'y' });
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(o.a)).toBe(true);
    expect(Object.isFrozen(o.a.b)).toBe(true);
    expect(Object.isFrozen(o.a.b[1])).toBe(true);
    expect(() => {
      (o.a.b[1] as { c: string }).c = 'z';
    }).toThrow(TypeError);
  });

  it('shares an already-frozen subtree as it is and freezes the new parts around it', () => {
    const shared = deepFreeze({ image: 'busybox', env: ['A=1'] });
    const parent = deepFreeze({ spec: shared, status: { state: 'new' } });
    expect(parent.spec).toBe(shared);
    expect(Object.isFrozen(parent.status)).toBe(true);
  });
});

describe('newObjectId', () => {
  it('makes distinct 25-character base36 IDs across pool refills', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = newObjectId();
      expect(looksLikeObjectId(id)).toBe(true);
      ids.add(id);
    }
    expect(ids.size).toBe(1000);
  });
});
