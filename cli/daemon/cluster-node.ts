// skiff nodes of a multi-host cluster. A manager serves the API on TCP (mTLS), raft,
// and the dispatcher on gRPC, runs the leader's loops while it leads, and runs an agent
// for its own containers. A worker joins once with a token, then runs only an agent that
// talks to the managers' dispatchers over mTLS. Ports: API P (2377), raft P+1,
// dispatcher P+2.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { NodeAgent } from '../../agent/index.js';
import { GrpcDispatcherClient } from '../../lib/dispatch-grpc.js';
import type { DispatcherApi, Logger } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import { loadIdentity, type NodeIdentity, requestJoin, saveIdentity } from '../../manager/ca/index.js';
import { addDispatcherService, Dispatcher, storeDispatcherPort } from '../../manager/dispatcher/index.js';
import { startManager } from '../../manager/index.js';
import { LeaderLoops } from '../../manager/leader/index.js';
import type { RunningNode } from './node.js';
import { managerOptions } from './node.js';
import type { DaemonPaths } from './paths.js';

export const DEFAULT_PORT = 2377;

export interface ClusterOptions {
  /** The address other nodes reach this one at (also where it listens). */
  advertiseAddr: string;
  port?: number;
}

export async function runClusterManager(
  paths: DaemonPaths,
  o: ClusterOptions,
  log: Logger,
): Promise<RunningNode> {
  const port = o.port ?? DEFAULT_PORT;
  const hostname = osHostname();
  let agent: NodeAgent | undefined;
  const manager = await startManager({
    ...managerOptions(paths, hostname, log, () => agent),
    tcp: { host: o.advertiseAddr, port },
    advertiseAddr: `${o.advertiseAddr}:${port}`,
    raft: { listenAddr: `${o.advertiseAddr}:${port + 1}` },
  });
  const dispatcher = new Dispatcher({ store: storeDispatcherPort(manager.store), log });
  const server = new grpc.Server();
  addDispatcherService(server, dispatcher);
  await bind(server, `${o.advertiseAddr}:${port + 2}`, serverCredentials(manager.identity));
  // Only the leader allocates, orchestrates and schedules; leadership is polled, which
  // also covers a leader change while a loop pass was running.
  const leader = new LeaderLoops(manager.store, log);
  const follow = setInterval(() => {
    if (manager.store.isLeader()) leader.start();
    else void leader.stop();
  }, 250);
  if (manager.store.isLeader()) leader.start();
  agent = new NodeAgent({
    nodeId: manager.nodeId,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    addr: o.advertiseAddr,
    hostname,
    logger: log,
  });
  await agent.start(() => dispatcher);
  await writeFile(paths.pidFile, `${process.pid}\n`);
  log.info({ nodeId: manager.nodeId, addr: `${o.advertiseAddr}:${port}` }, 'skiff manager ready');
  return {
    nodeId: manager.nodeId,
    async stop() {
      clearInterval(follow);
      await agent?.stop();
      server.forceShutdown();
      dispatcher.stop();
      await leader.stop();
      await manager.flush();
      await manager.stop();
      await rm(paths.pidFile, { force: true });
    },
  };
}

interface WorkerState {
  nodeId: string;
  managers: string[];
}

/** Joins with a worker token on first start; later starts use the saved identity. */
export async function runClusterWorker(
  paths: DaemonPaths,
  o: ClusterOptions & { join?: { manager: string; token: string } },
  log: Logger,
): Promise<RunningNode> {
  const hostname = osHostname();
  const stateFile = join(paths.stateDir, 'worker.json');
  let identity = await loadIdentity(paths.stateDir);
  let state = identity ? (JSON.parse(await readFile(stateFile, 'utf8')) as WorkerState) : undefined;
  if (!identity || !state) {
    if (!o.join) {
      throw new SkiffError('invalid_argument', 'this node has not joined a cluster yet', {
        hint: 'skiff daemon run --advertise-addr IP --join MANAGER:2377 --token TOKEN',
      });
    }
    const joined = await requestJoin({
      managerAddr: o.join.manager,
      token: o.join.token,
      hostname,
      addr: o.advertiseAddr,
    });
    if (joined.role !== 'worker') {
      throw new SkiffError('invalid_argument', 'that token makes a manager; this command joins workers', {
        hint: 'use the worker token: skiff cluster join-token worker',
      });
    }
    identity = joined.identity;
    state = { nodeId: joined.nodeId, managers: joined.managers.length ? joined.managers : [o.join.manager] };
    await saveIdentity(paths.stateDir, identity);
    await writeFile(stateFile, JSON.stringify(state));
    log.info({ nodeId: state.nodeId, managers: state.managers }, 'joined the cluster as a worker');
  }
  const creds = channelCredentials(identity);
  const managers = state.managers;
  let next = 0;
  let current: GrpcDispatcherClient | undefined;
  // Each new session tries the next manager, so a lost manager is left behind.
  const dispatcher = (): DispatcherApi => {
    current?.close();
    const m = managers[next++ % managers.length]!;
    const [host, p] = splitHostPort(m);
    current = new GrpcDispatcherClient(`${host}:${p + 2}`, creds);
    return current;
  };
  const agent = new NodeAgent({
    nodeId: state.nodeId,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    addr: o.advertiseAddr,
    hostname,
    logger: log,
  });
  await agent.start(dispatcher);
  await writeFile(paths.pidFile, `${process.pid}\n`);
  log.info({ nodeId: state.nodeId }, 'skiff worker ready');
  return {
    nodeId: state.nodeId,
    async stop() {
      await agent.stop();
      current?.close();
      await rm(paths.pidFile, { force: true });
    },
  };
}

function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return i < 0 ? [addr, DEFAULT_PORT] : [addr.slice(0, i), Number(addr.slice(i + 1)) || DEFAULT_PORT];
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
