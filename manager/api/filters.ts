import type { Labels } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';

/** Docker's `filters` query parameter: `{"key":{"value":true}}` or the older `{"key":["value"]}`. */
export type Filters = Map<string, string[]>;

/**
 * Parses `filters`, refusing keys the endpoint does not know (as dockerd does), and those
 * dockerd knows but skiff cannot answer yet (`notYet`) by name.
 */
export function parseFilters(
  raw: unknown,
  allowed: readonly string[],
  notYet: readonly string[] = [],
): Filters {
  const out: Filters = new Map();
  if (raw === undefined || raw === '') return out;
  if (typeof raw !== 'string')
    throw new SkiffError('invalid_argument', 'filters must be given once, as a JSON object');
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new SkiffError('invalid_argument', `invalid filters: not JSON: ${raw.slice(0, 100)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new SkiffError('invalid_argument', 'invalid filters: expected a JSON object of filter names');
  }
  for (const [key, val] of Object.entries(v)) {
    if (notYet.includes(key)) {
      throw new SkiffError('invalid_argument', `filter '${key}' is not supported by skiff yet`, {
        hint: `this endpoint filters by ${allowed.join(', ')}`,
      });
    }
    if (!allowed.includes(key)) {
      throw new SkiffError('invalid_argument', `invalid filter '${key}'`, {
        hint: `this endpoint filters by ${allowed.join(', ')}`,
      });
    }
    let values: unknown[];
    if (Array.isArray(val)) values = val;
    else if (typeof val === 'object' && val !== null)
      values = Object.entries(val)
        .filter(([, on]) => on === true)
        .map(([k]) => k);
    else
      throw new SkiffError('invalid_argument', `invalid filter '${key}': expected a map or a list of values`);
    if (values.some((x) => typeof x !== 'string')) {
      throw new SkiffError('invalid_argument', `invalid filter '${key}': values must be strings`);
    }
    out.set(key, values as string[]);
  }
  return out;
}

/** True when the filter is absent or any of its values passes `test`. */
export function anyOf(f: Filters, key: string, test: (v: string) => boolean): boolean {
  const vs = f.get(key);
  return vs === undefined || vs.length === 0 || vs.some(test);
}

/** `label=key` or `label=key=value`: every given label filter must match. */
export function labelsMatch(f: Filters, key: string, labels: Labels | undefined): boolean {
  const vs = f.get(key);
  if (!vs) return true;
  return vs.every((want) => {
    const eq = want.indexOf('=');
    if (eq < 0) return labels !== undefined && Object.hasOwn(labels, want);
    return labels?.[want.slice(0, eq)] === want.slice(eq + 1);
  });
}
