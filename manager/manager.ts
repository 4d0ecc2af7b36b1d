// A manager: the replicated store over raft, the cluster CA, the Docker-compatible API
// (unix socket; TCP with mTLS in cluster mode), the dispatcher that agents talk to, and
// the leader's loops. The leader's work (dispatching, allocation, orchestration,
// scheduling) starts when this manager becomes the raft leader and stops when it no
// longer is, on raft's leader-change events.

import { join } from 'node:path';
import type { Server as TlsServer } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { privateDir } from '../disk/index.js';
import type { DispatcherApi, Logger, TaskStatsSample } from '../lib/index.js';
import { boundedStep, SkiffError, silentLogger } from '../lib/index.js';
import {
  type ApiInfo,
  type ApiServerOptions,
  createApiServer,
  EventLog,
  type LogSource,
  listenUnix,
} from './api/index.js';
import { type AutolockFollower, followAutolock, waitForUnlock } from './autolock/index.js';
import { forceNewCluster, takeBackup } from './backup/index.js';
import {
  bootstrapCluster,
  caKeyPairOf,
  describeNodeCertificate,
  hasIdentity,
  JoinService,
  keepCertificateFresh,
  keyFileSealer,
  mtlsChannelCredentials,
  mtlsServerCredentials,
  type NodeIdentity,
  type RaftIdentity,
  raftPeerMember,
  renewFromOwnCa,
} from './ca/index.js';
import { clusterLogSource } from './cluster-logs.js';
import { clusterStatsSource } from './cluster-stats.js';
import {
  addDispatcherService,
  Dispatcher,
  LeaderDispatcher,
  storeDispatcherPort,
} from './dispatcher/index.js';
import {
  type AcceptedJoin,
  type JoinedManager,
  loadOrCreateManagerIdentity,
  loadOrCreateNodeId,
  loadOrCreateRaftIdentity,
  saveManagerJoin,
} from './identity/index.js';
import { LeaderLoops, type LeaderOptions } from './leader/index.js';
import { joinAsManager, leaveRaft, raftMembership, waitForLeader } from './membership/index.js';
import type { ManagerMetricsHooks, ManagerMetricsSnapshot } from './metrics-hooks.js';
import { type DataKeyRing, RaftNode } from './raft/index.js';
import { RaftDataKeys } from './raft-data-key.js';
import {
  createAesGcmCipher,
  isSecretsKeyLocked,
  loadOrCreateSecretKey,
  RaftReplicator,
  ReadGate,
  type Replicator,
  type StateMachine,
  Store,
} from './store/index.js';

/** How long a node may take to answer a stats read before the read goes on without it. */
const STATS_NODE_TIMEOUT_MS = 2000;

