// The keys a manager's raft log and snapshots are sealed with on disk (swarmkit's DEK).
//
// A random data key per node, kept in `<stateDir>/raft-dek.json` wrapped (AES-256-GCM)
// by a key-encryption key: under autolock one derived from the cluster's unlock key
// (scrypt, as the locked store key), so a raft directory and its key file read as noise
// without the unlock key, and a new unlock key leaves nothing an old one opens once the
// next snapshot has re-sealed the log; without autolock one derived from the store key,
// which is then itself in clear (0600) next to it, as swarmkit keeps its DEK in clear.
//
// The file holds the current key and the older keys something in raft/ is still sealed
// with (each with its ID, written in every sealed record); the raft node drops what the
// older keys sealed at the next snapshot, and the file then forgets them. While the key
// that locks the file changes, the file is wrapped for both the old and the new one, so
// a crash at any point leaves a file the next start can open.
//
// Key 0 is the key a skiff before this file derived from the store key: a directory
// without the file is sealed with it, and migrates to a random key at the next snapshot.

import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scryptSync } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../disk/index.js';
import { RAFT_DEK_FILE, SkiffError } from '../lib/index.js';

export { RAFT_DEK_FILE };

import type { DataKey, DataKeyRing } from './raft/index.js';

const FILE = RAFT_DEK_FILE;
const MAGIC = 'skiff raft data keys v1';

/** What can unwrap the key file: the store key always, the unlock key while autolock is on. */
export interface KeyLock {
  storeKey: Uint8Array;
  unlockKey?: string | undefined;
}

/** The key of raft directories written before the key file (key 0). */
export function legacyRaftDataKey(secretsKey: Uint8Array, nodeId: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secretsKey, nodeId, 'skiff raft data at rest v1', 32));
}

interface Wrap {
  by: 'store' | 'unlock';
  salt?: string;
  nonce: string;
  sealed: string;
}

