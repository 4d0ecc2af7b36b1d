// Dispatching in a multi-manager cluster, the swarmkit way: only the raft leader runs a
// dispatcher (its store writes need the leader), every manager serves the gRPC
// endpoint, and a follower refuses sessions so agents move on to the leader. Each
// registration tells the agent the current managers and the role the cluster wants it
// in, so agents follow failovers and promotions without restarting their tasks.
import type {
  AssignmentsMessage,
  DispatcherApi,
  HeartbeatRequest,
  ImageSource,
  ImageSourcesRequest,
  Logger,
  PublishLogsRequest,
  PublishStatsRequest,
  RegisterRequest,
  RegisterResponse,
  UpdateTaskStatusRequest,
} from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import type { Store } from '../store/index.js';
import { Dispatcher, type DispatcherStats } from './dispatcher.js';
import type { BrokeredLogLine, LogRequest } from './log-broker.js';
import type { NodeTaskStats } from './stats-broker.js';
import { storeDispatcherPort } from './store-adapter.js';

/**
 * A registration answer that also names the managers' API addresses (host:port) and
 * the role the cluster wants the node in (a promotion or demotion shows here).
 */
export type ClusterRegisterResponse = RegisterResponse & { managers?: string[]; role?: 'manager' | 'worker' };

export interface LeaderDispatcherOptions {
  store: Store;
  log: Logger;
  heartbeatPeriodMs?: number;
  /** Missed heartbeat periods before a node is marked down (default 3). */
  graceMultiplier?: number;
  /** The leader's API address, when known (named in refusals). */
  leaderAddr?: () => string | undefined;
}

/**
 * The dispatcher of one manager: a real one while this manager leads, a refusal
 * naming the leader otherwise. A new leader also marks down the nodes that were ready
 * but never register with it (e.g. the old leader's own node).
 */
export class LeaderDispatcher implements DispatcherApi {
  private current: Dispatcher | undefined;
  private readonly registered = new Set<string>();
  private downCheck: NodeJS.Timeout | undefined;
  /** Open assignment streams, with the role each node registered in. */
  private readonly streams = new Map<string, { role: string; abort: AbortController }>();
  private readonly unwatch: () => void;
  private pastMisses = 0;

  constructor(private readonly o: LeaderDispatcherOptions) {
    // A node whose role changes re-registers, and so learns its new role.
    this.unwatch = o.store.subscribe(
      () => {
        for (const [nodeId, s] of this.streams) {
          // A removed node is not asked back: it would come back as a new worker.
          const role = this.o.store.getNode(nodeId)?.Spec.Role;
          if (role !== undefined && role !== s.role) s.abort.abort();
        }
      },
      { tables: ['nodes'] },
    );
  }

  get leading(): boolean {
    return this.current !== undefined;
  }

  /** The current dispatcher's figures; misses add up over this manager's terms of leadership. */
  stats(): DispatcherStats {
    const now = this.current?.stats() ?? { sessions: 0, heartbeatMisses: 0, queued: [] };
    return { ...now, heartbeatMisses: this.pastMisses + now.heartbeatMisses };
  }

  /** Starts or stops dispatching as leadership comes and goes; called on every leadership change. */
  follow(leading: boolean): void {
    if (leading && !this.current) {
      this.registered.clear();
      this.current = new Dispatcher({
        store: storeDispatcherPort(this.o.store),
        log: this.o.log,
        ...(this.o.heartbeatPeriodMs ? { heartbeatPeriodMs: this.o.heartbeatPeriodMs } : {}),
        ...(this.o.graceMultiplier ? { graceMultiplier: this.o.graceMultiplier } : {}),
      });
      this.o.log.info('leading: dispatcher started');
      const grace = (this.o.heartbeatPeriodMs ?? 5000) * (this.o.graceMultiplier ?? 3);
      this.downCheck = setTimeout(() => void this.markSilentNodesDown(), grace);
      this.downCheck.unref();
    } else if (!leading && this.current) {
      // Closing the sessions ends the agents' streams: they look for the new leader.
      this.pastMisses += this.current.stats().heartbeatMisses;
      this.current.stop();
      this.current = undefined;
      if (this.downCheck) clearTimeout(this.downCheck);
      this.o.log.info('no longer leading: dispatcher stopped');
    }
  }