export interface ManagerOptions {
  /** The manager's state directory (`/var/lib/skiff/<node>/`): node ID, keys, store state. */
  stateDir: string;
  /** The API's unix socket (`/run/skiff/skiff.sock`); created root-only (0600). */
  socketPath: string;
  /**
   * Also serve the API (and joining) on TCP, with client-certificate authentication;
   * `bodyTimeoutMs`: how long an authenticated body may take to arrive (default 60 s).
   */
  tcp?: { host: string; port: number; bodyTimeoutMs?: number };
  /** Defaults to the ID kept in `<stateDir>/node-id`, made on first start. */
  nodeId?: string;
  hostname: string;
  /** host:port other nodes reach this manager's API at. */
  advertiseAddr?: string;
  /**
   * Raft: where it listens (default 127.0.0.1 on a free port, for a single manager).
   * `standalone`: a single-node skiff's manager, which no other manager ever joins: its
   * raft listens nowhere while it is the only member (RaftNodeOptions.standalone).
   */
  raft?: {
    listenAddr?: string;
    advertiseAddr?: string;
    tickMs?: number;
    electionTimeoutMs?: number;
    standalone?: boolean;
  };
  /** Snapshot the store and compact the raft log every this many entries (default 10,000). */
  raftSnapshotInterval?: number;
  /** How often to check whether the node certificate needs renewing (default hourly). */
  certCheckIntervalMs?: number;
  /** Join an existing cluster as a manager (first start only): a manager's TCP API address and the manager token. */
  join?: { managerAddr: string; token: string };
  /**
   * A join already accepted with the manager role (first start only): the node asks
   * first and lets the token decide whether it runs as a manager or a worker.
   */
  joined?: AcceptedJoin;
  version?: string;
  /** What confines the node's containers, for /info (the node's agent answers). */
  security?: ApiInfo['security'];
  /** The node's containers and images, for /info (the node's agent answers). */
  counts?: ApiInfo['counts'];
  logger?: Logger;
  /** Task logs from the node agents (the node's own agent in single-node mode). */
  logs?: LogSource;
  /** The CPU and memory of the node's own running tasks (its agent), read now. */
  stats?: (taskIds: readonly string[]) => Promise<TaskStatsSample[]>;
  /** Routes the node adds before the API starts listening. */
  extraRoutes?: ApiServerOptions['extraRoutes'];
  /** `/swarm/leave`: the node takes itself out (see Manager.leaveRaft). */
  leave?: ApiServerOptions['leave'];
  /** The node's own local networks (its agent's), served beside the cluster's. */
  localNetworks?: ApiServerOptions['localNetworks'];
  /** A new cluster's address pools and subnet size (kept in the cluster object). */
  addressPool?: { pools: string[]; subnetSize?: number };
  /**
   * The dispatcher agents talk to: one in process for a single-node cluster, or the
   * leader's, served over gRPC with mTLS, in cluster mode. None: a manager without agents.
   */
  dispatcher?: ManagerDispatcherOptions;
  /**
   * Run the leader's loops (allocation, orchestration, scheduling) while this manager
   * leads; a promise when the options come from something still running (the host's
   * routes). None: the control plane only, whose tasks nobody schedules (API tests).
   */
  leaderLoops?: LeaderOptions | Promise<LeaderOptions>;
  /** This node's own events (its containers) for `GET /events`. */
  localEvents?: ApiServerOptions['localEvents'];
  /** The node's metrics: told of proposals, applies, leader changes and API requests. */
  metrics?: ManagerMetricsHooks;
  /**
   * Start as the only manager of a new cluster made from this manager's committed state
   * (Swarm's `--force-new-cluster`): for a survivor of a cluster that lost quorum.
   */
  forceNewCluster?: boolean;
}

export type ManagerDispatcherOptions =
  | { kind: 'in-process' }
  | { kind: 'grpc'; listenAddr: string; heartbeatPeriodMs?: number };

interface ManagerParts {
  nodeId: string;
  store: Store;
  replicator: Replicator;
  raft: RaftNode;
  api: FastifyInstance;
  tcpApi: FastifyInstance | undefined;
  events: EventLog;
  identity: NodeIdentity;
  dispatcher: Dispatcher | LeaderDispatcher | undefined;
  dispatcherServer: grpc.Server | undefined;
  leaderLoops: LeaderLoops | undefined;
  keyPolicy: AutolockFollower;
  /** Settles once the raft data key file's pending rewrites are done. */
  dataKeysSettled: () => Promise<void>;
  readGate: ReadGate;
  stopRenewal: () => void;
  log: Logger;
  metrics: ManagerMetricsHooks | undefined;
}

export class Manager {
  readonly nodeId: string;
  readonly store: Store;
  readonly replicator: Replicator;
  /** The API on the unix socket. */
  readonly api: FastifyInstance;
  /** The API on TCP (mTLS), when asked for. */
  readonly tcpApi: FastifyInstance | undefined;
  /** This manager's TLS identity (CA certificate and key, node certificate and key); renewed in place. */
  readonly identity: NodeIdentity;
  /** Resolves when raft's storage failed and it stopped: the process should exit (RaftNode.failed). */
  readonly failed: Promise<Error>;
  private stopLeadershipEvents: () => void = () => {};
  private stopping = false;

  private constructor(private readonly parts: ManagerParts) {
    this.nodeId = parts.nodeId;
    this.store = parts.store;
    this.replicator = parts.replicator;
    this.api = parts.api;
    this.tcpApi = parts.tcpApi;
    this.identity = parts.identity;
    this.failed = parts.raft.failed;
    // The process exits on a failed raft, but its stop can take seconds: no stale reads meanwhile.
    void this.failed.then((e) => parts.readGate.fail(`its raft log cannot be written (${e.message})`));
  }

