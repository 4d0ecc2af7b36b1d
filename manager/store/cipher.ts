import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { privateDir, writeFileDurable } from '../../disk/index.js';
import { SkiffError } from '../../lib/index.js';

/**
 * Seals secret data before it enters a proposal, so the raft log, snapshots and the
 * in-memory tables only ever hold ciphertext. `context` (the secret's ID) is bound to
 * the ciphertext, so sealed data cannot be moved to another secret.
 */
export interface SecretCipher {
  seal(plain: Uint8Array, context: string): string;
  open(sealed: string, context: string): Uint8Array;
}

const PREFIX = 'aes256gcm:';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function createAesGcmCipher(key: Uint8Array): SecretCipher {
  if (key.length !== 32)
    throw new SkiffError('invalid_argument', `secret key must be 32 bytes, got ${key.length}`);
  const k = Buffer.from(key);
  return {
    seal(plain, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const c = createCipheriv('aes-256-gcm', k, nonce);
      c.setAAD(Buffer.from(context));
      const body = Buffer.concat([c.update(plain), c.final()]);
      return PREFIX + Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64');
    },
    open(sealed, context) {
      if (!sealed.startsWith(PREFIX))
        throw new SkiffError('corrupt', 'sealed secret data has an unknown format');
      const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
      if (raw.length < NONCE_BYTES + TAG_BYTES)
        throw new SkiffError('corrupt', 'sealed secret data is truncated');
      const d = createDecipheriv('aes-256-gcm', k, raw.subarray(0, NONCE_BYTES));
      d.setAAD(Buffer.from(context));
      d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      try {
        return Buffer.concat([d.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), d.final()]);
      } catch (e) {
        throw new SkiffError('corrupt', 'secret data does not decrypt with this manager key', {
          hint: 'the manager state dir holds a different secrets.key than the one the data was sealed with',
          cause: e,
        });
      }
    },
  };
}

/** Reads the manager's secret key from `<stateDir>/secrets.key`, creating it (mode 0600) on first use. */
export async function loadOrCreateSecretKey(stateDir: string): Promise<Uint8Array> {
  const file = join(stateDir, 'secrets.key');
  try {
    const key = await readFile(file);
    if (key.length !== 32) {
      throw new SkiffError('corrupt', `${file} holds ${key.length} bytes, expected 32`, {
        hint: 'restore the file from a backup; without it the cluster secrets cannot be read',
      });
    }
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await privateDir(stateDir);
  const key = randomBytes(32);
  await writeFileDurable(file, key, { mode: 0o600 });
  return key;
}
