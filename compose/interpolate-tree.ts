// Applies interpolation to every string value of a parsed file (keys stay as written).

import { interpolate, type Lookup } from './interpolate.js';
import type { PathSegment } from './positions.js';

export interface TreeInterpolation {
  value: unknown;
  errors: { path: PathSegment[]; message: string }[];
  unset: { path: PathSegment[]; name: string }[];
}

/** Aliases can make a small file expand to a huge tree ("billion laughs"); stop well before that. */
export const MAX_VALUES = 1_000_000;

export function interpolateTree(root: unknown, lookup: Lookup): TreeInterpolation {
  const res: TreeInterpolation = { value: undefined, errors: [], unset: [] };
  const path: PathSegment[] = [];
  let visited = 0;
  const walk = (v: unknown): unknown => {
    if (++visited > MAX_VALUES) {
      if (visited === MAX_VALUES + 1) {
        res.errors.push({
          path: [],
          message: `the file expands to more than ${MAX_VALUES} values (through aliases); it is not a compose file we will read`,
        });
      }
      return null;
    }
    if (typeof v === 'string') {
      if (!v.includes('$')) return v;
      const r = interpolate(v, lookup);
      for (const e of r.errors) res.errors.push({ path: [...path], message: e });
      for (const n of r.unset) res.unset.push({ path: [...path], name: n });
      return r.value;
    }
    // Copy on write: aliased nodes are shared, so they must never be changed in place.
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        const x = walk(v[i]);
        path.pop();
        if (x !== v[i]) {
          out ??= v.slice();
          out[i] = x;
        }
      }
      return out ?? v;
    }
    if (v !== null && typeof v === 'object') {
      let out: Record<string, unknown> | undefined;
      const obj = v as Record<string, unknown>;
      for (const k in obj) {
        path.push(k);
        const x = walk(obj[k]);
        path.pop();
        if (x !== obj[k]) {
          out ??= { ...obj };
          out[k] = x;
        }
      }
      return out ?? v;
    }
    return v;
  };
  res.value = walk(root);
  return res;
}
