// Append-only write-ahead log in segment files. Each record:
//   u32 length | u32 ~length | u32 crc32(type + payload) | u8 type | payload
// The inverted length tells a damaged length field from a write cut short by a crash.
// Every save() that carries entries, a term or a vote is fsynced before it resolves. Recovery truncates a torn last record and
// refuses, with an error that names the file and offset, damage anywhere else.

import type { FileHandle } from 'node:fs/promises';
import { chmod, mkdir, open, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { Reader, readEntry, readHardState, Writer, writeEntry, writeHardState } from '../codec.js';
import { RaftError } from '../errors.js';
import type { Entry, HardState } from '../types.js';
import { type AtRestCipher, sealedKeyId } from './at-rest.js';

const HEADER = 13;
const MAX_RECORD = 256 << 20;
const REC_ENTRY = 1;
const REC_HARDSTATE = 2;
/** An entry whose data is sealed with the data key (at-rest.ts); its index and term stay in clear. */
const REC_SEALED_ENTRY = 3;
/** Stands for entries written in clear (by a skiff before at-rest sealing) in `keysInUse`. */
export const CLEAR = -1;

export interface WalOptions {
  /** Roll to a new segment once the current one is this large. */
  segmentBytes?: number;
  /** Called when a torn tail is cut off at recovery. */
  onTornTail?: (file: string, offset: number, bytes: number) => void;
  /** Seals entries' data at rest; entries an older skiff wrote in clear are still read. */
  cipher?: AtRestCipher;
}

export interface WalContents {
  hardState: HardState | null;
  /** Contiguous entries as last written (later writes replace from their index on). */
  entries: Entry[];
}

interface Segment {
  seq: number;
  firstIndex: number;
  name: string;
  /** Which data keys (CLEAR for none) the segment's entries are sealed with. */
  keys: Set<number>;
}

const segmentName = (seq: number, firstIndex: number) =>
  `${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.wal`;

function parseSegmentName(name: string): Segment | null {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name);
  if (!m) return null;
  return { seq: Number.parseInt(m[1]!, 16), firstIndex: Number.parseInt(m[2]!, 16), name, keys: new Set() };
}

export class Wal {
  private segments: Segment[] = [];
  private fh: FileHandle | null = null;
  private size = 0;
  private lastIndex = 0;
  private hardState: HardState | null = null;
  private readonly segmentBytes: number;
  private cipher: AtRestCipher | undefined;
  /** A new data key was given: the next entries start a segment of their own. */
  private cutPending = false;

  private constructor(
    private readonly dir: string,
    opts: WalOptions,
  ) {
    this.segmentBytes = opts.segmentBytes ?? 64 << 20;
    this.cipher = opts.cipher;
  }

