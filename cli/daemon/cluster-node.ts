// skiff nodes of a multi-host cluster. A manager serves the API on TCP (mTLS), raft,
// and the dispatcher on gRPC, runs the leader's loops while it leads, and runs an agent
// for its own containers. A worker joins once with a token, then runs only an agent that
// talks to the leader's dispatcher over mTLS (see manager/dispatcher/leader-dispatcher.ts). A token joins
// as whatever role it grants. Ports: API P (2377), raft P+1, dispatcher P+2.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { NodeAgent } from '../../agent/index.js';
import type { Logger } from '../../lib/index.js';
import { describeError, SkiffError } from '../../lib/index.js';
import {
  describeNodeCertificate,
  loadIdentity,
  type NodeIdentity,
  requestJoin,
  requestPromotion,
  requestRenewal,
  saveIdentity,
} from '../../manager/ca/index.js';
import { addDispatcherService, LeaderDispatcher, managerAddrs } from '../../manager/dispatcher/index.js';
import { type AcceptedJoin, startManager } from '../../manager/index.js';
import { LeaderLoops } from '../../manager/leader/index.js';
import { isNodeLocalPath, nodeLocalApi } from '../../node/api/index.js';
import { skiffVersion } from '../version.js';
import { keepWorkerCertificateFresh } from './cert-renewal.js';
import { dispatcherSource } from './dispatcher-source.js';
import { quorumRefusal, removeClusterState, serveWorkerControl } from './leave.js';
import type { RunningNode } from './node.js';
import { managerOptions } from './node.js';
import type { DaemonPaths } from './paths.js';

export const DEFAULT_PORT = 2377;

export interface ClusterOptions {
  /** The address other nodes reach this one at (also where it listens). */
  advertiseAddr: string;
  port?: number;
  /** How often agents heartbeat this manager's dispatcher (default 5 s). */
  heartbeatPeriodMs?: number;
  /** Managers: the raft tick (default 100 ms). */
  raftTickMs?: number;
  /** How often a worker looks at its certificate's age (default hourly, and at start). */
  certCheckIntervalMs?: number;
}

