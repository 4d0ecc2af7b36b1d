import { SkiffError } from '../../../lib/index.js';

export type Query = Record<string, unknown>;

export function queryOf(req: { query: unknown }): Query {
  return (typeof req.query === 'object' && req.query !== null ? req.query : {}) as Query;
}

export function paramOf(req: { params: unknown }, name: string): string {
  const v = (req.params as Record<string, unknown> | undefined)?.[name];
  if (typeof v !== 'string' || v === '')
    throw new SkiffError('invalid_argument', `missing ${name} in the path`);
  return v;
}

/** The `?version=` an update must carry: the object version the client read. */
export function versionParam(q: Query): number {
  const raw = q.version;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) {
    throw new SkiffError(
      'invalid_argument',
      'invalid or missing version: pass ?version= with the object version you read (Version.Index)',
    );
  }
  return Number(raw);
}

export function boolParam(q: Query, name: string): boolean {
  const raw = q[name];
  if (raw === undefined) return false;
  if (raw === '1' || raw === 'true' || raw === 'True') return true;
  if (raw === '0' || raw === 'false' || raw === 'False' || raw === '') return false;
  throw new SkiffError('invalid_argument', `invalid boolean for ${name}: ${String(raw).slice(0, 40)}`);
}
