// A cluster node in the manager role: its Manager (API on TCP with mTLS, raft, the
// leader's dispatcher on gRPC, the leader's loops while it leads) and an agent for its
// own containers, which uses the manager's dispatcher in process while it leads and the
// leader's over gRPC otherwise. A demotion is seen in the store (its node's role) or in
// the dispatcher's answer to the agent.
import { rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { NodeAgent } from '../agent/index.js';
import type { Logger } from '../lib/index.js';
import { boundedStep, SkiffError } from '../lib/index.js';
import {
  type AcceptedJoin,
  describeNodeCertificate,
  Manager,
  managerAddrs,
  mtlsChannelCredentials,
  requestRenewal,
} from '../manager/index.js';
import { peerExecApi } from './api/index.js';
import { removeClusterState } from './cluster-state.js';
import { ContainerEvents } from './container-events.js';
import { dispatcherSource } from './dispatcher-source.js';
import { firstAnswer } from './first-answer.js';
import { becomeWorker, quorumRefusal } from './leave.js';
import { managerOptions } from './manager-options.js';
import { writeManagers } from './manager-state.js';
import { NodeMetrics, serveMetrics } from './metrics/index.js';
import type { ClusterNodeOptions } from './options.js';
import type { DaemonPaths } from './paths.js';
import { DEFAULT_PORT, peerPort } from './ports.js';
import type { NextRole, RoleEvents, RoleRun } from './supervisor.js';

export async function startManagerRole(
  paths: DaemonPaths,
  o: ClusterNodeOptions,
  log: Logger,
  events: RoleEvents,
  joined?: AcceptedJoin,
): Promise<RoleRun> {
  const port = o.port ?? DEFAULT_PORT;
  const self = `${o.advertiseAddr}:${port}`;
  const hostname = osHostname();
  let agent: NodeAgent | undefined;
  let resolveLeft!: () => void;
  let hasLeft = false;
  const left = new Promise<void>((r) => {
    resolveLeft = r;
  });
  const leave = async ({ force }: { force: boolean }) => {
    if (!force) {
      const refusal = quorumRefusal(manager.raftMembers(), manager.store.listNodes(), manager.nodeId);
      if (refusal) throw refusal;
    }
    events.beginLeave();
    try {
      await manager.leaveRaft();
    } catch (e) {
      if (!force) {
        events.leaveFailed(); // still a member: it may switch or leave later
        throw e;
      }
      log.warn({ err: String(e) }, 'leaving by force: the cluster did not remove this manager');
    }
    if (agent) await agent.empty();
    log.info({ nodeId: manager.nodeId }, 'left the cluster');
    hasLeft = true;
    resolveLeft();
  };
  let started: Manager | undefined;
  const containerEvents = new ContainerEvents();
  const metrics = new NodeMetrics({
    nodeId: () => started?.nodeId ?? '',
    manager: () => started,
    agent: () => agent,
  });
  // The managers' API addresses, saved for a start that finds no leader (manager-state.ts):
  // those of the join or promotion first, before its identity is saved, then the store's.
  let savedManagers = '';
  let saving = Promise.resolve();
  const saveManagers = (addrs: string[]) => {
    const list = [...new Set(addrs.filter((a) => a !== ''))].sort();
    const key = JSON.stringify(list);
    if (list.length === 0 || key === savedManagers) return saving;
    savedManagers = key;
    saving = saving
      .then(() => writeManagers(paths.stateDir, list))
      .catch((err: unknown) => {
        savedManagers = '';
        log.warn({ err: String(err) }, "could not save the managers' addresses");
      });
    return saving;
  };
  if (joined) await saveManagers(joined.managers);
  const metricsServer = o.metricsAddr ? await serveMetrics(metrics, o.metricsAddr, log) : undefined;
  const manager = await Manager.start({
    ...managerOptions(paths, hostname, o.version, log, () => agent, metrics, containerEvents),
    leave,
    tcp: {
      host: o.advertiseAddr,
      port,
      ...(o.apiBodyTimeoutMs ? { bodyTimeoutMs: o.apiBodyTimeoutMs } : {}),
    },
    advertiseAddr: self,
    raft: { listenAddr: `${o.advertiseAddr}:${port + 1}`, ...(o.raftTickMs ? { tickMs: o.raftTickMs } : {}) },
    ...(joined ? { joined } : {}),
    ...(o.raftSnapshotInterval ? { raftSnapshotInterval: o.raftSnapshotInterval } : {}),
    ...(o.forceNewCluster && !joined ? { forceNewCluster: true } : {}),
    dispatcher: {
      kind: 'grpc',
      listenAddr: `${o.advertiseAddr}:${port + 2}`,
      ...(o.heartbeatPeriodMs ? { heartbeatPeriodMs: o.heartbeatPeriodMs } : {}),
    },
    leaderLoops: {},
  }).catch(async (e: unknown) => {
    await metricsServer?.close();
    throw e;
  });
  started = manager;
  // Demoted: seen in this manager's store, or (when raft dropped it before it applied
  // the change) in the answer of the leader's dispatcher to its agent. Only once the
  // store has caught up: while a promoted node replays the log, its node is a worker
  // until the promotion's entry.
  const checkRole = () => {
    if (manager.store.getNode(manager.nodeId)?.Spec.Role === 'worker') events.roleChanged();
    void saveManagers(managerAddrs(manager.store));
  };
  let unwatchRole = () => {};
  let stopping: Promise<void> | undefined;
  void manager.caughtUp().then(() => {
    if (stopping) return;
    unwatchRole = manager.store.subscribe(checkRole, { tables: ['nodes'] });
    checkRole();
  });
  // Managers' exec in this node's tasks, on its peer endpoint (a manager asked for a task here).
  const peerExec = await peerExecApi(() => agent, log);
  // The managers' API addresses. A promoted manager's store may not have caught up yet (or
  // ever: demoted again and taken out of raft before it did), and an empty store names no
  // manager: then the agent uses those the promotion named, kept current by registrations,
  // to reach the leader's dispatcher, whose answer tells it of a demotion, and the switch
  // back asks them for the worker certificate.
  let knownManagers = joined?.managers.filter((a) => a !== '') ?? [];
  const managersNow = () => {
    const fromStore = managerAddrs(manager.store);
    return fromStore.length > 0 ? fromStore : knownManagers;
  };
  agent = new NodeAgent({
    nodeId: manager.nodeId,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    addr: o.advertiseAddr,
    hostname,
    logger: log,
    ...(o.pullLimits ? { pullLimits: o.pullLimits } : {}),
    onImagePulled: metrics.onImagePulled,
    peers: {
      listen: { host: o.advertiseAddr, port: peerPort(port) },
      tls: () => ({
        ca: manager.identity.caPem,
        cert: manager.identity.certPem,
        key: manager.identity.keyPem,
      }),
      serve: peerExec.handle,
    },
  });
  containerEvents.follow(agent);
  await agent.start(
    dispatcherSource({
      managers: managersNow(),
      onManagers: (m) => {
        knownManagers = m;
        if (managerAddrs(manager.store).length === 0) void saveManagers(m);
      },
      credentials: () => mtlsChannelCredentials(manager.identity),
      // Not our own address: while we lead, the local dispatcher is used in process.
      leaderAddr: () => (manager.store.isLeader() ? undefined : manager.leaderApiAddr()),
      local: () => manager.localDispatcher(),
      role: {
        current: 'manager',
        onChange: (role) => {
          if (role === 'worker') events.roleChanged();
        },
      },
      log,
    }),
  );
  await writeFile(paths.pidFile, `${process.pid}\n`);
  log.info({ nodeId: manager.nodeId, addr: self }, 'skiff manager ready');

  return {
    role: 'manager',
    nodeId: manager.nodeId,
    left,
    failed: manager.failed,
    /** Demoted: a worker certificate from another manager; the node continues as a worker. */
    async prepareSwitch(): Promise<NextRole> {
      const others = managersNow().filter((a) => a !== self);
      const renewed = await firstAnswer(others, (addr) =>
        requestRenewal(addr, manager.identity, manager.nodeId),
      );
      if (describeNodeCertificate(renewed.certPem).role !== 'worker') {
        throw new SkiffError('unavailable', 'the managers do not see the demotion yet');
      }
      log.info({ nodeId: manager.nodeId }, 'demoted: this node continues as a worker');
      return {
        role: 'worker',
        prepareStateDir: () =>
          becomeWorker(paths.stateDir, renewed, { nodeId: manager.nodeId, managers: others }),
      };
    },
    stop() {
      stopping ??= (async () => {
        unwatchRole();
        await metricsServer?.close();
        // Each step is bounded: a node that just left raft must still stop (and forget its state).
        await boundedStep(log, 'agent', () => agent?.stop());
        await peerExec.close();
        await manager.stop();
        if (hasLeft) await removeClusterState(paths.stateDir);
        await rm(paths.pidFile, { force: true });
      })();
      return stopping;
    },
  };
}
