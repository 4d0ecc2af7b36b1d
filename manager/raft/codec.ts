// Compact binary encoding for entries, hard state, snapshots metadata and messages: used by
// the WAL and the transport. Numbers are unsigned up to 2^53 (two 32-bit halves).

import { RaftError } from './errors.js';
import type { ConfState, Entry, HardState, Message, MessageType, SnapshotMeta } from './types.js';

const MESSAGE_TYPES: MessageType[] = [
  'prevote',
  'prevoteResp',
  'vote',
  'voteResp',
  'app',
  'appResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'readIndex',
  'readIndexResp',
  'timeoutNow',
];
const TYPE_CODE = new Map(MESSAGE_TYPES.map((t, i) => [t, i]));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  num(v: number): void {
    this.u32(v % 4294967296);
    this.u32(Math.floor(v / 4294967296));
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  str(s: string): void {
    this.bytes(encoder.encode(s));
  }

  /** Reserves 4 bytes to patch later (lengths, checksums); returns the offset. */
  reserve32(): number {
    this.ensure(4);
    this.pos += 4;
    return this.pos - 4;
  }

  patch32(at: number, v: number): void {
    this.buf.writeUInt32LE(v >>> 0, at);
  }

  get length(): number {
    return this.pos;
  }

  view(from = 0, to = this.pos): Buffer {
    return this.buf.subarray(from, to);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export class Reader {
  pos = 0;
  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RaftError('invalid_argument', `${this.what} is truncated`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 16777216;
  }

  num(): number {
    const lo = this.u32();
    return lo + this.u32() * 4294967296;
  }

  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  str(): string {
    return decoder.decode(this.bytes());
  }

  done(): boolean {
    return this.pos >= this.buf.length;
  }
}

export function writeEntry(w: Writer, e: Entry): void {
  w.num(e.index);
  w.num(e.term);
  w.u8(e.type === 'conf' ? 1 : 0);
  w.bytes(e.data);
}

/**
 * `copy: false` keeps the entry's data as a view into the source buffer: only for a buffer
 * nobody reuses and that is mostly entries anyway (one transport frame). A WAL segment
 * read whole is copied out of, so a few live entries do not pin the segment.
 */
export function readEntry(r: Reader, copy = true): Entry {
  const index = r.num();
  const term = r.num();
  const type = r.u8() === 1 ? 'conf' : 'normal';
  const b = r.bytes();
  // A plain Uint8Array either way (a subarray of a Buffer would be a Buffer).
  const data = copy ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return { index, term, type, data };
}

export function writeHardState(w: Writer, hs: HardState): void {
  w.num(hs.term);
  w.str(hs.vote);
  w.num(hs.commit);
}

export function readHardState(r: Reader): HardState {
  return { term: r.num(), vote: r.str(), commit: r.num() };
}

export function encodeSnapshotMeta(meta: SnapshotMeta): Uint8Array {
  return encoder.encode(JSON.stringify(meta));
}

export function decodeSnapshotMeta(b: Uint8Array): SnapshotMeta {
  const v = JSON.parse(decoder.decode(b)) as Partial<SnapshotMeta>;
  const conf = v.conf as Partial<ConfState> | undefined;
  if (
    typeof v.index !== 'number' ||
    typeof v.term !== 'number' ||
    !conf ||
    !Array.isArray(conf.voters) ||
    !Array.isArray(conf.learners) ||
    typeof conf.addrs !== 'object'
  ) {
    throw new RaftError('invalid_argument', 'snapshot metadata is malformed');
  }
  return {
    index: v.index,
    term: v.term,
    conf: { voters: conf.voters, learners: conf.learners, addrs: conf.addrs ?? {} },
  };
}

/** Messages other than 'snap' (snapshots travel chunked on their own stream). */
export function writeMessage(w: Writer, m: Message): void {
  const code = TYPE_CODE.get(m.type);
  if (code === undefined || m.type === 'snap')
    throw new RaftError('invalid_argument', `message type ${m.type} is not sent this way`);
  w.u8(code);
  w.str(m.from);
  w.str(m.to);
  w.num(m.term);
  w.num(m.logTerm ?? 0);
  w.num(m.index ?? 0);
  w.num(m.commit ?? 0);
  w.u8(m.reject ? 1 : 0);
  w.num(m.hintIndex ?? 0);
  w.num(m.hintTerm ?? 0);
  w.str(m.context ?? '');
  const ents = m.entries ?? [];
  w.u32(ents.length);
  for (const e of ents) writeEntry(w, e);
}

/** `copyEntries`: see readEntry. */
export function readMessage(r: Reader, copyEntries = true): Message {
  const type = MESSAGE_TYPES[r.u8()];
  if (!type) throw new RaftError('invalid_argument', 'raft message has an unknown type');
  const m: Message = { type, from: r.str(), to: r.str(), term: r.num() };
  const logTerm = r.num();
  const index = r.num();
  const commit = r.num();
  const reject = r.u8() === 1;
  const hintIndex = r.num();
  const hintTerm = r.num();
  const context = r.str();
  const n = r.u32();
  if (logTerm) m.logTerm = logTerm;
  if (index) m.index = index;
  if (commit) m.commit = commit;
  if (reject) {
    // Hints of 0 are meaningful on a rejection ("nothing matches").
    m.reject = true;
    m.hintIndex = hintIndex;
    m.hintTerm = hintTerm;
  }
  if (context) m.context = context;
  if (n > 0 || type === 'app') {
    const entries: Entry[] = new Array(n);
    for (let i = 0; i < n; i++) entries[i] = readEntry(r, copyEntries);
    m.entries = entries;
  }
  return m;
}