export async function runClusterManager(
  paths: DaemonPaths,
  o: ClusterOptions & { joined?: AcceptedJoin },
  log: Logger,
): Promise<RunningNode> {
  const port = o.port ?? DEFAULT_PORT;
  const hostname = osHostname();
  let agent: NodeAgent | undefined;
  let switching = false;
  const leaving = deferred();
  const leave = async ({ force }: { force: boolean }) => {
    if (!force) {
      const refusal = quorumRefusal(manager.raftMembers(), manager.store.listNodes(), manager.nodeId);
      if (refusal) throw refusal;
    }
    if (switching) throw new SkiffError('unavailable', 'this node is changing its role; retry in a moment');
    switching = true; // a node that leaves does not switch roles
    try {
      await manager.leaveRaft();
    } catch (e) {
      if (!force) {
        switching = false; // still a member: it may switch or leave later
        throw e;
      }
      log.warn({ err: String(e) }, 'leaving by force: the cluster did not remove this manager');
    }
    if (agent) await agent.empty();
    log.info({ nodeId: manager.nodeId }, 'left the cluster');
    leaving.resolve();
  };
  const manager = await startManager({
    ...managerOptions(paths, hostname, log, () => agent),
    leave,
    tcp: { host: o.advertiseAddr, port },
    advertiseAddr: `${o.advertiseAddr}:${port}`,
    raft: { listenAddr: `${o.advertiseAddr}:${port + 1}`, ...(o.raftTickMs ? { tickMs: o.raftTickMs } : {}) },
    ...(o.joined ? { joined: o.joined } : {}),
  });
  const leaderAddr = (): string | undefined => {
    const id = manager.replicator.leaderId();
    return id ? manager.store.getNode(id)?.ManagerStatus?.Addr || undefined : undefined;
  };
  const dispatcher = new LeaderDispatcher({
    store: manager.store,
    log,
    leaderAddr,
    ...(o.heartbeatPeriodMs ? { heartbeatPeriodMs: o.heartbeatPeriodMs } : {}),
  });
  const server = new grpc.Server();
  addDispatcherService(server, dispatcher);
  await bind(server, `${o.advertiseAddr}:${port + 2}`, serverCredentials(manager.identity));
  // Only the leader dispatches, allocates, orchestrates and schedules; leadership is
  // polled, which also covers a leader change while a loop pass was running.
  const leader = new LeaderLoops(manager.store, log);
  const replaced = deferredValue<RunningNode>();
  const followLeadership = () => {
    const leading = manager.store.isLeader();
    dispatcher.follow(leading);
    if (leading) leader.start();
    else void leader.stop();
    if (manager.store.getNode(manager.nodeId)?.Spec.Role === 'worker') startDemotion();
  };
  // Seen in this manager's store, or (when raft dropped it before it applied the
  // change) in the answer of the leader's dispatcher to its agent.
  const startDemotion = () => {
    if (switching || leaving.done) return;
    switching = true;
    becomeWorker().then(replaced.resolve, (err: unknown) => {
      log.error({ err: describeError(err) }, 'could not switch to a worker after demotion; will retry');
      switching = false;
      setTimeout(startDemotion, 1000).unref();
    });
  };
  /** Demoted: a worker certificate from another manager, then the same node as a worker. */
  const becomeWorker = async (): Promise<RunningNode> => {
    const self = `${o.advertiseAddr}:${port}`;
    const others = managerAddrs(manager.store).filter((a) => a !== self);
    const renewed = await firstOf(others, (addr) => requestRenewal(addr, manager.identity, manager.nodeId));
    if (describeNodeCertificate(renewed.certPem).role !== 'worker') {
      throw new SkiffError('unavailable', 'the managers do not see the demotion yet');
    }
    log.info({ nodeId: manager.nodeId }, 'demoted: this node continues as a worker');
    await node.stop();
    await removeClusterState(paths.stateDir);
    await saveIdentity(paths.stateDir, {
      caPem: renewed.caPem,
      certPem: renewed.certPem,
      keyPem: renewed.keyPem,
    });
    const state: WorkerState = { nodeId: manager.nodeId, managers: others };
    await writeFile(join(paths.stateDir, WORKER_STATE), JSON.stringify(state));
    return runClusterWorker(paths, o, log);
  };
  const follow = setInterval(followLeadership, 250);
  followLeadership();
  agent = new NodeAgent({
    nodeId: manager.nodeId,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    addr: o.advertiseAddr,
    hostname,
    logger: log,
  });
  await agent.start(
    dispatcherSource({
      managers: managerAddrs(manager.store),
      credentials: () => channelCredentials(manager.identity),
      // Not our own address: while we lead, the local dispatcher is used in process.
      leaderAddr: () => (manager.store.isLeader() ? undefined : leaderAddr()),
      local: dispatcher,
      role: {
        current: 'manager',
        onChange: (role) => {
          if (role === 'worker') startDemotion();
        },
      },
      log,
    }),
  );
  await writeFile(paths.pidFile, `${process.pid}\n`);
  log.info({ nodeId: manager.nodeId, addr: `${o.advertiseAddr}:${port}` }, 'skiff manager ready');
  const node: RunningNode = {
    nodeId: manager.nodeId,
    left: leaving.promise,
    replaced: replaced.promise,
    async stop() {
      switching = true; // no role switch after this
      clearInterval(follow);
      // Each step is bounded: a node that just left raft must still stop (and forget its state).
      await step(log, 'agent', () => agent?.stop());
      server.forceShutdown();
      dispatcher.stop();
      await step(log, 'leader loops', () => leader.stop());
      await step(log, 'store flush', () => manager.flush());
      await step(log, 'manager', () => manager.stop());
      if (leaving.done) await removeClusterState(paths.stateDir);
      await rm(paths.pidFile, { force: true });
    },
  };
  return node;
}

interface WorkerState {
  nodeId: string;
  managers: string[];
}

