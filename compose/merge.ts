// The spec's merge rules for several compose files (and for `extends`): mappings merge
// key by key, sequences append, command/entrypoint/healthcheck.test are replaced,
// ports/volumes/secrets/configs/devices merge by their unique key, and the `!reset` /
// `!override` tags of the overriding file remove or replace a value. Works on long-form data.

import type { PosNode } from './positions.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

const REPLACED = new Set(['command', 'entrypoint', 'test']);

/** Merges `over` onto `base`; `pos` is the overriding file's position node (for tags). */
export function mergeValues(
  base: unknown,
  over: unknown,
  pos: PosNode | undefined,
  path: readonly string[],
): unknown {
  return merge(base, over, pos, path[0] ?? '', path.length, path[path.length - 1] ?? '');
}

/** `top` is the first path segment, `depth` the path length and `field` its last segment. */
function merge(
  base: unknown,
  over: unknown,
  pos: PosNode | undefined,
  top: string,
  depth: number,
  field: string,
): unknown {
  if (pos?.tag === 'override') return over;
  if (over === undefined || (over === null && base !== undefined)) return base;
  if (isObj(base) && isObj(over)) {
    const out: Obj = { ...base };
    for (const [k, v] of Object.entries(over)) {
      out[k] = merge(base[k], v, pos?.keys?.get(k), depth === 0 ? k : top, depth + 1, k);
    }
    if (pos?.keys) for (const [k, p] of pos.keys) if (p.tag === 'reset') delete out[k];
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) {
    const inService = top === 'services' && depth >= 3;
    if (inService && REPLACED.has(field)) return over;
    if (inService && depth === 3) {
      if (field === 'ports') return mergeByKey(base, over, portKey);
      if (field === 'volumes' || field === 'devices') return mergeByKey(base, over, targetKey);
      if (field === 'secrets' || field === 'configs') return mergeByKey(base, over, fileRefKey);
    }
    return appendUnique(base, over);
  }
  return over;
}

/** Removes values tagged `!reset` from a freshly parsed file (they only act in a merge). */
export function stripResets(v: unknown, pos: PosNode | undefined): unknown {
  if (!pos) return v;
  if (isObj(v) && pos.keys) {
    let out: Obj | undefined;
    for (const [k, p] of pos.keys) {
      if (p.tag === 'reset') {
        out ??= { ...v };
        delete out[k];
      } else if (p.keys || p.items) {
        const child = stripResets(v[k], p);
        if (child !== v[k]) {
          out ??= { ...v };
          out[k] = child;
        }
      }
    }
    return out ?? v;
  }
  if (Array.isArray(v) && pos.items) {
    if (!pos.items.some((p) => p.tag === 'reset' || p.keys || p.items)) return v;
    const out: unknown[] = [];
    v.forEach((item, i) => {
      const p = pos.items?.[i];
      if (p?.tag !== 'reset') out.push(stripResets(item, p));
    });
    return out;
  }
  return v;
}

function portKey(p: unknown): string {
  const o = isObj(p) ? p : {};
  return `${o.host_ip ?? ''}|${o.target ?? ''}|${o.published ?? ''}|${o.protocol ?? 'tcp'}`;
}
function targetKey(v: unknown): string {
  return isObj(v) ? String(v.target ?? v.source ?? '') : JSON.stringify(v);
}
function fileRefKey(v: unknown): string {
  return isObj(v) ? String(v.target ?? v.source ?? '') : String(v);
}

function mergeByKey(base: unknown[], over: unknown[], key: (v: unknown) => string): unknown[] {
  const out = [...base];
  const index = new Map<string, number>();
  out.forEach((v, i) => {
    index.set(key(v), i);
  });
  for (const v of over) {
    const k = key(v);
    const at = index.get(k);
    if (at === undefined) {
      index.set(k, out.length);
      out.push(v);
    } else out[at] = v;
  }
  return out;
}

function appendUnique(base: unknown[], over: unknown[]): unknown[] {
  const seen = new Set(base.map((v) => JSON.stringify(v)));
  const out = [...base];
  for (const v of over) {
    const k = JSON.stringify(v);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(v);
    }
  }
  return out;
}
