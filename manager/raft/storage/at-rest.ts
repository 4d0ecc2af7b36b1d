// The raft log and snapshots encrypted at rest, as swarmkit's data key (DEK) does: every
// entry's data and every snapshot's data sealed with AES-256-GCM under a key the owner of
// the node gives. Each sealed piece is bound to where it sits (its index and term), so
// ciphertext cannot be moved to another place in the log. Metadata (indexes, terms, votes,
// membership addresses) stays in clear: it is what recovery reads before anything else.
//
// Keys carry an ID written in clear in each record, so a rotated key and its predecessor
// can both open the directory until the next snapshot has replaced everything the old one
// sealed (DiskStorage.keysInUse tells when). ID 0 is the key of the first format, whose
// records carry no ID:
//
//   v1 (key 0)  = u8 1 | nonce (12) | ciphertext | tag (16)          aad: index, term
//   v2 (key ≥1) = u8 2 | u32 key ID | nonce (12) | ciphertext | tag  aad: index, term, key ID

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { RaftError } from '../errors.js';

/** A data key and its ID (0: the key of records without an ID). */
export interface DataKey {
  id: number;
  key: Uint8Array;
}

/** The key new data is sealed with, and older ones still needed to open what is on disk. */
export interface DataKeyRing {
  current: DataKey;
  previous?: DataKey[];
}

const V1 = 1;
const V2 = 2;
const TAG = 16;
const NONCE = 12;
const MAX_ID = 0xffff_ffff;

export class AtRestCipher {
  private readonly keys = new Map<number, Buffer>();
  /** The ID of the key new data is sealed with. */
  readonly currentId: number;

  /** A bare key is key 0 (the first format); a ring names its keys. */
  constructor(keys: Uint8Array | DataKeyRing) {
    const ring: DataKeyRing = keys instanceof Uint8Array ? { current: { id: 0, key: keys } } : keys;
    for (const k of [ring.current, ...(ring.previous ?? [])]) {
      if (k.key.length !== 32) throw new RaftError('invalid_argument', 'a raft data key must be 32 bytes');
      if (!Number.isInteger(k.id) || k.id < 0 || k.id > MAX_ID)
        throw new RaftError('invalid_argument', `raft data key ID ${k.id} is not a u32`);
      this.keys.set(k.id, Buffer.from(k.key));
    }
    this.currentId = ring.current.id;
  }

  seal(plain: Uint8Array, index: number, term: number): Uint8Array {
    const id = this.currentId;
    const head = id === 0 ? 1 : 5;
    const nonce = randomBytes(NONCE);
    const c = createCipheriv('aes-256-gcm', this.keys.get(id)!, nonce);
    c.setAAD(aad(index, term, id));
    const body = c.update(plain);
    const end = c.final();
    const out = Buffer.allocUnsafe(head + NONCE + body.length + end.length + TAG);
    out[0] = id === 0 ? V1 : V2;
    if (id !== 0) out.writeUInt32BE(id, 1);
    nonce.copy(out, head);
    body.copy(out, head + NONCE);
    end.copy(out, head + NONCE + body.length);
    c.getAuthTag().copy(out, out.length - TAG);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /** The clear data; a 'wrong_key' error names `where` when no key given opens it. */
  open(sealed: Uint8Array, index: number, term: number, where: string): Uint8Array {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const id = sealedKeyId(sealed);
    if (id === undefined) {
      throw new RaftError('wrong_key', `${where} is not sealed data this version of skiff reads`);
    }
    const key = this.keys.get(id);
    if (!key) {
      throw new RaftError(
        'wrong_key',
        `${where} is sealed with raft data key ${id}, which this manager no longer holds (it holds ${[...this.keys.keys()].join(', ')})`,
      );
    }
    const head = id === 0 ? 1 : 5;
    const d = createDecipheriv('aes-256-gcm', key, buf.subarray(head, head + NONCE));
    d.setAAD(aad(index, term, id));
    d.setAuthTag(buf.subarray(buf.length - TAG));
    try {
      const out = Buffer.concat([d.update(buf.subarray(head + NONCE, buf.length - TAG)), d.final()]);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch {
      throw new RaftError(
        'wrong_key',
        `${where} does not open with this manager's raft data key: the key file and the raft directory do not belong together, or the data was altered`,
      );
    }
  }
}

/** The ID of the key `sealed` was sealed with (0 for the first format), or undefined when it is not sealed data. */
export function sealedKeyId(sealed: Uint8Array): number | undefined {
  if (sealed.length >= 1 + NONCE + TAG && sealed[0] === V1) return 0;
  if (sealed.length >= 5 + NONCE + TAG && sealed[0] === V2) {
    return Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).readUInt32BE(1);
  }
  return undefined;
}

function aad(index: number, term: number, id: number): Buffer {
  const b = Buffer.allocUnsafe(id === 0 ? 16 : 20);
  b.writeBigUInt64BE(BigInt(index), 0);
  b.writeBigUInt64BE(BigInt(term), 8);
  if (id !== 0) b.writeUInt32BE(id, 16);
  return b;
}
