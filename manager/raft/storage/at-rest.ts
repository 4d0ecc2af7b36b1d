// The raft log and snapshots encrypted at rest, as swarmkit's data key (DEK) does: every
// entry's data and every snapshot's data sealed with AES-256-GCM under a key the owner of
// the node gives (the manager derives it from its store key, which autolock locks). Each
// sealed piece is bound to where it sits (its index and term), so ciphertext cannot be
// moved to another place in the log. Metadata (indexes, terms, votes, membership
// addresses) stays in clear: it is what recovery reads before anything else.
//
//   sealed = u8 version (1) | nonce (12) | ciphertext | tag (16)

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { RaftError } from '../errors.js';

const VERSION = 1;
const OVERHEAD = 1 + 12 + 16;

export class AtRestCipher {
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new RaftError('invalid_argument', 'the raft data key must be 32 bytes');
    this.key = Buffer.from(key);
  }

  seal(plain: Uint8Array, index: number, term: number): Uint8Array {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, nonce);
    c.setAAD(position(index, term));
    const body = c.update(plain);
    const end = c.final();
    const out = Buffer.allocUnsafe(OVERHEAD + body.length + end.length);
    out[0] = VERSION;
    nonce.copy(out, 1);
    body.copy(out, 13);
    end.copy(out, 13 + body.length);
    c.getAuthTag().copy(out, out.length - 16);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /** The clear data; a 'wrong_key' error names `where` when the key does not open it. */
  open(sealed: Uint8Array, index: number, term: number, where: string): Uint8Array {
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (buf.length < OVERHEAD || buf[0] !== VERSION) {
      throw new RaftError('wrong_key', `${where} is not sealed data this version of skiff reads`);
    }
    const d = createDecipheriv('aes-256-gcm', this.key, buf.subarray(1, 13));
    d.setAAD(position(index, term));
    d.setAuthTag(buf.subarray(buf.length - 16));
    try {
      const out = Buffer.concat([d.update(buf.subarray(13, buf.length - 16)), d.final()]);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch {
      throw new RaftError(
        'wrong_key',
        `${where} does not open with this manager's raft data key: the key file and the raft directory do not belong together, or the data was altered`,
      );
    }
  }
}

function position(index: number, term: number): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64BE(BigInt(index), 0);
  b.writeBigUInt64BE(BigInt(term), 8);
  return b;
}