  /**
   * Starts a manager: the store over raft (WAL and snapshots in `<stateDir>/raft`, mTLS
   * with the raft certificates), the cluster bootstrap when it leads (cluster object,
   * ingress network, its node object), the API, the dispatcher, and the leader's work
   * while it leads.
   */
  static async start(o: ManagerOptions): Promise<Manager> {
    const rootLog = o.logger ?? silentLogger;
    const log = rootLog.child({ component: 'manager' });
    await privateDir(o.stateDir);
    const addr = o.advertiseAddr ?? (o.tcp ? `${o.tcp.host}:${o.tcp.port}` : '127.0.0.1:2377');
    // A manager joining an existing cluster gets its identity, keys and raft peers from it.
    const joined = await joinOnFirstStart(o, addr);
    const nodeId = joined?.nodeId ?? o.nodeId ?? (await loadOrCreateNodeId(o.stateDir));
    const version = o.version ?? 'dev';
    const info = {
      nodeId,
      hostname: o.hostname,
      addr,
      stateDir: o.stateDir,
      version,
      ...(o.security ? { security: o.security } : {}),
      ...(o.counts ? { counts: o.counts } : {}),
    };
    // Autolock: a locked key waits for `docker swarm unlock` before anything else starts.
    const unlocked = (await isSecretsKeyLocked(o.stateDir)) ? await waitForUnlock(o, info, log) : undefined;
    const secretsKey = unlocked?.key ?? (await loadOrCreateSecretKey(o.stateDir));
    const store = new Store({ cipher: createAesGcmCipher(secretsKey), logger: rootLog });
    // Certificate keys locked under autolock open with the (now unlocked) store key.
    const keySealer = keyFileSealer(secretsKey);
    const identity = await loadOrCreateManagerIdentity(o.stateDir, nodeId, keySealer);
    const raftIdentity = await loadOrCreateRaftIdentity(
      o.stateDir,
      nodeId,
      describeNodeCertificate(identity.certPem).clusterId,
      keySealer,
    );
    // The raft data keys, wrapped by the unlock key under autolock (else by the store key).
    const dataKeys = await RaftDataKeys.open(o.stateDir, nodeId, {
      storeKey: secretsKey,
      unlockKey: unlocked?.unlockKey,
    });
    if (o.forceNewCluster) {
      await forceNewCluster({
        stateDir: o.stateDir,
        nodeId,
        raftAddr: o.raft?.advertiseAddr ?? o.raft?.listenAddr ?? '127.0.0.1:0',
        stateMachine: store.stateMachine,
        dataKey: dataKeys.ring(),
        log,
      });
    }
    const raft = await startRaft(o, nodeId, store, raftIdentity, joined?.raftPeers, dataKeys.ring());
    // A rotation a crash interrupted, or a directory still sealed with key 0 (an older
    // skiff): re-sealed at the next snapshot, after which the older keys are forgotten.
    // The forgetting is waited for at stop: raft's stop settles a pending re-seal, and a key
    // file written after the node left would outlive `cluster leave`'s removal of it.
    const forgetting = new Set<Promise<void>>();
    const resealed = (what: Promise<number[]>) => {
      const done = what
        .then((inUse) => dataKeys.forget(inUse))
        .catch((err: unknown) =>
          log.error({ err: String(err) }, 'raft data key: could not forget the old key'),
        );
      forgetting.add(done);
      void done.finally(() => forgetting.delete(done));
    };
    if (dataKeys.hasOlderKeys()) void resealed(raft.rotateDataKey(dataKeys.ring()));
    const replicator = timedReplicator(new RaftReplicator(raft, { timeoutMs: 10_000 }), o.metrics);
    store.setReplicator(replicator);
    let api: FastifyInstance | undefined;
    let tcpApi: FastifyInstance | undefined;
    let dispatcherServer: grpc.Server | undefined;
    let dispatcher: Dispatcher | LeaderDispatcher | undefined;
    let readGate: ReadGate | undefined;
    // One event log for both API servers: the same events, with the same times, on each.
    const events = new EventLog(store, () => new Date(), undefined, undefined, o.localEvents);
    try {
      await waitForLeader(
        raft,
        (id) => id !== '',
        o.raft?.electionTimeoutMs ?? 15_000,
        'find the raft leader',
      );
      // Nothing is read from the store before it has applied what the cluster committed.
      readGate = new ReadGate({ barrier: () => raft.readBarrier({ timeoutMs: 10_000 }), retryMs: 250 });
      // The leader makes sure the cluster's objects exist (a new cluster) and its node object is current.
      if (raft.status().leaderId === nodeId) {
        await readGate.wait();
        await bootstrapCluster(store, {
          nodeId,
          hostname: o.hostname,
          addr,
          engineVersion: version,
          rootCaPem: identity.caPem,
          clusterId: store.getCluster()?.ID ?? describeNodeCertificate(identity.certPem).clusterId,
          ...(o.addressPool ? { defaultAddrPool: o.addressPool.pools } : {}),
          ...(o.addressPool?.subnetSize ? { subnetSize: o.addressPool.subnetSize } : {}),
          soleManager: raft.status().members.every((m) => m.id === nodeId),
        });
      }
      const ca = caKeyPairOf(identity);
      const membership = raftMembership(raft);
      const common: ApiServerOptions = {
        store,
        replicator,
        logger: rootLog,
        info,
        raft: membership,
        // The identity object itself: a renewed certificate is used from the next call on.
        forward: { tls: identity },
        ...(ca
          ? {
              join: new JoinService({
                raftCa: { certPem: raftIdentity.caPem, keyPem: raftIdentity.caKeyPem },
                store,
                ca,
                logger: rootLog,
                raft: membership,
                secretsKey,
              }),
            }
          : {}),
        logs: clusterLogSource({
          nodeId,
          local: o.logs,
          remote: (node, req, signal) => {
            if (!dispatcher) throw new SkiffError('unavailable', 'this manager does not dispatch yet');
            return dispatcher.taskLogs(node, req, signal);
          },
        }),
        stats: clusterStatsSource({
          nodeId,
          local: o.stats,
          remote: (node, ids, timeoutMs) => {
            if (!dispatcher) throw new SkiffError('unavailable', 'this manager does not dispatch yet');
            return dispatcher.taskStats(node, ids, timeoutMs);
          },
          timeoutMs: STATS_NODE_TIMEOUT_MS,
        }),
        ...(o.extraRoutes ? { extraRoutes: o.extraRoutes } : {}),
        ...(o.leave ? { leave: o.leave } : {}),
        ...(o.localNetworks ? { localNetworks: o.localNetworks } : {}),
        readGate,
        events,
        ...(o.metrics ? { onRequest: (r) => o.metrics?.apiRequest(r) } : {}),
      };
      // Backups only on the root-only unix socket: they carry the CA key and the secrets key.
      api = createApiServer({
        ...common,
        backup: () => takeBackup({ stateDir: o.stateDir, nodeId, store, term: () => raft.status().term }),
      });
      await listenUnix(api, o.socketPath);
      if (o.tcp) {
        tcpApi = createApiServer({
          ...common,
          tls: { certPem: identity.certPem, keyPem: identity.keyPem, caPem: identity.caPem },
          ...(o.tcp.bodyTimeoutMs ? { bodyTimeoutMs: o.tcp.bodyTimeoutMs } : {}),
        });
        await tcpApi.listen({ host: o.tcp.host, port: o.tcp.port });
      }
      if (o.dispatcher?.kind === 'in-process') {
        dispatcher = new Dispatcher({ store: storeDispatcherPort(store), log: rootLog });
      } else if (o.dispatcher?.kind === 'grpc') {
        const leaderDispatcher = new LeaderDispatcher({
          store,
          log: rootLog,
          leaderAddr: () => leaderApiAddr(store, replicator),
          ...(o.dispatcher.heartbeatPeriodMs ? { heartbeatPeriodMs: o.dispatcher.heartbeatPeriodMs } : {}),
        });
        dispatcher = leaderDispatcher;
        dispatcherServer = new grpc.Server();
        addDispatcherService(dispatcherServer, leaderDispatcher);
        await bind(dispatcherServer, o.dispatcher.listenAddr, mtlsServerCredentials(identity));
      }
    } catch (e) {
      readGate?.close();
      dispatcherServer?.forceShutdown();
      dispatcher?.stop();
      await api?.close();
      await tcpApi?.close();
      events.close();
      await raft.stop();
      throw e;
    }
    log.info(
      { nodeId, socket: o.socketPath, tcp: o.tcp, raft: raft.addr || 'standalone' },
      'manager API listening',
    );
    const keyPolicy = followAutolock(store, o.stateDir, secretsKey, unlocked?.unlockKey, log, {
      // What locks the key files changes: a new raft data key, the log re-sealed with it.
      rekey: async (unlockKey, change) => {
        const ring = await dataKeys.rotate({ storeKey: secretsKey, unlockKey }, change);
        void resealed(raft.rotateDataKey(ring));
      },
    });
    const servedTcp = tcpApi;
    const stopRenewal = keepCertificateFresh({
      stateDir: o.stateDir,
      nodeId,
      identity,
      renew: renewFromOwnCa(nodeId),
      sealKeys: () => (keyPolicy.locked() ? keySealer : undefined),
      // The TCP API serves the new certificate without a restart.
      onRenewed: (id) =>
        (servedTcp?.server as TlsServer | undefined)?.setSecureContext({
          key: id.keyPem,
          cert: id.certPem + id.caPem,
          ca: id.caPem,
        }),
      log,
      ...(o.certCheckIntervalMs ? { checkIntervalMs: o.certCheckIntervalMs } : {}),
    });
    const manager = new Manager({
      nodeId,
      store,
      replicator,
      raft,
      api,
      tcpApi,
      events,
      identity,
      dispatcher,
      dispatcherServer,
      leaderLoops: o.leaderLoops ? new LeaderLoops(store, rootLog, await o.leaderLoops) : undefined,
      keyPolicy,
      dataKeysSettled: async () => {
        await Promise.all([...forgetting]);
      },
      readGate,
      stopRenewal,
      log: rootLog,
      metrics: o.metrics,
    });
    manager.followLeadership();
    return manager;
  }

