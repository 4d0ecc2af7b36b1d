import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isSecretsKeyLocked,
  loadOrCreateSecretKey,
  lockSecretsKey,
  newUnlockKey,
  unlockSecretsKey,
  unlockSecretsKeyFile,
} from '../../../manager/store/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-keylock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('secrets key autolock', () => {
  it('locks the key with the unlock key, removes it in clear, and unlocks only with the right key', async () => {
    const key = await loadOrCreateSecretKey(dir);
    expect(await isSecretsKeyLocked(dir)).toBe(false);
    const unlockKey = newUnlockKey();
    expect(unlockKey).toMatch(/^SWMKEY-1-[A-Za-z0-9_-]{43}$/);
    await lockSecretsKey(dir, key, unlockKey);
    expect(await isSecretsKeyLocked(dir)).toBe(true);
    expect(await readdir(dir)).toEqual(['secrets.key.locked']);
    expect((await readFile(join(dir, 'secrets.key.locked'))).includes(Buffer.from(key))).toBe(false);

    await expect(unlockSecretsKey(dir, newUnlockKey())).rejects.toThrow(/invalid key/);
    expect(Buffer.from(await unlockSecretsKey(dir, unlockKey)).equals(Buffer.from(key))).toBe(true);

    await unlockSecretsKeyFile(dir, key);
    expect(await isSecretsKeyLocked(dir)).toBe(false);
    expect(Buffer.from(await loadOrCreateSecretKey(dir)).equals(Buffer.from(key))).toBe(true);
  });

  it('refuses a locked file that is not one', async () => {
    await writeFile(join(dir, 'secrets.key.locked'), randomBytes(50));
    await expect(unlockSecretsKey(dir, newUnlockKey())).rejects.toThrow(/not a locked skiff key/);
  });
});
