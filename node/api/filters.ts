// Docker's query conventions: the `filters` parameter and boolean flags.
import { SkiffError } from '../../lib/index.js';

/** Values of one key of Docker's `filters` query parameter (JSON: `{"label":["a=b"]}`, or a map of values to true). */
export function filterValues(query: unknown, key: string): string[] {
  const raw = (query as { filters?: unknown }).filters;
  if (typeof raw !== 'string' || raw === '') return [];
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new SkiffError('invalid_argument', 'filters is not valid JSON');
  }
  const v = doc[key];
  if (Array.isArray(v)) return v.map(String);
  if (v && typeof v === 'object') return Object.keys(v).filter((k) => (v as Record<string, unknown>)[k]);
  return [];
}

/** A Docker boolean query flag: `1` or `true`. */
export function isTrue(v: unknown): boolean {
  return v === 'true' || v === '1' || v === true;
}
