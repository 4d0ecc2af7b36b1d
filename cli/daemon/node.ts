// A skiff node process in single-node mode: the manager (store, Docker-compatible API,
// leader loops, dispatcher) and the agent (the container stack) in one process, the
// agent talking to the dispatcher in process.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { promisify } from 'node:util';
import { NodeAgent } from '../../agent/index.js';
import type { Logger, Task } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import { Dispatcher, storeDispatcherPort } from '../../manager/dispatcher/index.js';
import {
  type LogQuery,
  type LogSource,
  type StartManagerOptions,
  startManager,
  type TaskLogLine,
} from '../../manager/index.js';
import { LeaderLoops } from '../../manager/leader/index.js';
import { registerImageRoutes, registerVolumeRoutes } from '../../node/api/index.js';
import { registerNodeRoutes } from '../node-api/index.js';
import { skiffVersion } from '../version.js';
import type { DaemonPaths } from './paths.js';

export interface RunningNode {
  nodeId: string;
  /** Resolves when the node has left its cluster: the process should stop then. */
  left?: Promise<void>;
  /** Resolves with the node that took over after a promotion or demotion (this one has stopped). */
  replaced?: Promise<RunningNode>;
  stop(): Promise<void>;
}

export async function runSingleNode(
  paths: DaemonPaths,
  log: Logger,
  addressPool?: StartManagerOptions['addressPool'],
): Promise<RunningNode> {
  await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  const hostname = osHostname();
  let agent: NodeAgent | undefined;
  // `ip route` runs while the manager starts rather than after it.
  const reservedSubnets = hostSubnets();
  const manager = await startManager({
    ...managerOptions(paths, hostname, log, () => agent),
    ...(addressPool ? { addressPool } : {}),
  });
  const store = manager.store;
  const dispatcher = new Dispatcher({ store: storeDispatcherPort(store), log });
  const leader = new LeaderLoops(store, log, { reservedSubnets: await reservedSubnets });
  leader.start();
  agent = new NodeAgent({
    nodeId: manager.nodeId,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    addr: '127.0.0.1',
    hostname,
    logger: log,
    overlayAsBridge: true,
  });
  await agent.start(() => dispatcher);
  await writeFile(paths.pidFile, `${process.pid}\n`);
  log.info({ nodeId: manager.nodeId, socket: paths.socket }, 'skiff node ready (single-node mode)');
  return {
    nodeId: manager.nodeId,
    async stop() {
      await agent?.stop();
      dispatcher.stop();
      await leader.stop();
      await manager.flush();
      await manager.stop();
      await rm(paths.pidFile, { force: true });
    },
  };
}

/**
 * What every manager node starts its manager with: the state and socket, and the
 * node-local endpoints (task logs, volumes) served from its own agent.
 */
export function managerOptions(
  paths: DaemonPaths,
  hostname: string,
  log: Logger,
  agentOf: () => NodeAgent | undefined,
): StartManagerOptions {
  return {
    stateDir: paths.stateDir,
    socketPath: paths.socket,
    hostname,
    version: skiffVersion(),
    logger: log,
    logs: (tasks, q, signal) => nodeLogSource(agentOf)(tasks, q, signal),
    extraRoutes: (app, ctx) => {
      registerVolumeRoutes(app, agentOf);
      registerImageRoutes(app, agentOf);
      registerNodeRoutes(app, ctx, agentOf);
    },
  };
}

/** Subnets the host itself routes: the allocator never hands them out. */
async function hostSubnets(): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)('ip', ['-j', '-4', 'route', 'show']);
    const routes = JSON.parse(stdout) as { dst?: string }[];
    return routes.map((r) => r.dst ?? '').filter((d) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(d));
  } catch {
    return [];
  }
}

/** Task logs from this node's agent (the tasks it runs). */
export function nodeLogSource(agentOf: () => NodeAgent | undefined): LogSource {
  return (tasks, q, signal) => {
    const agent = agentOf();
    if (!agent) throw new SkiffError('unavailable', 'the node agent is still starting');
    return taskLogs(agent, tasks, q, signal);
  };
}

/** Interleaves the log streams of a service's tasks, as they come. */
async function* taskLogs(
  agent: NodeAgent,
  tasks: readonly Task[],
  q: LogQuery,
  signal: AbortSignal,
): AsyncIterable<TaskLogLine> {
  const queue: TaskLogLine[] = [];
  let wake: (() => void) | undefined;
  let open = 0;
  const known = new Set((await agent.runtime.list()).map((c) => c.id));
  for (const t of tasks) {
    if (!known.has(t.ID)) continue;
    open++;
    void (async () => {
      try {
        const opts = {
          follow: q.follow,
          signal,
          ...(q.tail !== undefined ? { tail: q.tail } : {}),
          ...(q.since ? { since: q.since } : {}),
        };
        for await (const e of agent.runtime.logs(t.ID, opts)) {
          queue.push({ taskId: t.ID, stream: e.stream, time: e.time, line: e.line });
          wake?.();
        }
      } catch {
        // The container went away: its stream just ends.
      } finally {
        open--;
        wake?.();
      }
    })();
  }
  while (open > 0 || queue.length > 0) {
    const next = queue.shift();
    if (next) {
      yield next;
      continue;
    }
    if (signal.aborted) return;
    await new Promise<void>((r) => {
      wake = r;
    });
    wake = undefined;
  }
}
