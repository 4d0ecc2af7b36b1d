// A node's identity on disk: replaced whole, file by file, with the modes a key needs.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { certsDir, loadIdentity, saveIdentity } from '../../../manager/ca/identity.js';

describe('saveIdentity', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-identity-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces every file, keeps keys private, and leaves no temporary file behind', async () => {
    await saveIdentity(dir, { caPem: 'ca1', certPem: 'cert1', keyPem: 'key1', caKeyPem: 'cakey1' });
    // A key file someone made world-readable is tightened when replaced.
    writeFileSync(join(certsDir(dir), 'node.key'), 'old', { mode: 0o644 });
    await saveIdentity(dir, { caPem: 'ca2', certPem: 'cert2', keyPem: 'key2' });
    expect(await loadIdentity(dir)).toEqual({
      caPem: 'ca2',
      certPem: 'cert2',
      keyPem: 'key2',
      caKeyPem: 'cakey1',
    });
    const mode = (f: string) => statSync(join(certsDir(dir), f)).mode & 0o777;
    expect(mode('node.key')).toBe(0o600);
    expect(mode('ca.key')).toBe(0o600);
    expect(mode('node.crt')).toBe(0o644);
    expect(readdirSync(certsDir(dir)).sort()).toEqual(['ca.crt', 'ca.key', 'node.crt', 'node.key']);
  });
});