  /** The figures a metrics scrape reads: raft's position and the dispatcher's sessions and queues. */
  metricsSnapshot(): ManagerMetricsSnapshot {
    const s = this.parts.raft.status();
    const d = this.parts.dispatcher;
    return {
      raft: {
        isLeader: s.role === 'leader',
        term: s.term,
        commitIndex: s.commitIndex,
        appliedIndex: s.appliedIndex,
        members: s.members.length,
      },
      dispatcher: d ? d.stats() : { sessions: 0, heartbeatMisses: 0, queued: [] },
    };
  }

  /** Where this manager's raft listens. */
  get raftAddr(): string {
    return this.parts.raft.addr;
  }

  /** IDs of the raft group's members (voters and learners). */
  raftMembers(): string[] {
    return this.parts.raft.status().members.map((m) => m.id);
  }

  /** The API address (host:port) of the raft leader, when known. */
  leaderApiAddr(): string | undefined {
    return leaderApiAddr(this.store, this.replicator);
  }

  /**
   * The dispatcher this node's own agent uses in process, while this manager
   * dispatches: always in single-node mode, while it leads in cluster mode.
   */
  localDispatcher(): DispatcherApi | undefined {
    const d = this.parts.dispatcher;
    if (d instanceof LeaderDispatcher) return d.leading ? d : undefined;
    return d;
  }

