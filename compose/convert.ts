// Typed conversion of interpolated values ("3" → 3, "true" → true, "1m30s" → ns,
// "512m" → bytes), reporting a problem at the value's path instead of throwing.

import { parseDurationNs } from '../lib/index.js';
import type { PathSegment } from './positions.js';
import type { Diagnostics } from './sources.js';
import { parseSize } from './units.js';

export class Converter {
  constructor(private readonly diag: Diagnostics) {}

  int(v: unknown, path: PathSegment[], min?: number): number | undefined {
    if (v === undefined || v === null) return undefined;
    const n =
      typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n)) return this.fail(path, `"${String(v)}" is not a whole number`);
    if (min !== undefined && n < min) return this.fail(path, `must be at least ${min}, not ${n}`);
    return n;
  }

  num(v: unknown, path: PathSegment[]): number | undefined {
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
    if (!Number.isFinite(n)) return this.fail(path, `"${String(v)}" is not a number`);
    return n;
  }

  bool(v: unknown, path: PathSegment[]): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'boolean') return v;
    const s = String(v).toLowerCase();
    if (s === 'true' || s === '1' || s === 'yes') return true;
    if (s === 'false' || s === '0' || s === 'no') return false;
    return this.fail(path, `"${String(v)}" is not true or false`);
  }

  duration(v: unknown, path: PathSegment[]): number | undefined {
    if (v === undefined || v === null) return undefined;
    const ns = typeof v === 'number' ? v * 1e9 : parseDurationNs(String(v));
    if (ns === undefined) return this.fail(path, `"${String(v)}" is not a duration (e.g. 30s, 1m30s, 500ms)`);
    return ns;
  }

  size(v: unknown, path: PathSegment[], allowMinusOne = false): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (allowMinusOne && (v === -1 || v === '-1')) return -1;
    const b = parseSize(v);
    if (b === undefined) return this.fail(path, `"${String(v)}" is not a size (e.g. 512m, 1g, 1024)`);
    return b;
  }

  oneOf<T extends string>(v: unknown, allowed: readonly T[], path: PathSegment[]): T | undefined {
    if (v === undefined || v === null) return undefined;
    if ((allowed as readonly string[]).includes(String(v))) return String(v) as T;
    return this.fail(path, `"${String(v)}" must be one of ${allowed.join(', ')}`);
  }

  error(path: PathSegment[], message: string): void {
    this.diag.error(path, message);
  }

  private fail(path: PathSegment[], message: string): undefined {
    this.diag.error(path, message);
    return undefined;
  }
}
