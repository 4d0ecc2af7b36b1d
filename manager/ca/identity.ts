import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../../disk/index.js';
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

/**
 * Each file replaced whole (written aside, synced, renamed over), the key before the
 * certificate: a reader or a crash never sees a partial file, and a renewal read half-way
 * shows the new key with the old certificate, never a new certificate without its key.
 */
export async function saveIdentity(stateDir: string, id: NodeIdentity): Promise<void> {
  const dir = certsDir(stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await replaceFile(join(dir, 'ca.crt'), id.caPem, 0o644);
  if (id.caKeyPem) await replaceFile(join(dir, 'ca.key'), id.caKeyPem, 0o600);
  await replaceFile(join(dir, 'node.key'), id.keyPem, 0o600);
  await replaceFile(join(dir, 'node.crt'), id.certPem, 0o644);
}

/** A key is never readable by others, not even briefly: the helper writes it aside with its mode. */
function replaceFile(file: string, content: string, mode: number): Promise<void> {
  return writeFileDurable(file, content, { mode });
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
  // The key before its certificate, as in saveIdentity.
  await replaceFile(join(dir, 'raft-ca.crt'), id.caPem, 0o644);
  await replaceFile(join(dir, 'raft-ca.key'), id.caKeyPem, 0o600);
  await replaceFile(join(dir, 'raft.key'), id.keyPem, 0o600);
  await replaceFile(join(dir, 'raft.crt'), id.certPem, 0o644);
}
