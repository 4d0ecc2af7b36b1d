// Snapshot files: <term>-<index>.snap = u32 crc32(rest) | u32 metaLength | meta JSON | data.
// Written to a temporary name, fsynced, renamed, and the directory fsynced: a crash leaves
// either the old set or the new one. The newest two are kept, except that once a snapshot
// is sealed with a new data key, older ones sealed with another key (or in clear) go.

import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeSnapshotMeta, encodeSnapshotMeta } from '../codec.js';
import { RaftError } from '../errors.js';
import type { Snapshot } from '../types.js';
import { type AtRestCipher, sealedKeyId } from './at-rest.js';
import { CLEAR } from './wal.js';

const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
/** Data sealed with the data key starts with this; a snapshot of an older skiff is in clear. */
const SEALED = Buffer.from('\0skiff-sealed\0');

export class SnapshotStore {
  /** The data key (CLEAR for none) each snapshot file on disk is sealed with. */
  private readonly keys = new Map<string, number>();

  constructor(
    private readonly dir: string,
    private readonly keep = 2,
    private cipher?: AtRestCipher,
  ) {}

  /** Seals the snapshots saved from now on with `cipher`'s current key. */
  rekey(cipher: AtRestCipher): void {
    this.cipher = cipher;
  }

  keysInUse(): Set<number> {
    return new Set(this.keys.values());
  }

  async save(snap: Snapshot): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const meta = encodeSnapshotMeta(snap.meta);
    const data = this.cipher
      ? Buffer.concat([SEALED, this.cipher.seal(snap.data, snap.meta.index, snap.meta.term)])
      : snap.data;
    const body = Buffer.allocUnsafe(4 + meta.length + data.length);
    body.writeUInt32LE(meta.length, 0);
    body.set(meta, 4);
    body.set(data, 4 + meta.length);
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(crc32(body), 0);
    const name = `${snap.meta.term.toString(16).padStart(16, '0')}-${snap.meta.index.toString(16).padStart(16, '0')}.snap`;
    const tmp = join(this.dir, `${name}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.chmod(0o600);
      await fh.writev([head, body]);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, name));
    const key = this.cipher ? this.cipher.currentId : CLEAR;
    this.keys.set(name, key);
    await syncDirectory(this.dir);
    const names = await this.list();
    for (const [i, old] of names.entries()) {
      if (old.name === name) continue;
      if (i < this.keep && this.keys.get(old.name) === key) continue;
      await rm(join(this.dir, old.name), { force: true });
      this.keys.delete(old.name);
    }
    await syncDirectory(this.dir);
  }

  /** The newest snapshot, or null when there is none. A damaged newest snapshot is an error. */
  async loadLatest(): Promise<Snapshot | null> {
    const names = await this.list();
    // Files an older skiff left readable by others are narrowed.
    if (names.length) await chmod(this.dir, 0o700);
    for (const n of names) {
      await chmod(join(this.dir, n.name), 0o600);
      this.keys.set(n.name, await keyOfFile(join(this.dir, n.name)));
    }
    const newest = names[0];
    if (!newest) return null;
    const path = join(this.dir, newest.name);
    const buf = await readFile(path);
    if (buf.length < 8 || crc32(buf.subarray(4)) !== buf.readUInt32LE(0)) {
      throw new RaftError(
        'snapshot_corrupt',
        `snapshot ${path} fails its checksum; remove it to fall back to the previous one (if the log still covers it), or re-add this node`,
      );
    }
    const metaLen = buf.readUInt32LE(4);
    const meta = decodeSnapshotMeta(buf.subarray(8, 8 + metaLen));
    const data = buf.subarray(8 + metaLen);
    if (!data.subarray(0, SEALED.length).equals(SEALED)) return { meta, data: new Uint8Array(data) };
    const where = `snapshot ${path}`;
    if (!this.cipher) throw new RaftError('wrong_key', `${where} is encrypted and no data key was given`);
    return { meta, data: this.cipher.open(data.subarray(SEALED.length), meta.index, meta.term, where) };
  }

  private async list(): Promise<{ name: string; index: number }[]> {
    let files: string[];
    try {
      files = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: { name: string; index: number }[] = [];
    for (const f of files) {
      const m = NAME.exec(f);
      if (m) out.push({ name: f, index: Number.parseInt(m[2]!, 16) });
    }
    return out.sort((a, b) => b.index - a.index);
  }
}

/** The data key a snapshot file is sealed with, from its head (CLEAR when in clear or unreadable). */
async function keyOfFile(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(8);
    if ((await fh.read(head, 0, 8, 0)).bytesRead < 8) return CLEAR;
    const at = 8 + head.readUInt32LE(4);
    const tag = Buffer.alloc(SEALED.length + 5);
    const { bytesRead } = await fh.read(tag, 0, tag.length, at);
    if (bytesRead < tag.length || !tag.subarray(0, SEALED.length).equals(SEALED)) return CLEAR;
    // Only the head is read: pad it to a sealed record's smallest size for sealedKeyId.
    const rec = Buffer.concat([tag.subarray(SEALED.length), Buffer.alloc(28)]);
    return sealedKeyId(rec) ?? CLEAR;
  } finally {
    await fh.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
