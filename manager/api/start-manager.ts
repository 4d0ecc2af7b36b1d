import { chmod, lstat, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../../lib/index.js';
import { SkiffError, silentLogger } from '../../lib/index.js';
import {
  bootstrapCluster,
  caKeyPairOf,
  createRootCa,
  describeNodeCertificate,
  issueNodeCertificate,
  JoinService,
  loadIdentity,
  type NodeIdentity,
  newPrivateKey,
  publicKeyOf,
  saveIdentity,
} from '../ca/index.js';
import {
  createAesGcmCipher,
  LocalReplicator,
  loadOrCreateSecretKey,
  newObjectId,
  type Replicator,
  SnapshotFile,
  Store,
} from '../store/index.js';
import type { LogSource } from './context.js';
import { type ApiServerOptions, createApiServer } from './server.js';

export interface StartManagerOptions {
  /** The manager's state directory (`/var/lib/skiff/<node>/`): node ID, keys, store state. */
  stateDir: string;
  /** The API's unix socket (`/run/skiff/skiff.sock`); created root-only (0600). */
  socketPath: string;
  /** Also serve the API (and joining) on TCP, with client-certificate authentication. */
  tcp?: { host: string; port: number };
  /** Defaults to the ID kept in `<stateDir>/node-id`, made on first start. */
  nodeId?: string;
  hostname: string;
  /** host:port other nodes reach this manager at. */
  advertiseAddr?: string;
  version?: string;
  logger?: Logger;
  /** Task logs from the node agents (the daemon's local agent in single-node mode). */
  logs?: LogSource;
  /** Routes the daemon adds before the API starts listening. */
  extraRoutes?: ApiServerOptions['extraRoutes'];
}

export interface RunningManager {
  nodeId: string;
  store: Store;
  replicator: Replicator;
  api: FastifyInstance;
  /** The API on TCP (mTLS), when asked for. */
  tcpApi: FastifyInstance | undefined;
  /** This manager's TLS identity (CA certificate and key, node certificate and key). */
  identity: NodeIdentity;
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
  const identity = await loadOrCreateManagerIdentity(o.stateDir, nodeId, store.getCluster()?.ID);
  const clusterId = store.getCluster()?.ID ?? describeNodeCertificate(identity.certPem).clusterId;
  await bootstrapCluster(store, {
    nodeId,
    hostname: o.hostname,
    addr,
    engineVersion: version,
    rootCaPem: identity.caPem,
    clusterId,
  });

  const ca = caKeyPairOf(identity);
  const common: ApiServerOptions = {
    store,
    replicator,
    logger: o.logger ?? silentLogger,
    info: { nodeId, hostname: o.hostname, addr, stateDir: o.stateDir, version },
    forward: { tls: { certPem: identity.certPem, keyPem: identity.keyPem, caPem: identity.caPem } },
    ...(ca ? { join: new JoinService({ store, ca, logger: o.logger ?? silentLogger }) } : {}),
    ...(o.logs ? { logs: o.logs } : {}),
    ...(o.extraRoutes ? { extraRoutes: o.extraRoutes } : {}),
  };
  const api = createApiServer(common);
  let tcpApi: FastifyInstance | undefined;
  try {
    await listenUnix(api, o.socketPath);
    if (o.tcp) {
      tcpApi = createApiServer({
        ...common,
        tls: { certPem: identity.certPem, keyPem: identity.keyPem, caPem: identity.caPem },
      });
      await tcpApi.listen({ host: o.tcp.host, port: o.tcp.port });
    }
  } catch (e) {
    await api.close();
    await tcpApi?.close();
    await persistence.stop();
    throw e;
  }
  log.info({ nodeId, socket: o.socketPath, tcp: o.tcp }, 'manager API listening');
  return {
    nodeId,
    store,
    replicator,
    api,
    tcpApi,
    identity,
    flush: () => persistence.flush(),
    async stop() {
      await api.close();
      await tcpApi?.close();
      await persistence.stop();
    },
  };
}

/** The manager's certificates; on the first start of a cluster, a new root CA too. */
async function loadOrCreateManagerIdentity(
  stateDir: string,
  nodeId: string,
  clusterId: string | undefined,
): Promise<NodeIdentity> {
  const existing = await loadIdentity(stateDir);
  if (existing) return existing;
  const id = clusterId ?? newObjectId();
  const ca = createRootCa({ clusterId: id });
  const keyPem = newPrivateKey();
  const certPem = issueNodeCertificate({
    ca,
    publicKeyPem: publicKeyOf(keyPem),
    nodeId,
    role: 'manager',
    clusterId: id,
    validForMs: 90 * 86_400_000,
  });
  const identity: NodeIdentity = { caPem: ca.certPem, caKeyPem: ca.keyPem, certPem, keyPem };
  await saveIdentity(stateDir, identity);
  return identity;
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