export class RaftDataKeys {
  /** Rotations and forgetting, one at a time: each rewrites the file from the ring it leaves. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly stateDir: string,
    private keys: DataKeyRing,
    private lock: KeyLock,
  ) {}

  /**
   * The node's data keys from its key file; a new random one when there is none (key 0,
   * the derived key of an older skiff's raft directory, stays among them until the next
   * snapshot when there is such a directory).
   */
  static async open(stateDir: string, nodeId: string, lock: KeyLock): Promise<RaftDataKeys> {
    let text: string | undefined;
    try {
      text = await readFile(join(stateDir, FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text !== undefined) return new RaftDataKeys(stateDir, unwrap(text, lock, join(stateDir, FILE)), lock);
    // Key 0 only for a raft directory an older skiff wrote: a new node's would be re-sealed
    // at its first start (a snapshot and fsyncs while it comes up) for nothing.
    const older = await access(join(stateDir, 'raft')).then(
      () => true,
      () => false,
    );
    const keys: DataKeyRing = {
      current: { id: 1, key: randomBytes(32) },
      ...(older ? { previous: [{ id: 0, key: legacyRaftDataKey(lock.storeKey, nodeId) }] } : {}),
    };
    const k = new RaftDataKeys(stateDir, keys, lock);
    await k.write([lock]);
    return k;
  }

  ring(): DataKeyRing {
    return this.keys;
  }

  /** Whether older keys are still kept (a rotation or a migration not yet covered by a snapshot). */
  hasOlderKeys(): boolean {
    return (this.keys.previous ?? []).length > 0;
  }

  /**
   * A new data key for a change of what locks the key file (`change` applies it: the store
   * key locked, re-locked or unlocked). Returns the ring to give the raft node.
   */
  rotate(to: KeyLock, change: () => Promise<void>): Promise<DataKeyRing> {
    return this.serial(() => this.rotateNow(to, change));
  }

  /** Forgets the older keys nothing on disk is sealed with any more. */
  forget(inUse: number[]): Promise<void> {
    return this.serial(() => this.forgetNow(inUse));
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.catch(() => {});
    return run;
  }

  private async rotateNow(to: KeyLock, change: () => Promise<void>): Promise<DataKeyRing> {
    const prev = [this.keys.current, ...(this.keys.previous ?? [])];
    const id = Math.max(...prev.map((k) => k.id)) + 1;
    this.keys = { current: { id, key: randomBytes(32) }, previous: prev };
    await this.write([this.lock, to]);
    await change();
    this.lock = to;
    await this.write([to]);
    return this.keys;
  }

  private async forgetNow(inUse: number[]): Promise<void> {
    const previous = (this.keys.previous ?? []).filter((k) => inUse.includes(k.id));
    if (previous.length === (this.keys.previous ?? []).length) return;
    this.keys = { current: this.keys.current, previous };
    await this.write([this.lock]);
  }

  private async write(locks: KeyLock[]): Promise<void> {
    const plain = Buffer.from(
      JSON.stringify({
        current: this.keys.current.id,
        keys: [this.keys.current, ...(this.keys.previous ?? [])].map((k) => ({
          id: k.id,
          key: Buffer.from(k.key).toString('base64'),
        })),
      }),
    );
    const wraps: Wrap[] = [];
    const seen = new Set<string>();
    for (const l of locks) {
      const tag = l.unlockKey === undefined ? 'store' : `unlock:${l.unlockKey}`;
      if (seen.has(tag)) continue;
      seen.add(tag);
      wraps.push(wrap(plain, l));
    }
    await writeFileDurable(join(this.stateDir, FILE), JSON.stringify({ magic: MAGIC, wraps }), {
      mode: 0o600,
    });
  }
}

function kek(lock: KeyLock, by: Wrap['by'], salt: Buffer): Buffer {
  if (by === 'store')
    return Buffer.from(hkdfSync('sha256', lock.storeKey, salt, 'skiff raft data key wrap v1', 32));
  return scryptSync(lock.unlockKey ?? '', salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
}

function wrap(plain: Buffer, lock: KeyLock): Wrap {
  const by: Wrap['by'] = lock.unlockKey === undefined ? 'store' : 'unlock';
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek(lock, by, salt), nonce);
  c.setAAD(Buffer.from(MAGIC));
  const sealed = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  return {
    by,
    salt: salt.toString('base64'),
    nonce: nonce.toString('base64'),
    sealed: sealed.toString('base64'),
  };
}

function unwrap(text: string, lock: KeyLock, path: string): DataKeyRing {
  const corrupt = () => new SkiffError('corrupt', `${path} is not a skiff raft data key file`);
  let file: { magic?: unknown; wraps?: unknown };
  try {
    file = JSON.parse(text) as typeof file;
  } catch {
    throw corrupt();
  }
  if (file.magic !== MAGIC || !Array.isArray(file.wraps)) throw corrupt();
  for (const w of file.wraps as Wrap[]) {
    if (w.by === 'unlock' && lock.unlockKey === undefined) continue;
    const raw = Buffer.from(w.sealed, 'base64');
    const d = createDecipheriv(
      'aes-256-gcm',
      kek(lock, w.by, Buffer.from(w.salt ?? '', 'base64')),
      Buffer.from(w.nonce, 'base64'),
    );
    d.setAAD(Buffer.from(MAGIC));
    d.setAuthTag(raw.subarray(raw.length - 16));
    let plain: Buffer;
    try {
      plain = Buffer.concat([d.update(raw.subarray(0, raw.length - 16)), d.final()]);
    } catch {
      continue;
    }
    const body = JSON.parse(plain.toString()) as { current: number; keys: { id: number; key: string }[] };
    const keys: DataKey[] = body.keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') }));
    const current = keys.find((k) => k.id === body.current);
    if (!current) throw corrupt();
    return { current, previous: keys.filter((k) => k !== current) };
  }
  throw new SkiffError('invalid_argument', `${path} does not open with this manager's keys`, {
    hint: 'the raft data key file belongs to another node, or the manager is locked: unlock it with the unlock key',
  });
}
