import { chmod, lstat, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../lib/index.js';
import { SkiffError, silentLogger } from '../../lib/index.js';
import {
  bootstrapCluster,
  createAesGcmCipher,
  LocalReplicator,
  loadOrCreateSecretKey,
  newObjectId,
  type Replicator,
  SnapshotFile,
  Store,
} from '../store/index.js';
import { createApiServer } from './server.js';

export interface StartManagerOptions {
  /** The manager's state directory (`/var/lib/skiff/<node>/`): node ID, keys, store state. */
  stateDir: string;
  /** The API's unix socket (`/run/skiff/skiff.sock`); created root-only (0600). */
  socketPath: string;
  /** TCP listening needs client-certificate authentication, which arrives with the CA. */
  tcp?: { host: string; port: number };
  /** Defaults to the ID kept in `<stateDir>/node-id`, made on first start. */
  nodeId?: string;
  hostname: string;
  /** host:port other nodes reach this manager at. */
  advertiseAddr?: string;
  version?: string;
  logger?: Logger;
}

export interface RunningManager {
  nodeId: string;
  store: Store;
  replicator: Replicator;
  api: FastifyInstance;
  /** Resolves once every applied change is on disk. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a single-manager control plane: the store (over its replicator), the
 * cluster bootstrap (cluster object, ingress network, this node as leader manager)
 * and the Docker-compatible API on a unix socket.
 */
export async function startManager(o: StartManagerOptions): Promise<RunningManager> {
  if (o.tcp) {
    throw new SkiffError(
      'unsupported',
      'the API on TCP needs client-certificate authentication, which is not available yet',
      {
        hint: 'use the unix socket',
      },
    );
  }
  const log = (o.logger ?? silentLogger).child({ component: 'manager' });
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const nodeId = o.nodeId ?? (await loadOrCreateNodeId(o.stateDir));
  const store = new Store({
    cipher: createAesGcmCipher(await loadOrCreateSecretKey(o.stateDir)),
    logger: o.logger ?? silentLogger,
  });
  const addr = o.advertiseAddr ?? '127.0.0.1:2377';
  // Until raft lands here, one manager keeps its state as a snapshot file.
  const replicator = new LocalReplicator(store.state, { id: nodeId, addr });
  const persistence = new SnapshotFile(store, join(o.stateDir, 'store.snapshot'), log);
  await persistence.start();
  store.setReplicator(replicator);
  const version = o.version ?? 'dev';
  await bootstrapCluster(store, { nodeId, hostname: o.hostname, addr, engineVersion: version });

  const api = createApiServer({
    store,
    replicator,
    logger: o.logger ?? silentLogger,
    info: { nodeId, hostname: o.hostname, addr, stateDir: o.stateDir, version },
  });
  try {
    await listenUnix(api, o.socketPath);
  } catch (e) {
    await api.close();
    await persistence.stop();
    throw e;
  }
  log.info({ nodeId, socket: o.socketPath }, 'manager API listening');
  return {
    nodeId,
    store,
    replicator,
    api,
    flush: () => persistence.flush(),
    async stop() {
      await api.close();
      await persistence.stop();
    },
  };
}

async function loadOrCreateNodeId(stateDir: string): Promise<string> {
  const file = join(stateDir, 'node-id');
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-z]{25}$/.test(id)) return id;
    throw new SkiffError('corrupt', `${file} does not hold a node ID`, {
      hint: 'remove the file to give this node a new identity',
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const id = newObjectId();
  await writeFile(file, `${id}\n`, { mode: 0o600 });
  return id;
}

/** Listens on a unix socket only root can use: a 0700 parent when we create it, the socket 0600. */
export async function listenUnix(app: FastifyInstance, socketPath: string): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  try {
    const st = await lstat(socketPath);
    if (!st.isSocket())
      throw new SkiffError('already_exists', `${socketPath} exists and is not a socket`, {
        hint: 'remove it or choose another socket path',
      });
    await unlink(socketPath); // a stale socket from a previous run
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await app.listen({ path: socketPath });
  await chmod(socketPath, 0o600);
}