  /**
   * Takes this manager out of the raft group and the cluster: a leader hands leadership
   * over first, then the (new) leader removes the node and its raft membership.
   */
  leaveRaft(): Promise<void> {
    return leaveRaft(this.parts.raft, this.store, this.nodeId, this.identity);
  }

  /**
   * Resolves once this manager's store has applied what the cluster had committed when
   * it started: before that, what it holds may be any older state.
   */
  caughtUp(): Promise<void> {
    return this.parts.readGate.opened;
  }

  /** Resolves once every applied change is on disk. */
  flush(): Promise<void> {
    // Raft persists (and fsyncs) every entry before it is applied; the key file may lag.
    return this.parts.keyPolicy.settled();
  }

  /** Stops in bounded steps: a manager that just left raft must still stop. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const p = this.parts;
    this.stopLeadershipEvents();
    p.readGate.close();
    p.dispatcherServer?.forceShutdown();
    p.dispatcher?.stop();
    await boundedStep(p.log, 'leader loops', () => p.leaderLoops?.stop());
    await boundedStep(p.log, 'store flush', () => this.flush());
    await boundedStep(p.log, 'manager', async () => {
      p.keyPolicy.stop();
      p.stopRenewal();
      await p.keyPolicy.settled();
      await p.api.close();
      await p.tcpApi?.close();
      p.events.close();
      await p.raft.stop();
      await p.dataKeysSettled();
    });
  }

  /**
   * Only the leader dispatches, allocates, orchestrates and schedules. Each leader
   * change is handled outside raft's own processing, against the state it left.
   */
  private followLeadership(): void {
    const { dispatcher, leaderLoops } = this.parts;
    const follow = () => {
      if (this.stopping) return;
      const leading = this.store.isLeader();
      if (dispatcher instanceof LeaderDispatcher) dispatcher.follow(leading);
      if (leading) leaderLoops?.start();
      else void leaderLoops?.stop();
    };
    const metrics = this.parts.metrics;
    this.stopLeadershipEvents = this.parts.raft.onLeaderChange(() => {
      metrics?.leaderChange();
      setImmediate(follow);
    });
    follow();
  }
}

