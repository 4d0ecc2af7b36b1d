// Autolock: the key that seals secret data, kept on disk either in clear (0600) or
// encrypted with a key derived from the cluster's unlock key, as Swarm's autolock does.
// A locked manager cannot read secrets (or start) until someone gives the unlock key.

import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDir, writeFileDurable } from '../../disk/index.js';
import { SkiffError } from '../../lib/index.js';

/** Where the cluster object keeps the unlock key, sealed with the store key (an `x-skiff` extension). */
export const UNLOCK_KEY_FIELD = 'x-skiff-unlock-key';

/** The sealed unlock key of a cluster object, when autolock is on. */
export function sealedUnlockKey(cluster: object | undefined): string | undefined {
  const v = (cluster as Record<string, unknown> | undefined)?.[UNLOCK_KEY_FIELD];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A counter in the cluster object (an `x-skiff` extension) that `cluster rotate-data-key`
 * raises: each manager gives its raft log a new data key when it sees it change.
 */
export const DATA_KEY_ROTATION_FIELD = 'x-skiff-data-key-rotation';

/** The cluster object's data key rotation counter (0 when never raised). */
export function dataKeyRotation(cluster: object | undefined): number {
  const v = (cluster as Record<string, unknown> | undefined)?.[DATA_KEY_ROTATION_FIELD];
  return typeof v === 'number' ? v : 0;
}

const LOCKED_FILE = 'secrets.key.locked';
const PLAIN_FILE = 'secrets.key';
const MAGIC = 'skiff-locked-key-v1';

/** A new unlock key in Docker's format. */
export function newUnlockKey(): string {
  return `SWMKEY-1-${randomBytes(32).toString('base64url')}`;
}

/** True when the state dir holds the secrets key only in its locked form. */
export async function isSecretsKeyLocked(stateDir: string): Promise<boolean> {
  const [locked, plain] = await Promise.all([
    exists(join(stateDir, LOCKED_FILE)),
    exists(join(stateDir, PLAIN_FILE)),
  ]);
  return locked && !plain;
}

/** Replaces the clear key file by one encrypted with `unlockKey`. */
export async function lockSecretsKey(stateDir: string, key: Uint8Array, unlockKey: string): Promise<void> {
  const salt = randomBytes(16);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek(unlockKey, salt), nonce);
  c.setAAD(Buffer.from(MAGIC));
  const body = Buffer.concat([c.update(key), c.final()]);
  // The clear key goes only once the locked one is durably on disk: a crash in between
  // leaves both (the clear one wins at the next start), never neither.
  await writeFileDurable(
    join(stateDir, LOCKED_FILE),
    Buffer.concat([Buffer.from(MAGIC), salt, nonce, body, c.getAuthTag()]),
    { mode: 0o600 },
  );
  await rm(join(stateDir, PLAIN_FILE), { force: true });
  await syncDir(stateDir);
}

/** Decrypts the locked key file; 'invalid_argument' for a wrong unlock key. */
export async function unlockSecretsKey(stateDir: string, unlockKey: string): Promise<Uint8Array> {
  const raw = await readFile(join(stateDir, LOCKED_FILE));
  const m = MAGIC.length;
  if (raw.length !== m + 16 + 12 + 32 + 16 || raw.subarray(0, m).toString() !== MAGIC) {
    throw new SkiffError('corrupt', `${join(stateDir, LOCKED_FILE)} is not a locked skiff key`);
  }
  const d = createDecipheriv(
    'aes-256-gcm',
    kek(unlockKey, raw.subarray(m, m + 16)),
    raw.subarray(m + 16, m + 28),
  );
  d.setAAD(Buffer.from(MAGIC));
  d.setAuthTag(raw.subarray(raw.length - 16));
  try {
    return Buffer.concat([d.update(raw.subarray(m + 28, raw.length - 16)), d.final()]);
  } catch {
    throw new SkiffError('invalid_argument', 'invalid key, unable to decrypt: the unlock key is wrong', {
      hint: 'use the key `docker swarm unlock-key` printed on an unlocked manager',
    });
  }
}

/** Turns autolock off for this manager: the key in clear (0600) again. */
export async function unlockSecretsKeyFile(stateDir: string, key: Uint8Array): Promise<void> {
  await writeFileDurable(join(stateDir, PLAIN_FILE), key, { mode: 0o600 });
  await rm(join(stateDir, LOCKED_FILE), { force: true });
  await syncDir(stateDir);
}

function kek(unlockKey: string, salt: Uint8Array): Buffer {
  return scryptSync(unlockKey, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
}

async function exists(path: string): Promise<boolean> {
  try {
    await readFile(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
