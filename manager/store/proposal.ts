import { SkiffError } from '../../lib/index.js';
import { STORE_FORMAT, storeFormatOf } from './format.js';
import { isTableName, type StoredObject, type TableName } from './tables.js';

/** One change inside a proposal. `update` carries the version the proposer read; apply rejects a stale one. */
export type Op =
  | { op: 'create'; table: TableName; object: StoredObject; sealedData?: string }
  | { op: 'update'; table: TableName; object: StoredObject }
  | PatchOp
  | { op: 'delete'; table: TableName; id: string; version?: number };

/**
 * An update sent as its difference from the version it was based on: the top-level fields
 * that changed (`set`) or went (`unset`). Apply accepts it only at exactly `version`, so
 * every manager rebuilds the same object from the same base; the unchanged fields (a
 * task's Spec, most of all) neither travel through the log nor get decoded and frozen again.
 */
export interface PatchOp {
  op: 'patch';
  table: TableName;
  id: string;
  version: number;
  set: Record<string, unknown>;
  unset?: string[];
}

/**
 * The op as it goes into the log: an update of an object whose base version is `base`
 * becomes a patch. Changed fields are found by identity (writers spread the object they
 * read and replace what they change), so an unchanged field costs one comparison.
 */
export function wireOp(op: Op, base: StoredObject | undefined): Op {
  if (op.op !== 'update' || !base || base.Version.Index !== op.object.Version?.Index) return op;
  const next = op.object as unknown as Record<string, unknown>;
  const prev = base as unknown as Record<string, unknown>;
  const set: Record<string, unknown> = {};
  const unset: string[] = [];
  for (const k of Object.keys(next)) {
    if (k === 'Version' || k === 'ID') continue;
    const v = next[k];
    if (v === undefined) {
      if (prev[k] !== undefined) unset.push(k);
    } else if (v !== prev[k]) set[k] = v;
  }
  for (const k of Object.keys(prev)) if (!(k in next) && prev[k] !== undefined) unset.push(k);
  const patch: PatchOp = { op: 'patch', table: op.table, id: base.ID, version: base.Version.Index, set };
  if (unset.length > 0) patch.unset = unset;
  return patch;
}

/**
 * The object a patch makes of its base (the caller checked the base is at `version`), in
 * one copy: fields keep their base order, new ones go last, and nothing is `delete`d
 * (which would leave V8 a slow dictionary-mode object).
 */
export function applyPatch(base: StoredObject, p: PatchOp): StoredObject {
  const from = base as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const unset = p.unset;
  for (const k in from) {
    if (unset?.includes(k)) continue;
    out[k] = Object.hasOwn(p.set, k) ? p.set[k] : from[k];
  }
  for (const k in p.set) if (!Object.hasOwn(from, k)) out[k] = p.set[k];
  return out as unknown as StoredObject;
}

/** What goes through the replicated log: a batch of ops applied all-or-nothing. */
export interface Proposal {
  v: typeof STORE_FORMAT;
  /** Random ID so the proposer can find the outcome of its own proposal. */
  id: string;
  ops: Op[];
}

const utf8 = new TextDecoder();
const utf8Out = new TextEncoder();

export function encodeProposal(p: Proposal): Uint8Array {
  return utf8Out.encode(JSON.stringify(p));
}

const ID_PREFIX = utf8Out.encode(`{"v":${STORE_FORMAT},"id":"`);
const ID_LENGTH = 25;

/** The proposal ID of encoded proposal bytes, read without parsing them (encodeProposal writes it first). */
export function proposalIdOf(data: Uint8Array): string | undefined {
  const end = ID_PREFIX.length + ID_LENGTH;
  if (data.length <= end || data[end] !== 0x22) return undefined;
  for (let i = 0; i < ID_PREFIX.length; i++) if (data[i] !== ID_PREFIX[i]) return undefined;
  return utf8.decode(data.subarray(ID_PREFIX.length, end));
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/**
 * Decodes log entry data; throws a `corrupt` SkiffError for anything that is not a
 * well-formed proposal, a StoreFormatError for one of a newer format.
 */
export function decodeProposal(data: Uint8Array, index?: number): Proposal {
  let raw: unknown;
  try {
    raw = JSON.parse(utf8.decode(data));
  } catch {
    throw new SkiffError('corrupt', 'store proposal is not valid JSON');
  }
  if (!isRecord(raw)) throw new SkiffError('corrupt', 'store proposal is not an object');
  storeFormatOf(raw, index === undefined ? 'a store log entry' : `store log entry ${index}`);
  if (typeof raw.id !== 'string' || !Array.isArray(raw.ops)) {
    throw new SkiffError('corrupt', 'store proposal lacks id/ops');
  }
  const ops: Op[] = [];
  for (const o of raw.ops) {
    if (!isRecord(o) || !isTableName(o.table))
      throw new SkiffError('corrupt', 'store proposal has an op without a table');
    if (o.op === 'create' || o.op === 'update') {
      if (!isRecord(o.object) || typeof o.object.ID !== 'string' || !isRecord(o.object.Version)) {
        throw new SkiffError('corrupt', `store proposal has a ${o.op} without an object ID and Version`);
      }
      if (o.op === 'create') {
        const sealed = o.sealedData;
        if (sealed !== undefined && typeof sealed !== 'string')
          throw new SkiffError('corrupt', 'sealedData must be a string');
        ops.push({
          op: 'create',
          table: o.table,
          object: o.object as unknown as StoredObject,
          ...(sealed === undefined ? {} : { sealedData: sealed }),
        });
      } else {
        ops.push({ op: 'update', table: o.table, object: o.object as unknown as StoredObject });
      }
    } else if (o.op === 'patch') {
      if (typeof o.id !== 'string' || typeof o.version !== 'number' || !isRecord(o.set))
        throw new SkiffError('corrupt', 'store proposal has a patch without id, version or set');
      const unset = o.unset;
      if (unset !== undefined && (!Array.isArray(unset) || unset.some((k) => typeof k !== 'string')))
        throw new SkiffError('corrupt', 'patch unset must be a list of field names');
      if ('ID' in o.set || 'Version' in o.set || (unset as string[] | undefined)?.includes('ID'))
        throw new SkiffError('corrupt', 'a patch cannot change an object ID or Version');
      ops.push({
        op: 'patch',
        table: o.table,
        id: o.id,
        version: o.version,
        set: o.set,
        ...(unset === undefined ? {} : { unset: unset as string[] }),
      });
    } else if (o.op === 'delete') {
      if (typeof o.id !== 'string')
        throw new SkiffError('corrupt', 'store proposal has a delete without an ID');
      if (o.version !== undefined && typeof o.version !== 'number')
        throw new SkiffError('corrupt', 'delete version must be a number');
      ops.push({
        op: 'delete',
        table: o.table,
        id: o.id,
        ...(o.version === undefined ? {} : { version: o.version }),
      });
    } else {
      throw new SkiffError('corrupt', 'store proposal has an unknown op');
    }
  }
  return { v: STORE_FORMAT, id: raw.id, ops };
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