/**
 * First start with a token: joins, and the token decides the role — a manager token
 * starts the node as a manager (raft member, API, dispatcher), a worker token as a
 * worker. Later starts go through runClusterManager or runClusterWorker directly.
 */
export async function joinCluster(
  paths: DaemonPaths,
  o: ClusterOptions & { join: { manager: string; token: string } },
  log: Logger,
): Promise<RunningNode> {
  const port = o.port ?? DEFAULT_PORT;
  await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  const joined = await requestJoin({
    managerAddr: o.join.manager,
    token: o.join.token,
    hostname: osHostname(),
    addr: `${o.advertiseAddr}:${port}`,
    raftAddrIfManager: `${o.advertiseAddr}:${port + 1}`,
  });
  log.info({ nodeId: joined.nodeId, role: joined.role }, 'join accepted');
  if (joined.role === 'manager') return runClusterManager(paths, { ...o, joined }, log);
  return runClusterWorker(paths, { ...o, joined }, log);
}

/** Whether this state directory belongs to a worker that joined a cluster. */
export function isWorkerState(stateDir: string): boolean {
  return existsSync(join(stateDir, WORKER_STATE));
}

const WORKER_STATE = 'worker.json';

/** A worker: joins with the token on first start (see joinCluster); later starts use the saved identity. */
export async function runClusterWorker(
  paths: DaemonPaths,
  o: ClusterOptions & { joined?: AcceptedJoin },
  log: Logger,
): Promise<RunningNode> {
  const hostname = osHostname();
  const stateFile = join(paths.stateDir, WORKER_STATE);
  let identity = await loadIdentity(paths.stateDir);
  let state =
    identity && isWorkerState(paths.stateDir)
      ? (JSON.parse(await readFile(stateFile, 'utf8')) as WorkerState)
      : undefined;
  if (!identity || !state) {
    const joined = o.joined;
    if (!joined) {
      throw new SkiffError('invalid_argument', 'this node has not joined a cluster yet', {
        hint: 'skiff cluster join --advertise-addr IP --token TOKEN MANAGER:2377',
      });
    }
    identity = joined.identity;
    state = { nodeId: joined.nodeId, managers: joined.managers };
    await saveIdentity(paths.stateDir, identity);
    await writeFile(stateFile, JSON.stringify(state));
    log.info({ nodeId: state.nodeId, managers: state.managers }, 'joined the cluster as a worker');
  }
  const saved = state;
  const agent = new NodeAgent({
    nodeId: saved.nodeId,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    addr: o.advertiseAddr,
    hostname,
    logger: log,
  });
  const id = identity;
  let managers = saved.managers;
  const replaced = deferredValue<RunningNode>();
  let switching = false;
  /** Promoted: a manager certificate, then raft membership from the leader, then the same node as a manager. */
  const becomeManager = async (): Promise<RunningNode> => {
    const port = o.port ?? DEFAULT_PORT;
    const renewed = await firstOf(managers, (addr) => requestRenewal(addr, id, saved.nodeId));
    if (describeNodeCertificate(renewed.certPem).role !== 'manager') {
      throw new SkiffError('unavailable', 'the managers do not see the promotion yet');
    }
    const joined = await firstOf(managers, (addr) =>
      requestPromotion(addr, renewed, {
        addr: `${o.advertiseAddr}:${port}`,
        raftAddr: `${o.advertiseAddr}:${port + 1}`,
      }),
    );
    log.info({ nodeId: saved.nodeId }, 'promoted: this node continues as a manager');
    await node.stop();
    await removeClusterState(paths.stateDir);
    return runClusterManager(paths, { ...o, joined }, log);
  };
  const startPromotion = () => {
    if (switching) return;
    switching = true;
    becomeManager().then(replaced.resolve, (err: unknown) => {
      log.error({ err: describeError(err) }, 'could not switch to a manager after promotion; will retry');
      switching = false;
      setTimeout(startPromotion, 1000).unref();
    });
  };
  await agent.start(
    dispatcherSource({
      managers,
      credentials: () => channelCredentials(id),
      role: {
        current: 'worker',
        onChange: (role) => {
          if (role === 'manager') startPromotion();
        },
      },
      // Kept for the next start: the managers the worker joined through may be gone by then.
      onManagers: (fresh) => {
        managers = fresh;
        void writeFile(stateFile, JSON.stringify({ ...saved, managers: fresh })).catch((err: unknown) =>
          log.warn({ err: String(err) }, 'could not save the managers list'),
        );
      },
      log,
    }),
  );
  const stopRenewal = keepWorkerCertificateFresh({
    stateDir: paths.stateDir,
    nodeId: saved.nodeId,
    identity: id,
    managers: () => managers,
    log,
    ...(o.certCheckIntervalMs ? { checkIntervalMs: o.certCheckIntervalMs } : {}),
  });
  const leaving = deferred();
  const localApi = await nodeLocalApi(() => agent, log, skiffVersion());
  const control = await serveWorkerControl(
    paths.socket,
    async () => {
      if (switching) throw new SkiffError('unavailable', 'this node is changing its role; retry in a moment');
      switching = true; // a node that leaves does not switch roles
      await agent.empty();
      log.info({ nodeId: saved.nodeId }, 'left the cluster');
      leaving.resolve();
    },
    log,
    { handle: localApi.handle, serves: isNodeLocalPath },
  );
  await writeFile(paths.pidFile, `${process.pid}\n`);
  log.info({ nodeId: saved.nodeId }, 'skiff worker ready');
  const node: RunningNode = {
    nodeId: saved.nodeId,
    left: leaving.promise,
    replaced: replaced.promise,
    async stop() {
      switching = true; // no role switch after this
      stopRenewal();
      control.close();
      await localApi.close();
      await step(log, 'agent', () => agent.stop());
      if (leaving.done) await removeClusterState(paths.stateDir);
      await rm(paths.socket, { force: true });
      await rm(paths.pidFile, { force: true });
    },
  };
  return node;
}

