// What a Docker request body asks that skiff does not honour is refused by name; clients
// send many fields at their zero value, which mean "not asked" and pass.
import { SkiffError } from '../../lib/index.js';

/** Not asked: null, false, 0, '', or arrays and objects of nothing but such values. */
export function isUnset(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.every(isUnset);
  if (typeof v === 'object') return Object.values(v as Record<string, unknown>).every(isUnset);
  return false;
}

/** Throws `field` `why` (by default: is not supported by skiff yet) as a bad argument. */
export type Refuse = (field: string, why?: string) => never;

/** A Refuse whose errors carry `hint`. */
export function refuser(hint: string): Refuse {
  return (field, why = 'is not supported by skiff yet') => {
    throw new SkiffError('invalid_argument', `${field} ${why}`, { hint });
  };
}
