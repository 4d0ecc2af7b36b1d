import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../../disk/index.js';
import type { KeyPair } from './certificates.js';
import { isSealedKeyFile, type KeyFileSealer, openKeyFile } from './key-files.js';

/** The private key files a node may keep in `certs/` (the last two on managers only). */
const KEY_FILES = ['node.key', 'ca.key', 'raft-ca.key', 'raft.key'] as const;

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

/** Whether the node has an identity on disk (without reading its keys, which may be locked). */
export async function hasIdentity(stateDir: string): Promise<boolean> {
  try {
    await access(join(certsDir(stateDir), 'node.crt'));
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** The node's identity; keys locked under autolock are opened with `sealer`. */
export async function loadIdentity(
  stateDir: string,
  sealer?: KeyFileSealer,
): Promise<NodeIdentity | undefined> {
  const dir = certsDir(stateDir);
  try {
    const [caPem, certPem, keyText] = await Promise.all(
      ['ca.crt', 'node.crt', 'node.key'].map((f) => readFile(join(dir, f), 'utf8')),
    );
    let caKeyPem: string | undefined;
    try {
      caKeyPem = openKeyFile(await readFile(join(dir, 'ca.key'), 'utf8'), 'ca.key', sealer);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const keyPem = openKeyFile(keyText!, 'node.key', sealer);
    return { caPem: caPem!, certPem: certPem!, keyPem, ...(caKeyPem ? { caKeyPem } : {}) };
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
export async function saveIdentity(stateDir: string, id: NodeIdentity, seal?: KeyFileSealer): Promise<void> {
  const dir = certsDir(stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await replaceFile(join(dir, 'ca.crt'), id.caPem, 0o644);
  if (id.caKeyPem) await replaceKey(dir, 'ca.key', id.caKeyPem, seal);
  await replaceKey(dir, 'node.key', id.keyPem, seal);
  await replaceFile(join(dir, 'node.crt'), id.certPem, 0o644);
}

/**
 * Rewrites every key file in `certs/` sealed with `seal` (autolock on), or in clear when
 * it is undefined (autolock off); `open` reads the ones sealed now.
 */
export async function resealCertificateKeys(
  stateDir: string,
  open: KeyFileSealer,
  seal: KeyFileSealer | undefined,
): Promise<void> {
  const dir = certsDir(stateDir);
  for (const name of KEY_FILES) {
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    if (isSealedKeyFile(text) === (seal !== undefined)) continue;
    await replaceKey(dir, name, openKeyFile(text, name, open), seal);
  }
}

/** A key is never readable by others, not even briefly: the helper writes it aside with its mode. */
function replaceFile(file: string, content: string, mode: number): Promise<void> {
  return writeFileDurable(file, content, { mode });
}

function replaceKey(dir: string, name: string, pem: string, seal: KeyFileSealer | undefined): Promise<void> {
  return replaceFile(join(dir, name), seal ? seal.seal(pem, name) : pem, 0o600);
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

export async function loadRaftIdentity(
  stateDir: string,
  sealer?: KeyFileSealer,
): Promise<RaftIdentity | undefined> {
  const dir = certsDir(stateDir);
  try {
    const [caPem, caKeyText, certPem, keyText] = await Promise.all(
      RAFT_FILES.map((f) => readFile(join(dir, f), 'utf8')),
    );
    return {
      caPem: caPem!,
      caKeyPem: openKeyFile(caKeyText!, 'raft-ca.key', sealer),
      certPem: certPem!,
      keyPem: openKeyFile(keyText!, 'raft.key', sealer),
    };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function saveRaftIdentity(
  stateDir: string,
  id: RaftIdentity,
  seal?: KeyFileSealer,
): Promise<void> {
  const dir = certsDir(stateDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The key before its certificate, as in saveIdentity.
  await replaceFile(join(dir, 'raft-ca.crt'), id.caPem, 0o644);
  await replaceKey(dir, 'raft-ca.key', id.caKeyPem, seal);
  await replaceKey(dir, 'raft.key', id.keyPem, seal);
  await replaceFile(join(dir, 'raft.crt'), id.certPem, 0o644);
}