  static async open(dir: string, opts: WalOptions = {}): Promise<{ wal: Wal; contents: WalContents }> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const wal = new Wal(dir, opts);
    const names = (await readdir(dir)).map(parseSegmentName).filter((s): s is Segment => s !== null);
    for (const s of names) await chmod(join(dir, s.name), 0o600);
    names.sort((a, b) => a.seq - b.seq);
    wal.segments = names;
    const contents = await wal.replay(opts);
    wal.hardState = contents.hardState;
    wal.lastIndex = contents.entries.at(-1)?.index ?? 0;
    const last = wal.segments.at(-1);
    if (last) {
      wal.fh = await open(join(dir, last.name), 'a');
      wal.size = (await wal.fh.stat()).size;
    } else {
      await wal.cut();
    }
    return { wal, contents };
  }

  private async replay(opts: WalOptions): Promise<WalContents> {
    let hardState: HardState | null = null;
    let ents: Entry[] = [];
    for (let s = 0; s < this.segments.length; s++) {
      const seg = this.segments[s]!;
      const path = join(this.dir, seg.name);
      const buf = await readFile(path);
      const isLast = s === this.segments.length - 1;
      let off = 0;
      let recNo = 0;
      while (off < buf.length) {
        const problem = checkRecord(buf, off);
        if (problem) {
          if (isLast && problem !== 'corrupt') {
            await truncate(path, off);
            opts.onTornTail?.(path, off, buf.length - off);
            break;
          }
          throw new RaftError(
            'wal_corrupt',
            `WAL segment ${path} is damaged at byte ${off} (record ${recNo}): ${problem === 'corrupt' ? 'checksum or length mismatch' : 'record cut short'} in the middle of the log. ` +
              'The log after it cannot be trusted: restore this node by removing its raft data directory and re-adding it to the cluster.',
          );
        }
        const len = buf.readUInt32LE(off);
        const type = buf[off + 12]!;
        const r = new Reader(buf.subarray(off + HEADER, off + HEADER + len), `WAL record in ${path}`);
        if (type === REC_ENTRY || type === REC_SEALED_ENTRY) {
          const e = readEntry(r);
          if (type === REC_SEALED_ENTRY) {
            seg.keys.add(sealedKeyId(e.data) ?? CLEAR);
            e.data = this.openEntry(e, path);
          } else seg.keys.add(CLEAR);
          const base = ents[0]?.index ?? e.index;
          if (ents.length === 0 || e.index < base || e.index > base + ents.length) ents = [e];
          else {
            ents.length = e.index - base;
            ents.push(e);
          }
        } else if (type === REC_HARDSTATE) {
          hardState = readHardState(r);
        }
        off += HEADER + len;
        recNo++;
      }
    }
    return { hardState, entries: ents };
  }

  /** Appends the hard state and entries (replacing the log from entries[0].index on) and fsyncs. */
  async save(hs: HardState | null, entries: Entry[]): Promise<void> {
    if (!hs && entries.length === 0) return;
    if (this.size >= this.segmentBytes || (this.cutPending && entries.length > 0)) {
      this.cutPending = false;
      await this.cut(entries[0]?.index);
    }
    // Sized up front (record header + entry header per entry): growing by doubling copied
    // every batch of big entries several times.
    let size = 256;
    for (const e of entries) size += 96 + e.data.length;
    const w = new Writer(size);
    const cipher = this.cipher;
    const seg = this.segments.at(-1)!;
    if (entries.length) seg.keys.add(cipher ? cipher.currentId : CLEAR);
    for (const e of entries) {
      if (cipher) {
        const sealed = { ...e, data: cipher.seal(e.data, e.index, e.term) };
        appendRecord(w, REC_SEALED_ENTRY, (x) => writeEntry(x, sealed));
      } else appendRecord(w, REC_ENTRY, (x) => writeEntry(x, e));
    }
    if (hs) appendRecord(w, REC_HARDSTATE, (x) => writeHardState(x, hs));
    const buf = w.finish();
    const fh = this.fh!;
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await fh.write(buf, done, buf.length - done);
      done += bytesWritten;
    }
    // A commit index alone need not be durable (it is relearned from the leader); terms, votes
    // and entries must be, before anything that depends on them leaves the node.
    const prev = this.hardState;
    if (entries.length > 0 || !hs || !prev || hs.term !== prev.term || hs.vote !== prev.vote)
      await fh.datasync();
    this.size += buf.length;
    if (hs) this.hardState = hs;
    const last = entries.at(-1);
    if (last) this.lastIndex = last.index;
  }

  private openEntry(e: Entry, path: string): Uint8Array {
    const where = `WAL entry ${e.index} in ${path}`;
    if (!this.cipher) throw new RaftError('wrong_key', `${where} is encrypted and no data key was given`);
    return this.cipher.open(e.data, e.index, e.term, where);
  }

  /**
   * Seals what is written from now on with `cipher`'s current key, in a new segment so
   * that the segments sealed with the old one go as soon as a snapshot covers them.
   */
  rekey(cipher: AtRestCipher): void {
    this.cipher = cipher;
    this.cutPending = true;
  }

  /** The data keys (CLEAR for entries in clear) that the segments on disk hold entries sealed with. */
  keysInUse(): Set<number> {
    const out = new Set<number>();
    for (const s of this.segments) for (const k of s.keys) out.add(k);
    return out;
  }

  /** Drops whole segments that only hold entries at or below `index` (covered by a snapshot). */
  async releaseTo(index: number): Promise<void> {
    // The segment being written holds only covered entries, some under a key that is no
    // longer current: start a fresh one so that this one can go too.
    const last = this.segments.at(-1);
    const current = this.cipher ? this.cipher.currentId : CLEAR;
    if (last && this.lastIndex <= index && [...last.keys].some((k) => k !== current)) {
      this.cutPending = false;
      await this.cut();
    }
    let removed = false;
    while (this.segments.length > 1 && this.segments[1]!.firstIndex - 1 <= index) {
      const old = this.segments.shift()!;
      await rm(join(this.dir, old.name), { force: true });
      removed = true;
    }
    // Durably gone before the owner forgets a data key they were sealed with (keysInUse).
    if (removed) await this.syncDir();
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = null;
  }

  segmentCount(): number {
    return this.segments.length;
  }

  private async cut(firstIndex = this.lastIndex + 1): Promise<void> {
    await this.fh?.close();
    const seq = (this.segments.at(-1)?.seq ?? 0) + 1;
    const seg: Segment = { seq, firstIndex, name: segmentName(seq, firstIndex), keys: new Set() };
    this.fh = await open(join(this.dir, seg.name), 'a', 0o600);
    this.segments.push(seg);
    this.size = 0;
    // Every segment starts with the hard state so older segments can be dropped.
    if (this.hardState) {
      const w = new Writer();
      const hs = this.hardState;
      appendRecord(w, REC_HARDSTATE, (x) => writeHardState(x, hs));
      await this.fh.write(w.finish());
      this.size = w.length;
    }
    await this.fh.datasync();
    await this.syncDir();
  }

  private async syncDir(): Promise<void> {
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

function appendRecord(w: Writer, type: number, body: (w: Writer) => void): void {
  const lenAt = w.reserve32();
  const invAt = w.reserve32();
  const crcAt = w.reserve32();
  const start = w.length;
  w.u8(type);
  body(w);
  const len = w.length - start - 1;
  w.patch32(lenAt, len);
  w.patch32(invAt, ~len);
  w.patch32(crcAt, crc32(w.view(start, w.length)));
}

/** null when the record at `off` is sound; 'torn' when it runs past the end of the file. */
function checkRecord(buf: Buffer, off: number): 'torn' | 'corrupt' | null {
  const rest = buf.length - off;
  if (rest < HEADER) return 'torn';
  const len = buf.readUInt32LE(off);
  if (~buf.readUInt32LE(off + 4) >>> 0 !== len || len > MAX_RECORD)
    return allZero(buf, off) ? 'torn' : 'corrupt';
  if (HEADER + len > rest) return 'torn';
  const crc = buf.readUInt32LE(off + 8);
  if (crc32(buf.subarray(off + 12, off + HEADER + len)) !== crc) {
    // A bad checksum on the very last record is a write the crash interrupted.
    return off + HEADER + len === buf.length ? 'torn' : 'corrupt';
  }
  return null;
}

function allZero(buf: Buffer, off: number): boolean {
  for (let i = off; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