  stop(): void {
    this.unwatch();
    this.follow(false);
  }

  async register(req: RegisterRequest): Promise<ClusterRegisterResponse> {
    // Counted before its 'ready' is written: the sweep of silent nodes must not write
    // 'down' over a registration in flight (the session would go on, the node down).
    const known = this.registered.has(req.nodeId);
    this.registered.add(req.nodeId);
    let res: RegisterResponse;
    try {
      res = await this.active().register(req);
    } catch (e) {
      if (!known) this.registered.delete(req.nodeId);
      throw e;
    }
    const role = this.o.store.getNode(req.nodeId)?.Spec.Role === 'manager' ? 'manager' : 'worker';
    return { ...res, managers: managerAddrs(this.o.store), role };
  }

  heartbeat(req: HeartbeatRequest): Promise<{ heartbeatPeriodMs: number }> {
    return this.active().heartbeat(req);
  }

  async *assignments(req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    const inner = this.active();
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    signal.addEventListener('abort', onAbort);
    const role = this.o.store.getNode(req.nodeId)?.Spec.Role ?? 'worker';
    const entry = { role, abort };
    this.streams.set(req.nodeId, entry);
    try {
      yield* inner.assignments(req, abort.signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (this.streams.get(req.nodeId) === entry) this.streams.delete(req.nodeId);
    }
  }

  updateTaskStatus(req: UpdateTaskStatusRequest): Promise<void> {
    return this.active().updateTaskStatus(req);
  }

  publishLogs(req: PublishLogsRequest): Promise<void> {
    return this.active().publishLogs(req);
  }

  publishStats(req: PublishStatsRequest): Promise<void> {
    return this.active().publishStats(req);
  }

  imageSources(req: ImageSourcesRequest): Promise<{ sources: ImageSource[] }> {
    return this.active().imageSources(req);
  }

  /** CPU and memory of tasks on a node, read through its session; only the leader has sessions. */
  taskStats(nodeId: string, taskIds: readonly string[], timeoutMs: number): Promise<NodeTaskStats> {
    return this.active().taskStats(nodeId, taskIds, timeoutMs);
  }

  /** Log lines of tasks on a node, read through its session; only the leader has sessions. */
  taskLogs(nodeId: string, req: LogRequest, signal: AbortSignal): AsyncIterable<BrokeredLogLine> {
    return this.active().taskLogs(nodeId, req, signal);
  }

  private active(): Dispatcher {
    if (this.current) return this.current;
    const leader = this.o.leaderAddr?.();
    throw new SkiffError(
      'not_leader',
      `this manager does not dispatch: only the leader does${leader ? ` (${leader})` : ''}`,
      { hint: 'the agent tries the next manager' },
    );
  }

  private async markSilentNodesDown(): Promise<void> {
    if (!this.current) return;
    const silent = this.o.store.listNodes((n) => n.Status.State === 'ready' && !this.registered.has(n.ID));
    for (const n of silent) {
      // Registered while an earlier node's write was in flight.
      if (!this.current || this.registered.has(n.ID)) continue;
      this.o.log.warn({ nodeId: n.ID }, 'node did not register with the new leader; marking it down');
      await storeDispatcherPort(this.o.store)
        .setNodeState(n.ID, 'down', 'heartbeat failure')
        .catch((err: unknown) =>
          this.o.log.error({ nodeId: n.ID, err: String(err) }, 'could not mark node down'),
        );
    }
  }
}

/** The API addresses (host:port) of the cluster's managers. */
export function managerAddrs(store: Store): string[] {
  return store.listNodes((n) => (n.ManagerStatus?.Addr ?? '') !== '').map((n) => n.ManagerStatus?.Addr ?? '');
}
