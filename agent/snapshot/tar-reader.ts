// A streaming tar reader (ustar, GNU long names, PAX with SCHILY xattrs). Written here
// rather than taken from npm `tar`, whose parser drops xattr records that layers need.
// Header decoding is pure; `readTar` drives a handler and waits on it (backpressure).
import { SkiffError } from '../../lib/index.js';

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo';

export interface TarEntry {
  /** Path as stored in the archive (not yet checked or cleaned). */
  path: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkpath: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, Buffer>;
}

export interface TarHandler {
  entry(entry: TarEntry): Promise<void> | void;
  /** Body bytes of the current entry (files only). */
  data(chunk: Buffer): Promise<void> | void;
  /** The current entry's body is complete. */
  end(): Promise<void> | void;
}

const BLOCK = 512;

function corrupt(why: string): SkiffError {
  return new SkiffError('corrupt', `layer is not a valid tar archive: ${why}`);
}

function cstring(block: Buffer, start: number, len: number): string {
  const end = block.indexOf(0, start);
  return block.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

/** Octal (space/NUL padded) or GNU base-256 numbers. */
export function parseNumber(block: Buffer, start: number, len: number): number {
  const first = block[start]!;
  if (first & 0x80) {
    let n = first & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + block[start + i]!;
    return n;
  }
  const s = block
    .toString('latin1', start, start + len)
    .replace(/[\0 ]+$/g, '')
    .trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw corrupt(`'${s}' is not an octal number`);
  return Number.parseInt(s, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = parseNumber(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return sum === stored;
}

export interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** Decodes one 512-byte header block; undefined for an all-zero (end) block. */
export function decodeHeader(block: Buffer): RawHeader | undefined {
  if (block.length !== BLOCK) throw corrupt('short header block');
  if (block.every((b) => b === 0)) return undefined;
  if (!checksumOk(block)) throw corrupt('header checksum mismatch');
  const magic = block.toString('latin1', 257, 263);
  let name = cstring(block, 0, 100);
  if (magic.startsWith('ustar')) {
    const prefix = cstring(block, 345, 155);
    if (prefix && magic === 'ustar\0') name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: parseNumber(block, 100, 8) & 0o7777,
    uid: parseNumber(block, 108, 8),
    gid: parseNumber(block, 116, 8),
    size: parseNumber(block, 124, 12),
    mtime: parseNumber(block, 136, 12),
    typeflag: String.fromCharCode(block[156]!),
    linkname: cstring(block, 157, 100),
    devmajor: parseNumber(block, 329, 8),
    devminor: parseNumber(block, 337, 8),
  };
}

/** Parses PAX extended header records (`<len> key=value\n`). */
export function parsePax(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < buf.length) {
    const space = buf.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number(buf.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= 0 || pos + len > buf.length) throw corrupt('bad PAX record length');
    const record = buf.subarray(space + 1, pos + len - 1); // without the trailing newline
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw corrupt('PAX record without =');
    out.set(record.toString('utf8', 0, eq), record.subarray(eq + 1));
    pos += len;
  }
  return out;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'chardev',
  '4': 'blockdev',
  '5': 'dir',
  '6': 'fifo',
};

/** Reads a tar stream to its end, calling the handler for each entry and body chunk. */
export async function readTar(source: AsyncIterable<Buffer>, handler: TarHandler): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  const iterator = source[Symbol.asyncIterator]();
  let done = false;
  const fill = async (n: number): Promise<boolean> => {
    while (buf.length < n && !done) {
      const next = await iterator.next();
      if (next.done) done = true;
      else buf = buf.length === 0 ? next.value : Buffer.concat([buf, next.value]);
    }
    return buf.length >= n;
  };
  const take = (n: number): Buffer => {
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  // Reads an entry body fully (for PAX and GNU long-name records), with a sane cap.
  const readBody = async (size: number): Promise<Buffer> => {
    if (size > 1 << 20) throw corrupt(`metadata record of ${size} bytes`);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (!(await fill(padded))) throw corrupt('truncated archive');
    return Buffer.from(take(padded).subarray(0, size));
  };

  let pax = new Map<string, Buffer>();
  let globalPax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    if (!(await fill(BLOCK))) {
      if (buf.length === 0) return; // some writers omit the end blocks
      throw corrupt('truncated archive');
    }
    const header = decodeHeader(take(BLOCK));
    if (!header) {
      // End of archive: drain what follows so the caller's digest covers all bytes.
      buf = Buffer.alloc(0);
      while (!(await iterator.next()).done) {
        /* drain */
      }
      return;
    }
    switch (header.typeflag) {
      case 'x':
        pax = parsePax(await readBody(header.size));
        continue;
      case 'g':
        globalPax = new Map([...globalPax, ...parsePax(await readBody(header.size))]);
        continue;
      case 'L':
        longName = (await readBody(header.size)).toString('utf8').replace(/\0+$/, '');
        continue;
      case 'K':
        longLink = (await readBody(header.size)).toString('utf8').replace(/\0+$/, '');
        continue;
    }
    const type = TYPES[header.typeflag];
    if (!type) throw corrupt(`entry '${header.name}' has unsupported type '${header.typeflag}'`);
    const records = new Map([...globalPax, ...pax]);
    const xattrs: Record<string, Buffer> = {};
    for (const [k, v] of records)
      if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = v;
    const num = (key: string, fallback: number) => {
      const v = records.get(key);
      return v ? Number(v.toString('latin1')) : fallback;
    };
    const entry: TarEntry = {
      path: records.get('path')?.toString('utf8') ?? longName ?? header.name,
      type,
      mode: header.mode,
      uid: num('uid', header.uid),
      gid: num('gid', header.gid),
      size: type === 'file' ? num('size', header.size) : 0,
      mtime: Math.floor(num('mtime', header.mtime)),
      linkpath: records.get('linkpath')?.toString('utf8') ?? longLink ?? header.linkname,
      devmajor: header.devmajor,
      devminor: header.devminor,
      xattrs,
    };
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    if (!Number.isSafeInteger(entry.size) || entry.size < 0)
      throw corrupt(`entry '${entry.path}' has a bad size`);
    await handler.entry(entry);
    // Hard links and other non-files may still carry a size in the header: skip those bytes.
    const bodySize = type === 'file' ? entry.size : header.typeflag === '1' ? 0 : header.size;
    let left = bodySize;
    while (left > 0) {
      if (buf.length === 0 && !(await fill(1))) throw corrupt(`truncated archive in '${entry.path}'`);
      const chunk = take(Math.min(left, buf.length));
      left -= chunk.length;
      if (type === 'file') await handler.data(chunk);
    }
    const pad = (BLOCK - (bodySize % BLOCK)) % BLOCK;
    if (pad > 0) {
      if (!(await fill(pad))) throw corrupt('truncated archive');
      take(pad);
    }
    await handler.end();
  }
}