/** Joins on the first start when asked to: the state directory then holds the join's identity and keys. */
async function joinOnFirstStart(o: ManagerOptions, addr: string): Promise<JoinedManager | undefined> {
  if (await hasIdentity(o.stateDir)) return undefined;
  if (o.joined) return saveManagerJoin(o.stateDir, o.joined);
  if (!o.join) return undefined;
  return joinAsManager({
    stateDir: o.stateDir,
    managerAddr: o.join.managerAddr,
    token: o.join.token,
    hostname: o.hostname,
    addr,
    raftAddr: o.raft?.advertiseAddr ?? o.raft?.listenAddr,
  });
}

function leaderApiAddr(store: Store, replicator: Replicator): string | undefined {
  const id = replicator.leaderId();
  return id ? store.getNode(id)?.ManagerStatus?.Addr || undefined : undefined;
}

/** A single-node raft group on first start; later starts recover it from `<stateDir>/raft`. */
function startRaft(
  o: ManagerOptions,
  nodeId: string,
  store: Store,
  identity: RaftIdentity,
  joinPeers: { id: string; addr: string }[] | undefined,
  dataKey: DataKeyRing,
): Promise<RaftNode> {
  const listenAddr = o.raft?.listenAddr ?? '127.0.0.1:0';
  return RaftNode.start({
    id: nodeId,
    dataDir: join(o.stateDir, 'raft'),
    // A new cluster starts with this manager alone; a joining one contacts the members it was given.
    peers: joinPeers ?? [{ id: nodeId, addr: o.raft?.advertiseAddr ?? listenAddr }],
    listenAddr,
    ...(o.raft?.standalone ? { standalone: true } : {}),
    stateMachine: timedStateMachine(store.stateMachine, o.metrics),
    dataKey,
    ...(o.raft?.tickMs ? { tickMs: o.raft.tickMs } : {}),
    ...(o.raftSnapshotInterval ? { snapshotEvery: o.raftSnapshotInterval } : {}),
    // Managers talk raft over mTLS with certificates of the managers-only raft CA (names
    // are node IDs, not hosts): a worker's certificate fails the handshake.
    serverCredentials: mtlsServerCredentials(identity),
    channelCredentials: () => mtlsChannelCredentials(identity),
    // A raft member's ID is its node ID, the CN of its raft certificate: a manager speaks
    // only for itself.
    peerMember: raftPeerMember,
    // A joining or promoted manager is added as a learner; whoever leads makes it a voter.
    promoteLearners: true,
    // Leader changes, snapshots sent and restored, refused peers: what a stuck member shows.
    ...(o.logger ? { logger: o.logger.child({ component: 'raft' }) } : {}),
  });
}

/** Times each store write end to end (proposed, committed, applied here) for the metrics. */
function timedReplicator(r: Replicator, metrics: ManagerMetricsHooks | undefined): Replicator {
  if (!metrics) return r;
  const propose = r.propose.bind(r);
  r.propose = async (data) => {
    const t = performance.now();
    try {
      const res = await propose(data);
      metrics.proposal((performance.now() - t) / 1000, true);
      return res;
    } catch (e) {
      metrics.proposal((performance.now() - t) / 1000, false);
      throw e;
    }
  };
  return r;
}

/** Times each entry raft applies to the store. */
function timedStateMachine(sm: StateMachine, metrics: ManagerMetricsHooks | undefined): StateMachine {
  if (!metrics) return sm;
  return {
    apply(entry) {
      const t = performance.now();
      try {
        sm.apply(entry);
      } finally {
        metrics.apply((performance.now() - t) / 1000);
      }
    },
    snapshot: () => sm.snapshot(),
    restore: (snap) => sm.restore(snap),
  };
}

function bind(server: grpc.Server, addr: string, creds: grpc.ServerCredentials): Promise<void> {
  return new Promise((resolve, reject) => server.bindAsync(addr, creds, (e) => (e ? reject(e) : resolve())));
}
