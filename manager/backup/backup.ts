// Backup, restore and a forced new cluster: the cluster state leaves or enters a manager's
// state directory as a raft snapshot with a fresh membership of one, so the normal start
// path (raft storage, store restore, the node's own election) brings it up.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Logger, SkiffError } from '../../lib/index.js';
import { describeNodeCertificate } from '../ca/index.js';
import { NODE_ID_FILE } from '../identity/index.js';
import { type DataKeyRing, replayCommitted, seedSingleVoter } from '../raft/index.js';
import { legacyRaftDataKey, RAFT_DEK_FILE } from '../raft-data-key.js';
import { isSecretsKeyLocked, type StateMachine, type Store, unlockSecretsKey } from '../store/index.js';
import { type BackupBody, decodeBackup, encodeBackup } from './format.js';

/** What a manager's state directory holds besides raft: its ID, certificates and secrets key. */
const IDENTITY = [NODE_ID_FILE, 'certs', 'secrets.key', 'secrets.key.locked'];
const RAFT_DIR = 'raft';

/**
 * A consistent backup of a running manager: the store as applied at one index (one
 * synchronous read of its immutable objects, so writes going on meanwhile are either
 * wholly in it or not at all), with the identity and keys a restore needs.
 */
export async function takeBackup(o: {
  stateDir: string;
  nodeId: string;
  store: Store;
  term: () => number;
}): Promise<{ file: Buffer; index: number }> {
  const files: Record<string, string> = {};
  for (const name of IDENTITY) await collect(o.stateDir, name, files);
  const autolocked = await isSecretsKeyLocked(o.stateDir);
  const cert = files['certs/node.crt'];
  const clusterId = cert ? describeNodeCertificate(Buffer.from(cert, 'base64').toString()).clusterId : '';
  // One synchronous step: the index and the snapshot belong together.
  const index = o.store.appliedIndex;
  const store = Buffer.from(o.store.stateMachine.snapshot()).toString('base64');
  const body: BackupBody = {
    createdAt: new Date().toISOString(),
    clusterId: o.store.getCluster()?.ID ?? clusterId,
    nodeId: o.nodeId,
    index,
    term: Math.max(1, o.term()),
    store,
    files,
    autolocked,
  };
  return { file: encodeBackup(body), index };
}

async function collect(root: string, rel: string, out: Record<string, string>): Promise<void> {
  const path = join(root, rel);
  let entries: string[] | undefined;
  try {
    entries = await readdir(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'ENOTDIR') throw e;
  }
  if (entries) {
    for (const name of entries.sort()) {
      if (!name.endsWith('.tmp')) await collect(root, `${rel}/${name}`, out);
    }
    return;
  }
  out[rel] = (await readFile(path)).toString('base64');
}

/**
 * Writes a backup into a state directory without cluster state, as a new cluster whose
 * only manager is the one the backup was taken on (the old membership is dropped). The
 * file is checked in full first: a bad file changes nothing. An autolocked backup needs
 * its unlock key.
 */
export interface RestoreBackupOptions {
  stateDir: string;
  file: Buffer;
  name: string;
  unlockKey?: string;
}

export interface RestoredBackup {
  nodeId: string;
  index: number;
  autolocked: boolean;
}

export async function restoreBackup(o: RestoreBackupOptions): Promise<RestoredBackup> {
  const body = decodeBackup(o.file, o.name);
  const held = await clusterStateIn(o.stateDir);
  if (held.length > 0) {
    throw new SkiffError(
      'failed_precondition',
      `${o.stateDir} already holds cluster state (${held.join(', ')}); a backup is restored only into an empty state`,
      { hint: 'stop the node and move that state away (or `skiff cluster leave --force`) first' },
    );
  }
  const store = Buffer.from(body.store, 'base64');
  // Built beside the state directory and moved in at the end: a failure leaves nothing.
  const staging = `${o.stateDir}.restore-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  try {
    for (const [rel, b64] of Object.entries(body.files)) {
      const path = join(staging, rel);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(path, Buffer.from(b64, 'base64'), { mode: rel.endsWith('.crt') ? 0o644 : 0o600 });
    }
    if (body.autolocked) {
      if (!o.unlockKey) {
        throw new SkiffError(
          'invalid_argument',
          `${o.name} is a backup of an autolocked cluster: it needs its unlock key`,
          {
            hint: 'pass --unlock-key with the key `skiff cluster unlock-key` printed when the backup was taken',
          },
        );
      }
    }
    // The restored log is sealed like any other manager's (a wrong unlock key fails here,
    // before anything moves).
    const secretsKey = body.autolocked
      ? await unlockSecretsKey(staging, o.unlockKey ?? '')
      : await readFile(join(staging, 'secrets.key'));
    await seedSingleVoter(join(staging, RAFT_DIR), {
      id: body.nodeId,
      addr: '127.0.0.1:0',
      index: body.index,
      term: body.term,
      data: store,
      // Sealed with key 0 and no key file: the first start moves it to a random data key.
      dataKey: legacyRaftDataKey(secretsKey, body.nodeId),
    });
    await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
    for (const name of await readdir(staging)) await rename(join(staging, name), join(o.stateDir, name));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { nodeId: body.nodeId, index: body.index, autolocked: body.autolocked };
}

async function clusterStateIn(stateDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter(
    (n) => n === RAFT_DIR || n === RAFT_DEK_FILE || IDENTITY.includes(n) || n === 'worker.json',
  );
}

/**
 * `--force-new-cluster`: this manager's committed state becomes a new cluster with it as
 * the only manager. The old raft directory is kept beside the new one (`raft.old-<time>`)
 * until the operator removes it.
 */
export async function forceNewCluster(o: {
  stateDir: string;
  nodeId: string;
  raftAddr: string;
  stateMachine: StateMachine;
  /** The keys the raft directory is sealed with (the new one is sealed with the current). */
  dataKey: DataKeyRing;
  log: Logger;
}): Promise<void> {
  const dir = join(o.stateDir, RAFT_DIR);
  const at = await replayCommitted(dir, o.stateMachine, o.dataKey);
  if (!at || at.index === 0) {
    throw new SkiffError(
      'failed_precondition',
      `--force-new-cluster: ${dir} holds no cluster state to start from`,
      {
        hint: 'start the node without --force-new-cluster to create a new cluster',
      },
    );
  }
  const data = o.stateMachine.snapshot();
  const old = `${dir}.old-${Date.now()}`;
  await rename(dir, old);
  try {
    await seedSingleVoter(dir, {
      id: o.nodeId,
      addr: o.raftAddr,
      index: at.index,
      term: at.hardTerm,
      data,
      dataKey: o.dataKey,
    });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    await rename(old, dir);
    throw e;
  }
  o.log.warn(
    { nodeId: o.nodeId, index: at.index, term: at.hardTerm, previous: old },
    'forced a new cluster from this manager’s committed state: it is now the only manager',
  );
}