/** One step of stopping, given `timeoutMs` before the stop goes on without it. */
async function step(log: Logger, what: string, fn: () => Promise<unknown> | undefined, timeoutMs = 8_000) {
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  const outcome = await Promise.race([
    Promise.resolve(fn()).then(
      () => 'done' as const,
      (err: unknown) => {
        log.warn({ step: what, err: describeError(err) }, 'stopping: a step failed');
        return 'failed' as const;
      },
    ),
    new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'timeout')
    log.warn({ step: what, timeoutMs }, 'stopping: a step did not finish in time; going on');
  else log.debug({ step: what, ms: Date.now() - started }, 'stopped');
}

/** The first answer of `fn` over the addresses, tried in turn. */
async function firstOf<T>(addrs: string[], fn: (addr: string) => Promise<T>): Promise<T> {
  let last: unknown = new SkiffError('unavailable', 'no manager address is known');
  for (const addr of addrs) {
    try {
      return await fn(addr);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

function deferredValue<T>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function deferred(): { promise: Promise<void>; resolve(): void; done: boolean } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  const d = {
    promise,
    done: false,
    resolve() {
      d.done = true;
      resolve();
    },
  };
  return d;
}

function serverCredentials(id: NodeIdentity): grpc.ServerCredentials {
  return grpc.ServerCredentials.createSsl(
    Buffer.from(id.caPem),
    [{ private_key: Buffer.from(id.keyPem), cert_chain: Buffer.from(id.certPem) }],
    true,
  );
}

function channelCredentials(id: NodeIdentity): grpc.ChannelCredentials {
  // Certificates name nodes by ID, not host: the CA is what is checked.
  return grpc.credentials.createSsl(Buffer.from(id.caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem), {
    checkServerIdentity: () => undefined,
  });
}

function bind(server: grpc.Server, addr: string, creds: grpc.ServerCredentials): Promise<void> {
  return new Promise((resolve, reject) => server.bindAsync(addr, creds, (e) => (e ? reject(e) : resolve())));
}
