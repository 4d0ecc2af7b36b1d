// A cluster node in the worker role: only an agent, talking to the leader's dispatcher
// over mTLS, and a small control API on the node's socket (leave, ping). It joins once
// with a token; later starts use the saved identity and managers. A promotion is seen in
// the dispatcher's answer to the agent.
import { rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { NodeAgent } from '../agent/index.js';
import type { Logger } from '../lib/index.js';
import { boundedStep, SkiffError } from '../lib/index.js';
import {
  type AcceptedJoin,
  describeNodeCertificate,
  engineInfo,
  keepCertificateFresh,
  loadIdentity,
  mtlsChannelCredentials,
  NO_COUNTS,
  renewFromManagers,
  requestPromotion,
  requestRenewal,
  saveIdentity,
  versionInfo,
} from '../manager/index.js';
import { isNodeLocalPath, nodeLocalApi, peerExecApi, serveWorkerControl } from './api/index.js';
import { removeClusterState } from './cluster-state.js';
import { dispatcherSource } from './dispatcher-source.js';
import { firstAnswer } from './first-answer.js';
import { nodeHealth } from './health.js';
import { becomeWorker, beginPromotion } from './leave.js';
import { METRICS_CONTENT_TYPE, NodeMetrics, serveMetrics } from './metrics/index.js';
import { nodeCounts } from './node-counts.js';
import type { ClusterNodeOptions } from './options.js';
import type { DaemonPaths } from './paths.js';
import { DEFAULT_PORT, peerPort } from './ports.js';
import type { NextRole, RoleEvents, RoleRun } from './supervisor.js';
import { isWorkerState, readWorkerState, type WorkerState, writeWorkerState } from './worker-state.js';

export async function startWorkerRole(
  paths: DaemonPaths,
  o: ClusterNodeOptions,
  log: Logger,
  events: RoleEvents,
  joined?: AcceptedJoin,
): Promise<RoleRun> {
  const hostname = osHostname();
  let identity = await loadIdentity(paths.stateDir);
  let state: WorkerState | undefined =
    identity && isWorkerState(paths.stateDir) ? await readWorkerState(paths.stateDir) : undefined;
  if (!identity || !state) {
    if (!joined) {
      throw new SkiffError('invalid_argument', 'this node has not joined a cluster yet', {
        hint: 'skiff cluster join --advertise-addr IP --token TOKEN MANAGER:2377',
      });
    }
    identity = joined.identity;
    state = { nodeId: joined.nodeId, managers: joined.managers };
    await saveIdentity(paths.stateDir, identity);
    await writeWorkerState(paths.stateDir, state);
    log.info({ nodeId: state.nodeId, managers: state.managers }, 'joined the cluster as a worker');
  }
  const saved = state;
  const id = identity;
  let managers = saved.managers;
  let running: NodeAgent | undefined;
  const metrics = new NodeMetrics({ nodeId: () => saved.nodeId, agent: () => running });
  const metricsServer = o.metricsAddr ? await serveMetrics(metrics, o.metricsAddr, log) : undefined;
  // Managers' exec in this node's tasks, on its peer endpoint: a worker serves no API.
  const peerExec = await peerExecApi(() => running, log);
  const agent = new NodeAgent({
    nodeId: saved.nodeId,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    addr: o.advertiseAddr,
    hostname,
    logger: log,
    ...(o.pullLimits ? { pullLimits: o.pullLimits } : {}),
    onImagePulled: metrics.onImagePulled,
    peers: {
      listen: { host: o.advertiseAddr, port: peerPort(o.port ?? DEFAULT_PORT) },
      tls: () => ({ ca: id.caPem, cert: id.certPem, key: id.keyPem }),
      serve: peerExec.handle,
    },
  });
  running = agent;
  await agent.start(
    dispatcherSource({
      managers,
      credentials: () => mtlsChannelCredentials(id),
      role: {
        current: 'worker',
        onChange: (role) => {
          if (role === 'manager') events.roleChanged();
        },
      },
      // Kept for the next start: the managers the worker joined through may be gone by then.
      onManagers: (fresh) => {
        managers = fresh;
        void writeWorkerState(paths.stateDir, { ...saved, managers: fresh }).catch((err: unknown) =>
          log.warn({ err: String(err) }, 'could not save the managers list'),
        );
      },
      log,
    }),
  );
  const stopRenewal = keepCertificateFresh({
    stateDir: paths.stateDir,
    nodeId: saved.nodeId,
    identity: id,
    renew: renewFromManagers(saved.nodeId, () => managers, log),
    log,
    ...(o.certCheckIntervalMs ? { checkIntervalMs: o.certCheckIntervalMs } : {}),
  });
  let resolveLeft!: () => void;
  let hasLeft = false;
  const left = new Promise<void>((r) => {
    resolveLeft = r;
  });
  const localApi = await nodeLocalApi(() => agent, log, o.version, paths.stateDir);
  const control = await serveWorkerControl(
    paths.socket,
    async () => {
      events.beginLeave();
      await agent.empty();
      log.info({ nodeId: saved.nodeId }, 'left the cluster');
      hasLeft = true;
      resolveLeft();
    },
    log,
    { handle: localApi.handle, serves: isNodeLocalPath },
    { text: () => metrics.metrics(), contentType: METRICS_CONTENT_TYPE },
    () => nodeHealth({ nodeId: saved.nodeId, agent }),
    {
      version: () => versionInfo(o.version ?? 'dev'),
      // A worker knows itself and the managers it talks to, not the cluster's nodes.
      info: async () =>
        engineInfo({
          nodeId: saved.nodeId,
          hostname,
          version: o.version ?? 'dev',
          stateDir: paths.stateDir,
          counts: (await nodeCounts(agent)) ?? NO_COUNTS,
          security: agent.runtime.securityInfo(),
          eventListeners: localApi.eventListeners(),
          now: new Date(),
          swarm: {
            NodeID: saved.nodeId,
            NodeAddr: o.advertiseAddr,
            LocalNodeState: 'active',
            ControlAvailable: false,
            Error: '',
            RemoteManagers: managers.map((addr) => ({ NodeID: '', Addr: addr })),
          },
        }),
    },
  );
  await writeFile(paths.pidFile, `${process.pid}\n`);
  log.info({ nodeId: saved.nodeId }, 'skiff worker ready');

  let stopping: Promise<void> | undefined;
  return {
    role: 'worker',
    nodeId: saved.nodeId,
    left,
    /** Promoted: a manager certificate, then raft membership from the leader; the node continues as a manager. */
    async prepareSwitch(): Promise<NextRole> {
      const port = o.port ?? DEFAULT_PORT;
      const renewed = await firstAnswer(managers, (addr) => requestRenewal(addr, id, saved.nodeId));
      if (describeNodeCertificate(renewed.certPem).role !== 'manager') {
        throw new SkiffError('unavailable', 'the managers do not see the promotion yet');
      }
      const promoted = await firstAnswer(managers, (addr) =>
        requestPromotion(addr, renewed, {
          addr: `${o.advertiseAddr}:${port}`,
          raftAddr: `${o.advertiseAddr}:${port + 1}`,
        }),
      );
      log.info({ nodeId: saved.nodeId }, 'promoted: this node continues as a manager');
      const known = [...new Set([...promoted.managers.filter((a) => a !== ''), ...managers])];
      return {
        role: 'manager',
        joined: promoted,
        prepareStateDir: () => beginPromotion(paths.stateDir),
        // Demoted again before this node's raft heard from the leader: the group dropped
        // it, no leader will ever contact it, so it asks for its role (with the manager
        // certificate it was given) and goes back to being a worker.
        async instead(): Promise<NextRole | undefined> {
          const now = await firstAnswer(known, (addr) =>
            requestRenewal(addr, promoted.identity, saved.nodeId),
          );
          if (describeNodeCertificate(now.certPem).role !== 'worker') return undefined;
          log.info(
            { nodeId: saved.nodeId },
            'demoted before it joined raft: this node continues as a worker',
          );
          return {
            role: 'worker',
            prepareStateDir: () =>
              becomeWorker(paths.stateDir, now, { nodeId: saved.nodeId, managers: known }),
          };
        },
      };
    },
    stop() {
      stopping ??= (async () => {
        stopRenewal();
        control.close();
        await metricsServer?.close();
        await localApi.close();
        await boundedStep(log, 'agent', () => agent.stop());
        await peerExec.close();
        if (hasLeft) await removeClusterState(paths.stateDir);
        await rm(paths.socket, { force: true });
        await rm(paths.pidFile, { force: true });
      })();
      return stopping;
    },
  };
}
