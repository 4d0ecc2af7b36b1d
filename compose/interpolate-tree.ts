// Applies interpolation to every string value of a parsed file (keys stay as written).

import { interpolate, type Lookup } from './interpolate.js';
import type { PathSegment } from './positions.js';

export interface TreeInterpolation {
  value: unknown;
  errors: { path: PathSegment[]; message: string }[];
  unset: { path: PathSegment[]; name: string }[];
}

export function interpolateTree(root: unknown, lookup: Lookup): TreeInterpolation {
  const res: TreeInterpolation = { value: undefined, errors: [], unset: [] };
  const path: PathSegment[] = [];
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('$')) return v;
      const r = interpolate(v, lookup);
      for (const e of r.errors) res.errors.push({ path: [...path], message: e });
      for (const n of r.unset) res.unset.push({ path: [...path], name: n });
      return r.value;
    }
    if (Array.isArray(v)) {
      const out = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        out[i] = walk(v[i]);
        path.pop();
      }
      return out;
    }
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(v)) {
        path.push(k);
        out[k] = walk(val);
        path.pop();
      }
      return out;
    }
    return v;
  };
  res.value = walk(root);
  return res;
}
