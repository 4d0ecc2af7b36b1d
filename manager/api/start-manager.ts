import { chmod, lstat, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
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
  type KeyPair,
  loadIdentity,
  loadRaftIdentity,
  type NodeIdentity,
  newPrivateKey,
  publicKeyOf,
  type RaftIdentity,
  type RaftMembership,
  requestJoin,
  saveIdentity,
  saveRaftIdentity,
} from '../ca/index.js';
import { isRaftError, RaftNode } from '../raft/index.js';
import {
  createAesGcmCipher,
  isSecretsKeyLocked,
  loadOrCreateSecretKey,
  lockSecretsKey,
  newObjectId,
  RaftReplicator,
  type Replicator,
  Store,
  sealedUnlockKey,
  UNLOCK_KEY_FIELD,
  unlockSecretsKey,
  unlockSecretsKeyFile,
} from '../store/index.js';
import type { ApiInfo, LogSource } from './context.js';
import { callManager } from './forward.js';
import { createLockedApiServer } from './locked-server.js';
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
  raft?: { listenAddr?: string; advertiseAddr?: string; tickMs?: number; electionTimeoutMs?: number };
  /** How often to check whether the node certificate needs renewing (default hourly). */
  certCheckIntervalMs?: number;
  /** Join an existing cluster as a manager (first start only): a manager's TCP API address and the manager token. */
  join?: { managerAddr: string; token: string };
  /**
   * A join already accepted with the manager role (first start only): the daemon asks
   * first and lets the token decide whether the node runs as a manager or a worker.
   */
  joined?: AcceptedJoin;
  version?: string;
  logger?: Logger;
  /** Task logs from the node agents (the daemon's local agent in single-node mode). */
  logs?: LogSource;
  /** Routes the daemon adds before the API starts listening. */
  extraRoutes?: ApiServerOptions['extraRoutes'];
  /** `/swarm/leave`: the daemon takes the node out (see RunningManager.leaveRaft). */
  leave?: ApiServerOptions['leave'];
  /** A new cluster's address pools and subnet size (kept in the cluster object). */
  addressPool?: { pools: string[]; subnetSize?: number };
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
  /** Where this manager's raft listens. */
  raftAddr: string;
  /** IDs of the raft group's members (voters and learners). */
  raftMembers(): string[];
  /**
   * Takes this manager out of the raft group and the cluster: a leader hands leadership
   * over first, then the (new) leader removes the node and its raft membership.
   */
  leaveRaft(): Promise<void>;
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
  const addr = o.advertiseAddr ?? (o.tcp ? `${o.tcp.host}:${o.tcp.port}` : '127.0.0.1:2377');
  // A manager joining an existing cluster gets its identity, keys and raft peers from it.
  const fresh = !(await loadIdentity(o.stateDir));
  const joined = !fresh
    ? undefined
    : o.joined
      ? await saveManagerJoin(o.stateDir, o.joined)
      : o.join
        ? await joinAsManager(o, addr)
        : undefined;
  const nodeId = joined?.nodeId ?? o.nodeId ?? (await loadOrCreateNodeId(o.stateDir));
  const version = o.version ?? 'dev';
  // Autolock: a locked key waits for `docker swarm unlock` before anything else starts.
  const unlocked = (await isSecretsKeyLocked(o.stateDir))
    ? await waitForUnlock(o, { nodeId, hostname: o.hostname, addr, stateDir: o.stateDir, version }, log)
    : undefined;
  const secretsKey = unlocked?.key ?? (await loadOrCreateSecretKey(o.stateDir));
  const store = new Store({ cipher: createAesGcmCipher(secretsKey), logger: o.logger ?? silentLogger });
  const identity = await loadOrCreateManagerIdentity(o.stateDir, nodeId);
  const raftIdentity = await loadOrCreateRaftIdentity(
    o.stateDir,
    nodeId,
    describeNodeCertificate(identity.certPem).clusterId,
  );
  const raft = await startRaft(o, nodeId, store, raftIdentity, joined?.raftPeers);
  const replicator = new RaftReplicator(raft, { timeoutMs: 10_000 });
  store.setReplicator(replicator);
  const stopRaft = () => raft.stop();
  let api: FastifyInstance | undefined;
  let tcpApi: FastifyInstance | undefined;
  try {
    await waitFor(
      () => raft.status().leaderId !== '',
      o.raft?.electionTimeoutMs ?? 15_000,
      'find the raft leader',
    );
    // The leader makes sure the cluster's objects exist (a new cluster) and its node object is current.
    if (raft.status().leaderId === nodeId) {
      await bootstrapCluster(store, {
        nodeId,
        hostname: o.hostname,
        addr,
        engineVersion: version,
        rootCaPem: identity.caPem,
        clusterId: store.getCluster()?.ID ?? describeNodeCertificate(identity.certPem).clusterId,
        ...(o.addressPool ? { defaultAddrPool: o.addressPool.pools } : {}),
        ...(o.addressPool?.subnetSize ? { subnetSize: o.addressPool.subnetSize } : {}),
      });
    }

    const ca = caKeyPairOf(identity);
    // One membership change at a time in raft: a join while another manager is being
    // promoted waits its turn instead of failing.
    const membership: RaftMembership = {
      addLearner: (id, raftAddr) => retryConfChange(() => raft.addLearner(id, raftAddr)),
      promote: (id, opts) => raft.promote(id, opts),
      members: () => raft.status().members.map((m) => ({ id: m.id, addr: m.addr })),
      removeMember: (id) => retryConfChange(() => raft.removeMember(id)),
    };
    const common: ApiServerOptions = {
      store,
      replicator,
      logger: o.logger ?? silentLogger,
      info: { nodeId, hostname: o.hostname, addr, stateDir: o.stateDir, version },
      raft: membership,
      // The identity object itself: a renewed certificate is used from the next call on.
      forward: { tls: identity },
      ...(ca
        ? {
            join: new JoinService({
              raftCa: { certPem: raftIdentity.caPem, keyPem: raftIdentity.caKeyPem },
              store,
              ca,
              logger: o.logger ?? silentLogger,
              raft: membership,
              secretsKey,
            }),
          }
        : {}),
      ...(o.logs ? { logs: o.logs } : {}),
      ...(o.extraRoutes ? { extraRoutes: o.extraRoutes } : {}),
      ...(o.leave ? { leave: o.leave } : {}),
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
  const keyPolicy = followAutolock(store, o.stateDir, secretsKey, unlocked?.unlockKey, log);
  const stopRenewal = keepCertificateFresh(o, nodeId, identity, tcpApi, log);
  return {
    nodeId,
    store,
    replicator,
    api: unixApi,
    tcpApi,
    identity,
    raftAddr: raft.addr,
    raftMembers: () => raft.status().members.map((m) => m.id),
    leaveRaft: () => leaveRaft(raft, store, nodeId, identity),
    // Raft persists (and fsyncs) every entry before it is applied; the key file may lag.
    flush: () => keyPolicy.settled(),
    async stop() {
      keyPolicy.stop();
      stopRenewal();
      await keyPolicy.settled();
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
  identity: RaftIdentity,
  joinPeers: { id: string; addr: string }[] | undefined,
): Promise<RaftNode> {
  const listenAddr = o.raft?.listenAddr ?? '127.0.0.1:0';
  const tls = {
    rootCerts: Buffer.from(identity.caPem),
    keyCerts: [{ private_key: Buffer.from(identity.keyPem), cert_chain: Buffer.from(identity.certPem) }],
  };
  return RaftNode.start({
    id: nodeId,
    dataDir: join(o.stateDir, 'raft'),
    // A new cluster starts with this manager alone; a joining one contacts the members it was given.
    peers: joinPeers ?? [{ id: nodeId, addr: o.raft?.advertiseAddr ?? listenAddr }],
    listenAddr,
    stateMachine: store.stateMachine,
    ...(o.raft?.tickMs ? { tickMs: o.raft.tickMs } : {}),
    // Managers talk raft over mTLS with certificates of the managers-only raft CA (names
    // are node IDs, not hosts): a worker's certificate fails the handshake.
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

async function leaveRaft(
  raft: RaftNode,
  store: Store,
  nodeId: string,
  identity: NodeIdentity,
): Promise<void> {
  if (raft.status().leaderId === nodeId) {
    await raft.transferLeadership(undefined, { timeoutMs: 10_000 });
    await waitFor(
      () => raft.status().leaderId !== '' && raft.status().leaderId !== nodeId,
      10_000,
      'hand leadership over',
    );
  }
  const leaderId = raft.status().leaderId;
  const addr = leaderId ? store.getNode(leaderId)?.ManagerStatus?.Addr : undefined;
  if (!addr) {
    throw new SkiffError('unavailable', 'no leader is known, so this manager cannot be removed from raft', {
      hint: 'retry in a moment, or leave with --force',
    });
  }
  const res = await callManager(addr, 'DELETE', `/nodes/${nodeId}?force=true`, undefined, { tls: identity });
  if (res.status >= 300) {
    const message = (JSON.parse(res.body.toString() || '{}') as { message?: string }).message;
    throw new SkiffError('unavailable', `the leader did not remove this manager: ${message ?? res.status}`);
  }
}

async function retryConfChange(change: () => Promise<void>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await change();
    } catch (e) {
      if (!isRaftError(e, 'conf_pending') || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) {
      throw new SkiffError('unavailable', `this manager could not ${what} within ${timeoutMs}ms`, {
        hint: 'check that the raft addresses are reachable and the state directory belongs to this cluster',
      });
    }
    // Short: a single manager leads within milliseconds of its raft start.
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Renews this manager's node certificate from the cluster CA once two thirds of its
 * lifetime have passed, saves it and swaps it into the TCP API without a restart.
 */
function keepCertificateFresh(
  o: StartManagerOptions,
  nodeId: string,
  identity: NodeIdentity,
  tcpApi: FastifyInstance | undefined,
  log: Logger,
): () => void {
  const check = async () => {
    const ca = caKeyPairOf(identity);
    if (!ca) return;
    const info = describeNodeCertificate(identity.certPem);
    const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
    if (Date.now() < info.notBefore.getTime() + (lifetime * 2) / 3) return;
    const keyPem = newPrivateKey();
    identity.certPem = issueNodeCertificate({
      ca,
      publicKeyPem: publicKeyOf(keyPem),
      nodeId,
      role: 'manager',
      clusterId: info.clusterId,
      validForMs: lifetime,
    });
    identity.keyPem = keyPem;
    await saveIdentity(o.stateDir, identity);
    (tcpApi?.server as TlsServer | undefined)?.setSecureContext({
      key: identity.keyPem,
      cert: identity.certPem + identity.caPem,
      ca: identity.caPem,
    });
    log.info(
      { nodeId, notAfter: describeNodeCertificate(identity.certPem).notAfter },
      'node certificate renewed',
    );
  };
  const run = () =>
    void check().catch((err: unknown) => log.error({ err: String(err) }, 'certificate renewal failed'));
  const timer = setInterval(run, o.certCheckIntervalMs ?? 3_600_000);
  timer.unref();
  run();
  return () => clearInterval(timer);
}

/** Serves the locked API on the socket until a correct unlock key arrives. */
async function waitForUnlock(
  o: StartManagerOptions,
  info: ApiInfo,
  log: Logger,
): Promise<{ key: Uint8Array; unlockKey: string }> {
  let done!: (v: { key: Uint8Array; unlockKey: string }) => void;
  const unlocked = new Promise<{ key: Uint8Array; unlockKey: string }>((resolve) => {
    done = resolve;
  });
  const app = createLockedApiServer({
    info,
    log,
    unlock: async (unlockKey) => done({ key: await unlockSecretsKey(o.stateDir, unlockKey), unlockKey }),
  });
  await listenUnix(app, o.socketPath);
  log.warn({ socket: o.socketPath }, 'this manager is locked: run `docker swarm unlock` with the unlock key');
  try {
    return await unlocked;
  } finally {
    await app.close();
  }
}

/**
 * Keeps this manager's key file in the form the cluster asks for: locked with the
 * cluster's unlock key while autolock is on, in clear (0600) when it is off.
 */
function followAutolock(
  store: Store,
  stateDir: string,
  key: Uint8Array,
  lockedWith: string | undefined,
  log: Logger,
): { settled(): Promise<void>; stop(): void } {
  let current = lockedWith;
  let chain = Promise.resolve();
  const apply = () => {
    chain = chain
      .then(async () => {
        const cluster = store.getCluster();
        const sealed = sealedUnlockKey(cluster);
        if (cluster?.Spec.EncryptionConfig?.AutoLockManagers && sealed) {
          const unlockKey = Buffer.from(store.open(sealed, UNLOCK_KEY_FIELD)).toString();
          if (unlockKey === current) return;
          await lockSecretsKey(stateDir, key, unlockKey);
          current = unlockKey;
          log.info('autolock: the secrets key is now locked with the cluster unlock key');
        } else if (current !== undefined) {
          await unlockSecretsKeyFile(stateDir, key);
          current = undefined;
          log.info('autolock off: the secrets key is stored unlocked');
        }
      })
      .catch((err: unknown) => log.error({ err: String(err) }, 'autolock: could not update the key file'));
  };
  const unsubscribe = store.subscribe(apply, { tables: ['cluster'] });
  apply();
  return { settled: () => chain, stop: unsubscribe };
}

/** Joins with a manager token: saves the identity, node ID and store key it receives. */
async function joinAsManager(
  o: StartManagerOptions,
  addr: string,
): Promise<{ nodeId: string; raftPeers: { id: string; addr: string }[] }> {
  const j = o.join!;
  const raftAddr = o.raft?.advertiseAddr ?? o.raft?.listenAddr;
  if (!raftAddr || raftAddr.endsWith(':0')) {
    throw new SkiffError(
      'invalid_argument',
      'a joining manager needs a fixed raft address (raft.listenAddr)',
      {
        hint: 'other managers connect to it',
      },
    );
  }
  const res = await requestJoin({
    managerAddr: j.managerAddr,
    token: j.token,
    hostname: o.hostname,
    addr,
    raftAddr,
  });
  return saveManagerJoin(o.stateDir, res);
}

/** What `requestJoin` answers. */
export type AcceptedJoin = Awaited<ReturnType<typeof requestJoin>>;

/** Keeps what a manager join brought (identity, raft identity, node ID, store key) in the state directory. */
async function saveManagerJoin(
  stateDir: string,
  res: AcceptedJoin,
): Promise<{ nodeId: string; raftPeers: { id: string; addr: string }[] }> {
  if (res.role !== 'manager' || !res.manager) {
    throw new SkiffError(
      'invalid_argument',
      'this is a worker token: a manager joins with the manager token',
      {
        hint: 'get it with `skiff cluster join-token manager` on a manager',
      },
    );
  }
  await saveIdentity(stateDir, res.identity);
  await saveRaftIdentity(
    stateDir,
    issueRaftIdentity(
      res.manager.raftCa,
      res.nodeId,
      describeNodeCertificate(res.identity.certPem).clusterId,
    ),
  );
  await writeFile(join(stateDir, 'node-id'), `${res.nodeId}\n`, { mode: 0o600 });
  await writeFile(join(stateDir, 'secrets.key'), Buffer.from(res.manager.secretsKey, 'base64'), {
    mode: 0o600,
  });
  return { nodeId: res.nodeId, raftPeers: res.manager.raftPeers };
}

/** The manager's certificates; on the first start of a cluster, a new root CA too. */
/** The raft CA and this manager's raft certificate; a new cluster makes the CA. */
async function loadOrCreateRaftIdentity(
  stateDir: string,
  nodeId: string,
  clusterId: string,
): Promise<RaftIdentity> {
  const existing = await loadRaftIdentity(stateDir);
  if (existing) return existing;
  const identity = issueRaftIdentity(
    createRootCa({ clusterId, commonName: 'skiff-raft-ca' }),
    nodeId,
    clusterId,
  );
  await saveRaftIdentity(stateDir, identity);
  return identity;
}

function issueRaftIdentity(ca: KeyPair, nodeId: string, clusterId: string): RaftIdentity {
  const keyPem = newPrivateKey();
  const certPem = issueNodeCertificate({
    ca,
    publicKeyPem: publicKeyOf(keyPem),
    nodeId,
    role: 'manager',
    clusterId,
    validForMs: 10 * 365 * 86_400_000,
  });
  return { caPem: ca.certPem, caKeyPem: ca.keyPem, certPem, keyPem };
}

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
