import { chmod, lstat, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
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
import { RaftNode } from '../raft/index.js';
import {
  createAesGcmCipher,
  loadOrCreateSecretKey,
  newObjectId,
  RaftReplicator,
  type Replicator,
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
  /** host:port other nodes reach this manager's API at. */
  advertiseAddr?: string;
  /** Raft: where it listens (default 127.0.0.1 on a free port, for a single manager). */
  raft?: { listenAddr?: string; tickMs?: number; electionTimeoutMs?: number };
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
 * Starts a single-manager control plane: the store over a single-node raft group
 * (WAL and snapshots in `<stateDir>/raft`, mTLS with the node certificate), the
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
  const identity = await loadOrCreateManagerIdentity(o.stateDir, nodeId);
  const raft = await startRaft(o, nodeId, store, identity);
  const replicator = new RaftReplicator(raft, { timeoutMs: 10_000 });
  store.setReplicator(replicator);
  const stopRaft = () => raft.stop();
  let api: FastifyInstance | undefined;
  let tcpApi: FastifyInstance | undefined;
  try {
    await waitForLeadership(raft, o.raft?.electionTimeoutMs ?? 15_000);
    const version = o.version ?? 'dev';
    await bootstrapCluster(store, {
      nodeId,
      hostname: o.hostname,
      addr,
      engineVersion: version,
      rootCaPem: identity.caPem,
      clusterId: store.getCluster()?.ID ?? describeNodeCertificate(identity.certPem).clusterId,
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
    api = createApiServer(common);
    await listenUnix(api, o.socketPath);
    if (o.tcp) {
      tcpApi = createApiServer({
        ...common,
        tls: { certPem: identity.certPem, keyPem: identity.keyPem, caPem: identity.caPem },
      });
      await tcpApi.listen({ host: o.tcp.host, port: o.tcp.port });
    }
  } catch (e) {
    await api?.close();
    await tcpApi?.close();
    await stopRaft();
    throw e;
  }
  log.info({ nodeId, socket: o.socketPath, tcp: o.tcp, raft: raft.addr }, 'manager API listening');
  const unixApi = api;
  return {
    nodeId,
    store,
    replicator,
    api: unixApi,
    tcpApi,
    identity,
    // Raft persists (and fsyncs) every entry before it is applied: nothing to flush.
    flush: async () => {},
    async stop() {
      await unixApi.close();
      await tcpApi?.close();
      await stopRaft();
    },
  };
}

/** A single-node raft group on first start; later starts recover it from `<stateDir>/raft`. */
async function startRaft(
  o: StartManagerOptions,
  nodeId: string,
  store: Store,
  identity: NodeIdentity,
): Promise<RaftNode> {
  const listenAddr = o.raft?.listenAddr ?? '127.0.0.1:0';
  const tls = {
    rootCerts: Buffer.from(identity.caPem),
    keyCerts: [{ private_key: Buffer.from(identity.keyPem), cert_chain: Buffer.from(identity.certPem) }],
  };
  return RaftNode.start({
    id: nodeId,
    dataDir: join(o.stateDir, 'raft'),
    peers: [{ id: nodeId, addr: listenAddr }],
    listenAddr,
    stateMachine: store.stateMachine,
    ...(o.raft?.tickMs ? { tickMs: o.raft.tickMs } : {}),
    // Managers talk raft over mTLS with their node certificates (names are node IDs, not hosts).
    serverCredentials: grpc.ServerCredentials.createSsl(tls.rootCerts, tls.keyCerts, true),
    channelCredentials: grpc.credentials.createSsl(
      tls.rootCerts,
      tls.keyCerts[0]!.private_key,
      tls.keyCerts[0]!.cert_chain,
      {
        checkServerIdentity: () => undefined,
      },
    ),
  });
}

async function waitForLeadership(raft: RaftNode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (raft.status().role !== 'leader') {
    if (Date.now() > deadline) {
      throw new SkiffError(
        'unavailable',
        `this manager did not become the raft leader within ${timeoutMs}ms`,
        {
          hint: "check that the raft listen address is free and the state directory is this cluster's",
        },
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The manager's certificates; on the first start of a cluster, a new root CA too. */
async function loadOrCreateManagerIdentity(stateDir: string, nodeId: string): Promise<NodeIdentity> {
  const existing = await loadIdentity(stateDir);
  if (existing) return existing;
  const id = newObjectId();
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
