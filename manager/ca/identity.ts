import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyPair } from './certificates.js';

/** A node's TLS identity on disk: `<stateDir>/certs/{ca.crt,node.crt,node.key}` (+ `ca.key` on managers). */
export interface NodeIdentity {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Only managers hold the CA key; they issue certificates. */
  caKeyPem?: string;
}

export function certsDir(stateDir: string): string {
  return join(stateDir, 'certs');
}

export async function loadIdentity(stateDir: string): Promise<NodeIdentity | undefined> {
  const dir = certsDir(stateDir);
  try {
    const [caPem, certPem, keyPem] = await Promise.all(
      ['ca.crt', 'node.crt', 'node.key'].map((f) => readFile(join(dir, f), 'utf8')),
    );
    let caKeyPem: string | undefined;
    try {
      caKeyPem = await readFile(join(dir, 'ca.key'), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return { caPem: caPem!, certPem: certPem!, keyPem: keyPem!, ...(caKeyPem ? { caKeyPem } : {}) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function saveIdentity(stateDir: string, id: NodeIdentity): Promise<void> {
  const dir = certsDir(stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'ca.crt'), id.caPem, { mode: 0o644 });
  await writeFile(join(dir, 'node.crt'), id.certPem, { mode: 0o644 });
  await writeFile(join(dir, 'node.key'), id.keyPem, { mode: 0o600 });
  await chmod(join(dir, 'node.key'), 0o600);
  if (id.caKeyPem) {
    await writeFile(join(dir, 'ca.key'), id.caKeyPem, { mode: 0o600 });
    await chmod(join(dir, 'ca.key'), 0o600);
  }
}

export function caKeyPair(id: NodeIdentity): KeyPair | undefined {
  return id.caKeyPem ? { certPem: id.caPem, keyPem: id.caKeyPem } : undefined;
}

/**
 * Managers' raft identity: a second CA that only managers hold, so a worker's node
 * certificate (from the cluster CA) cannot even finish a TLS handshake with raft.
 */
export interface RaftIdentity {
  caPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
}

const RAFT_FILES = ['raft-ca.crt', 'raft-ca.key', 'raft.crt', 'raft.key'] as const;

export async function loadRaftIdentity(stateDir: string): Promise<RaftIdentity | undefined> {
  const dir = certsDir(stateDir);
  try {
    const [caPem, caKeyPem, certPem, keyPem] = await Promise.all(
      RAFT_FILES.map((f) => readFile(join(dir, f), 'utf8')),
    );
    return { caPem: caPem!, caKeyPem: caKeyPem!, certPem: certPem!, keyPem: keyPem! };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function saveRaftIdentity(stateDir: string, id: RaftIdentity): Promise<void> {
  const dir = certsDir(stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const values = [id.caPem, id.caKeyPem, id.certPem, id.keyPem];
  for (const [i, f] of RAFT_FILES.entries()) {
    const secret = f.endsWith('.key');
    await writeFile(join(dir, f), values[i]!, { mode: secret ? 0o600 : 0o644 });
    if (secret) await chmod(join(dir, f), 0o600);
  }
}
