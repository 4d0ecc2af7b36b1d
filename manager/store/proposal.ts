import { SkiffError } from '../../lib/index.js';
import { isTableName, type StoredObject, type TableName } from './tables.js';

/** One change inside a proposal. `update` carries the version the proposer read; apply rejects a stale one. */
export type Op =
  | { op: 'create'; table: TableName; object: StoredObject; sealedData?: string }
  | { op: 'update'; table: TableName; object: StoredObject }
  | { op: 'delete'; table: TableName; id: string; version?: number };

/** What goes through the replicated log: a batch of ops applied all-or-nothing. */
export interface Proposal {
  v: 1;
  /** Random ID so the proposer can find the outcome of its own proposal. */
  id: string;
  ops: Op[];
}

const utf8 = new TextDecoder();
const utf8Out = new TextEncoder();

export function encodeProposal(p: Proposal): Uint8Array {
  return utf8Out.encode(JSON.stringify(p));
}

/** Decodes log entry data; throws a `corrupt` SkiffError for anything that is not a well-formed proposal. */
export function decodeProposal(data: Uint8Array): Proposal {
  let raw: unknown;
  try {
    raw = JSON.parse(utf8.decode(data));
  } catch {
    throw new SkiffError('corrupt', 'store proposal is not valid JSON');
  }
  if (!isRecord(raw) || raw.v !== 1 || typeof raw.id !== 'string' || !Array.isArray(raw.ops)) {
    throw new SkiffError('corrupt', 'store proposal lacks v/id/ops');
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
  return { v: 1, id: raw.id, ops };
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
