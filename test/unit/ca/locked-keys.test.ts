// Under autolock a manager's certificate keys are sealed with a key derived from its store
// key: nothing in certs/ reads as a private key, they open only with that store key, and
// turning autolock off writes them in clear again.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  certsDir,
  createRootCa,
  hasIdentity,
  keyFileSealer,
  loadIdentity,
  loadRaftIdentity,
  resealCertificateKeys,
  saveIdentity,
  saveRaftIdentity,
} from '../../../manager/ca/index.js';
import { issueRaftIdentity, loadOrCreateManagerIdentity } from '../../../manager/identity/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-lockedkeys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const keyTexts = async () => {
  const names = (await readdir(certsDir(dir))).filter((f) => f.endsWith('.key')).sort();
  return Promise.all(names.map(async (n) => [n, await readFile(join(certsDir(dir), n), 'utf8')] as const));
};

describe('certificate keys under autolock', () => {
  it('seals every key file with the store key, opens them with it, and clears them again', async () => {
    const storeKey = randomBytes(32);
    const sealer = keyFileSealer(storeKey);
    const id = await loadOrCreateManagerIdentity(dir, 'n1');
    const raft = issueRaftIdentity(createRootCa({ clusterId: 'c1', commonName: 'r' }), 'n1', 'c1');
    await saveRaftIdentity(dir, raft);
    expect((await keyTexts()).map(([n]) => n)).toEqual(['ca.key', 'node.key', 'raft-ca.key', 'raft.key']);

    await resealCertificateKeys(dir, sealer, sealer);
    for (const [name, text] of await keyTexts()) {
      expect(text, name).not.toContain('PRIVATE KEY');
      expect(text, name).toMatch(/^-----BEGIN SKIFF LOCKED KEY-----/);
    }
    // Locked: no key without the store key, and not with another one.
    expect(await hasIdentity(dir)).toBe(true);
    await expect(loadIdentity(dir)).rejects.toThrow(/certificate key .*\.key is locked/);
    await expect(loadIdentity(dir, keyFileSealer(randomBytes(32)))).rejects.toThrow(/does not open/);
    expect(await loadIdentity(dir, sealer)).toEqual(id);
    expect(await loadRaftIdentity(dir, sealer)).toEqual(raft);

    // A renewal while locked keeps the new key sealed.
    await saveIdentity(dir, { ...id, keyPem: id.keyPem }, sealer);
    expect((await keyTexts()).every(([, t]) => !t.includes('PRIVATE KEY'))).toBe(true);

    await resealCertificateKeys(dir, sealer, undefined);
    for (const [name, text] of await keyTexts()) expect(text, name).toContain('PRIVATE KEY');
    expect(await loadIdentity(dir)).toEqual(id);
  });
});
