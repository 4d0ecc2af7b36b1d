// The manager side of agent sessions: registration, heartbeats (a node that misses
// them is marked down), the assignment stream (complete set first, then changes), and
// batched task status updates. Only the leader runs it. Network views (peers, DNS
// records) follow the store: a change marks every session's views stale, and a session
// sends what differs from what it sent before, when it next has nothing else to send.
import { randomUUID } from 'node:crypto';
import type {
  AssignedNetwork,
  AssignmentsMessage,
  DispatcherApi,
  HeartbeatRequest,
  HeldImages,
  ImageSource,
  ImageSourcesRequest,
  Logger,
  LogSubscription,
  NetworkKeys,
  PublishLogsRequest,
  PublishStatsRequest,
  RegisterRequest,
  RegisterResponse,
  StatsRequest,
  Task,
  UpdateTaskStatusRequest,
} from '../../lib/index.js';
import {
  AGENT_FEATURES,
  DISPATCH_PROTOCOL,
  dispatchProtocolRefusal,
  MAX_HELD_IMAGES,
  monoMs,
  registeredPeerAddr,
  SkiffError,
  silentLogger,
  taskStateRank,
} from '../../lib/index.js';
import { type BrokeredLogLine, LogBroker, type LogRequest } from './log-broker.js';
import { indexNetworks, meshOfNode, type NetworkIndex, networksOfNode, viewKey } from './network-views.js';
import { type NodeTaskStats, StatsBroker } from './stats-broker.js';
import type { DispatcherStorePort, TaskChange } from './store-port.js';

export interface DispatcherOptions {
  store: DispatcherStorePort;
  heartbeatPeriodMs?: number;
  /** Missed periods before a node is marked down. */
  graceMultiplier?: number;
  /** How long network changes gather before sessions recompute their views. */
  networkDelayMs?: number;
  /**
   * Changes queued for one session before they collapse into a fresh complete set: a slow
   * or stuck agent costs the manager at most this many messages, not one per change.
   */
  maxQueuedMessages?: number;
  log?: Logger;
}

export const MAX_QUEUED_MESSAGES = 1024;

interface Session {
  nodeId: string;
  sessionId: string;
  timer: NodeJS.Timeout | undefined;
  /** Pending incremental changes for the node's assignment stream. */
  queue: AssignmentsMessage[];
  /** The queue overflowed: the next message is a complete set, computed when it is sent. */
  resync: boolean;
  wake: (() => void) | undefined;
  closed: boolean;
  /** Network views last sent, by network ID, serialized for comparison. */
  sentNetworks: Map<string, string>;
  /** The routing mesh last sent, serialized. */
  sentMesh: string | undefined;
  /** The network keys last sent, by their tags and primary ('' for none). */
  sentKeys: string;
  networksStale: boolean;
  /** Log subscriptions to open and close, sent ahead of queued assignment changes. */
  logSubscribe: LogSubscription[];
  logClose: string[];
  /** Stats requests, sent ahead of queued assignment changes too. */
  statsRequests: StatsRequest[];
  /** What the agent serves beyond the base protocol (AGENT_FEATURES). */
  features: Set<string>;
  /** The images the node says it holds, for other nodes' fetches (soft state: re-sent on registering). */
  images: HeldImages | undefined;
}

/** What the dispatcher can tell the node's metrics at any moment. */
export interface DispatcherStats {
  /** Agent sessions open now. */
  sessions: number;
  /** Nodes marked down for missed heartbeats, since this dispatcher started. */
  heartbeatMisses: number;
  /** Assignment changes queued per node, not yet taken by its stream. */
  queued: { nodeId: string; length: number }[];
}

export class Dispatcher implements DispatcherApi {
  private readonly sessions = new Map<string, Session>();
  private heartbeatMisses = 0;
  private readonly period: number;
  private readonly grace: number;
  private readonly log: Logger;
  private readonly unwatch: () => void;
  private readonly unwatchNodes: () => void;
  private readonly logBroker = new LogBroker((nodeId, c) => this.sendLogControl(nodeId, c));
  private readonly statsBroker = new StatsBroker((nodeId, r) => this.sendStatsRequest(nodeId, r));
  /** Built once per burst of changes, shared by all sessions. */
  private networkIndex: NetworkIndex | undefined;
  private networkTimer: NodeJS.Timeout | undefined;
  /** When networkTimer fires (performance.now()). */
  private networkTimerAt = 0;
  /** How long the last index took to build: recomputing waits a multiple of it (big clusters). */
  private networkIndexMs = 0;

  constructor(private readonly opts: DispatcherOptions) {
    this.period = opts.heartbeatPeriodMs ?? 5000;
    this.grace = opts.graceMultiplier ?? 3;
    this.log = (opts.log ?? silentLogger).child({ component: 'dispatcher' });
    this.unwatch = opts.store.watchTasks((c) => this.onTaskChange(c));
    this.unwatchNodes = opts.store.watchNodesAndNetworks(() => this.networksChanged());
  }

  async register(req: RegisterRequest): Promise<RegisterResponse> {
    const refused = dispatchProtocolRefusal(req.protocol, 'agent');
    if (refused) {
      this.log.warn({ nodeId: req.nodeId, err: refused.message }, 'registration refused');
      throw refused;
    }
    const old = this.sessions.get(req.nodeId);
    if (old) {
      this.close(old);
      this.sessions.delete(req.nodeId);
    }
    // Its peer endpoint (the one its images are fetched from) is recorded in the store: any
    // manager, not only this leader, forwards an exec in one of its tasks there.
    const images = heldImages(req.images);
    const peerAddr = registeredPeerAddr(req.addr, images?.addr);
    if (!(await this.opts.store.markNodeReady(req.nodeId, req.description, req.addr, peerAddr))) {
      this.log.warn(
        { nodeId: req.nodeId, addr: req.addr },
        'registration refused: node is not in the cluster',
      );
      throw removedNodeError(req.nodeId);
    }
    const session: Session = {
      nodeId: req.nodeId,
      sessionId: randomUUID(),
      timer: undefined,
      queue: [],
      resync: false,
      wake: undefined,
      closed: false,
      sentNetworks: new Map(),
      sentMesh: undefined,
      sentKeys: '',
      networksStale: false,
      logSubscribe: [],
      logClose: [],
      statsRequests: [],
      features: new Set(req.features ?? []),
      images,
    };
    this.sessions.set(req.nodeId, session);
    this.arm(session);
    this.log.info({ nodeId: req.nodeId, addr: req.addr }, 'node registered');
    return {
      nodeId: req.nodeId,
      sessionId: session.sessionId,
      heartbeatPeriodMs: this.period,
      protocol: DISPATCH_PROTOCOL,
    };
  }

  async heartbeat(req: HeartbeatRequest): Promise<{ heartbeatPeriodMs: number }> {
    const session = this.sessionFor(req);
    if (!this.opts.store.hasNode(req.nodeId)) {
      // Removed while its agent runs: the session ends, and registering again is refused.
      this.close(session);
      this.sessions.delete(req.nodeId);
      this.log.warn({ nodeId: req.nodeId }, 'session ended: node was removed from the cluster');
      throw removedNodeError(req.nodeId);
    }
    this.arm(session);
    if (req.images !== undefined) session.images = heldImages(req.images);
    return { heartbeatPeriodMs: this.period };
  }

  /** The other nodes with a live session that hold the image `digest` names. */
  async imageSources(req: ImageSourcesRequest): Promise<{ sources: ImageSource[] }> {
    this.sessionFor(req);
    const sources: ImageSource[] = [];
    for (const s of this.sessions.values()) {
      if (s.closed || s.nodeId === req.nodeId || !s.images?.digests.includes(req.digest)) continue;
      sources.push({ nodeId: s.nodeId, addr: s.images.addr });
    }
    return { sources };
  }

  async *assignments(req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    const session = this.sessionFor(req);
    const onAbort = () => session.wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      yield this.completeSet(session);
      while (!session.closed && !signal.aborted) {
        const next =
          this.logControl(session) ??
          (session.resync
            ? this.completeSet(session)
            : (session.queue.shift() ?? this.networkChanges(session)));
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          session.wake = resolve;
        });
        session.wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async updateTaskStatus(req: UpdateTaskStatusRequest): Promise<void> {
    const session = this.sessionFor(req);
    this.arm(session);
    const own = new Set(this.opts.store.tasksForNode(session.nodeId).map((t) => t.ID));
    // A node may only report on its own tasks.
    const updates = req.updates.filter((u) => own.has(u.taskId));
    if (updates.length === 0) return;
    const received = monoMs();
    await this.opts.store.applyTaskStatuses(updates);
    if (this.log.isLevelEnabled('debug'))
      this.log.debug(
        {
          nodeId: session.nodeId,
          tasks: updates.map((u) => `${u.taskId}:${u.status.State}`),
          mono: received,
          committedMs: Math.round((monoMs() - received) * 10) / 10,
        },
        'task statuses committed',
      );
  }

  async publishLogs(req: PublishLogsRequest): Promise<void> {
    const session = this.sessionFor(req);
    await this.logBroker.publish(session.nodeId, req);
  }

  /** Log lines of tasks a node runs, read through its session (see log-broker.ts). */
  taskLogs(nodeId: string, req: LogRequest, signal: AbortSignal): AsyncIterable<BrokeredLogLine> {
    return this.logBroker.subscribe(nodeId, req, signal);
  }

  async publishStats(req: PublishStatsRequest): Promise<void> {
    const session = this.sessionFor(req);
    this.statsBroker.publish(session.nodeId, req);
  }

  /** CPU and memory of tasks a node runs, read through its session (see stats-broker.ts). */
  taskStats(nodeId: string, taskIds: readonly string[], timeoutMs: number): Promise<NodeTaskStats> {
    return this.statsBroker.request(nodeId, taskIds, timeoutMs);
  }

  private sendStatsRequest(nodeId: string, r: StatsRequest): true | string {
    const session = this.sessions.get(nodeId);
    if (!session || session.closed) return 'is not connected';
    if (!session.features.has(AGENT_FEATURES.stats))
      return 'runs an older skiff that does not send task stats';
    session.statsRequests.push(r);
    session.wake?.();
    return true;
  }

  private sendLogControl(nodeId: string, c: { subscribe?: LogSubscription; close?: string }): true | string {
    const session = this.sessions.get(nodeId);
    if (!session || session.closed) return 'is not connected';
    if (c.subscribe && !session.features.has(AGENT_FEATURES.logs))
      return 'runs an older skiff that does not send task logs';
    if (c.subscribe) session.logSubscribe.push(c.subscribe);
    if (c.close) session.logClose.push(c.close);
    session.wake?.();
    return true;
  }

  private logControl(session: Session): AssignmentsMessage | undefined {
    if (
      session.logSubscribe.length === 0 &&
      session.logClose.length === 0 &&
      session.statsRequests.length === 0
    )
      return undefined;
    const msg: AssignmentsMessage = {
      type: 'incremental',
      tasks: [],
      removedTasks: [],
      secrets: [],
      configs: [],
      networks: [],
      ...(session.logSubscribe.length > 0 ? { logSubscriptions: session.logSubscribe.splice(0) } : {}),
      ...(session.logClose.length > 0 ? { closedLogSubscriptions: session.logClose.splice(0) } : {}),
      ...(session.statsRequests.length > 0 ? { statsRequests: session.statsRequests.splice(0) } : {}),
    };
    return msg;
  }

  /** Log reads with a reader now (tests, diagnostics). */
  get openLogReads(): number {
    return this.logBroker.open;
  }

  /** Messages waiting for a node's assignment stream (tests, diagnostics). */
  queuedFor(nodeId: string): number {
    return this.sessions.get(nodeId)?.queue.length ?? 0;
  }

  stop(): void {
    this.unwatch();
    this.unwatchNodes();
    if (this.networkTimer) clearTimeout(this.networkTimer);
    for (const s of this.sessions.values()) this.close(s);
    this.sessions.clear();
  }

  private sessionFor(req: HeartbeatRequest): Session {
    const s = this.sessions.get(req.nodeId);
    if (!s || s.sessionId !== req.sessionId) {
      throw new SkiffError('unavailable', `session of node ${req.nodeId} is not current; register again`);
    }
    return s;
  }

  stats(): DispatcherStats {
    return {
      sessions: this.sessions.size,
      heartbeatMisses: this.heartbeatMisses,
      queued: [...this.sessions.values()].map((s) => ({ nodeId: s.nodeId, length: s.queue.length })),
    };
  }

  private arm(session: Session): void {
    if (session.closed) return;
    // Every heartbeat of every node lands here (2,000/s for 10,000 nodes): push the
    // session's one timer back instead of making a new one.
    if (session.timer) {
      session.timer.refresh();
      return;
    }
    session.timer = setTimeout(() => {
      this.log.warn({ nodeId: session.nodeId }, 'heartbeat missed; marking node down');
      this.heartbeatMisses++;
      this.close(session);
      this.sessions.delete(session.nodeId);
      this.opts.store.setNodeState(session.nodeId, 'down', 'heartbeat failure').catch((e: unknown) => {
        this.log.error({ nodeId: session.nodeId, err: String(e) }, 'could not mark node down');
      });
    }, this.period * this.grace);
    session.timer.unref();
  }

  private close(session: Session): void {
    session.closed = true;
    if (session.timer) clearTimeout(session.timer);
    session.timer = undefined;
    session.wake?.();
    this.logBroker.nodeGone(session.nodeId);
    this.statsBroker.nodeGone(session.nodeId);
  }

  private completeSet(session: Session): AssignmentsMessage {
    const tasks = this.opts.store.tasksForNode(session.nodeId);
    // The complete set supersedes every change queued before it.
    session.queue.length = 0;
    session.resync = false;
    session.sentNetworks.clear();
    session.networksStale = false;
    const networks = this.networkViews(session.nodeId);
    for (const n of networks) session.sentNetworks.set(n.id, viewKey(n));
    const mesh = this.meshView(session.nodeId);
    session.sentMesh = JSON.stringify(mesh);
    const networkKeys = this.keysFor(networks);
    session.sentKeys = keysSignature(networkKeys);
    return { ...this.message('complete', tasks, []), networks, mesh, networkKeys };
  }

  /** Task messages carry no networks: network views travel on their own (networkChanges). */
  private message(type: AssignmentsMessage['type'], tasks: Task[], removed: string[]) {
    return {
      type,
      tasks,
      removedTasks: removed,
      secrets: this.opts.store.secretsFor(tasks),
      configs: this.opts.store.configsFor(tasks),
      networks: [],
    };
  }

  private networkViews(nodeId: string): AssignedNetwork[] {
    if (!this.networkIndex) {
      const started = performance.now();
      this.networkIndex = indexNetworks(this.opts.store.networkState());
      this.networkIndexMs = performance.now() - started;
    }
    return networksOfNode(this.networkIndex, nodeId);
  }

  private meshView(nodeId: string) {
    if (!this.networkIndex) this.networkViews(nodeId);
    return this.networkIndex ? meshOfNode(this.networkIndex, nodeId) : null;
  }

  /** The node's network views that differ from what it was sent, if any. */
  private networkChanges(session: Session): AssignmentsMessage | undefined {
    if (!session.networksStale) return undefined;
    session.networksStale = false;
    const views = this.networkViews(session.nodeId);
    const keys = new Map(views.map((n) => [n.id, viewKey(n)]));
    const changed = views.filter((n) => session.sentNetworks.get(n.id) !== keys.get(n.id));
    const current = new Set(views.map((n) => n.id));
    const removed = [...session.sentNetworks.keys()].filter((id) => !current.has(id));
    const mesh = this.meshView(session.nodeId);
    const meshKey = JSON.stringify(mesh);
    const meshChanged = meshKey !== session.sentMesh;
    const networkKeys = this.keysFor(views);
    const keysChanged = keysSignature(networkKeys) !== session.sentKeys;
    if (changed.length === 0 && removed.length === 0 && !meshChanged && !keysChanged) return undefined;
    session.sentKeys = keysSignature(networkKeys);
    for (const n of changed) session.sentNetworks.set(n.id, keys.get(n.id) ?? '');
    for (const id of removed) session.sentNetworks.delete(id);
    session.sentMesh = meshKey;
    if (this.log.isLevelEnabled('debug'))
      this.log.debug(
        { nodeId: session.nodeId, networks: changed.map((n) => n.id), mono: monoMs() },
        'network views sent',
      );
    return {
      ...this.message('incremental', [], []),
      networks: changed,
      removedNetworks: removed,
      ...(meshChanged ? { mesh } : {}),
      ...(keysChanged ? { networkKeys } : {}),
    };
  }

  /** The network keys, for a node with a task on an encrypted overlay only (null otherwise). */
  private keysFor(views: readonly AssignedNetwork[]): NetworkKeys | null {
    if (!views.some((v) => v.encrypted === true && v.driver === 'overlay')) return null;
    return this.opts.store.networkKeys() ?? null;
  }

  /**
   * Gathers a burst of changes, then has every session recompute its views once.
   * `urgent`: a running task is stopping and the nodes must take it out of its VIPs' sets
   * within its drain, before its stop signal, so no burst is awaited (the indexing then
   * takes at most half the time).
   */
  private networksChanged(urgent = false): void {
    // At most a fifth of the time goes to indexing, however many tasks there are.
    const delay = urgent
      ? this.networkIndexMs
      : Math.max(this.opts.networkDelayMs ?? 50, 4 * this.networkIndexMs);
    const at = performance.now() + delay;
    if (this.networkTimer && this.networkTimerAt <= at) return;
    if (this.networkTimer) clearTimeout(this.networkTimer);
    this.networkTimerAt = at;
    this.networkTimer = setTimeout(() => {
      this.networkTimer = undefined;
      this.networkIndex = undefined;
      for (const s of this.sessions.values()) {
        s.networksStale = true;
        s.wake?.();
      }
    }, delay);
    this.networkTimer.unref();
  }

  private onTaskChange(change: TaskChange): void {
    if ((change.task.NetworksAttachments?.length ?? 0) > 0) this.networksChanged(isLeavingVips(change.task));
    const nodeId = change.task.NodeID;
    if (!nodeId) return;
    const session = this.sessions.get(nodeId);
    if (!session || session.closed) return;
    const t = change.task;
    // Desired state 'remove' travels as an update: the agent tears the task down and
    // reports it removed; only the store deleting the task takes it off the node.
    const gone = change.kind === 'delete';
    if (!gone && taskStateRank(t.Status.State ?? 'new') < taskStateRank('assigned')) return;
    if (this.log.isLevelEnabled('debug'))
      this.log.debug(
        { nodeId, taskId: t.ID, serviceId: t.ServiceID, desiredState: t.DesiredState, mono: monoMs() },
        'assignment queued',
      );
    if (!session.resync) {
      if (session.queue.length < (this.opts.maxQueuedMessages ?? MAX_QUEUED_MESSAGES)) {
        session.queue.push(this.message('incremental', gone ? [] : [t], gone ? [t.ID] : []));
      } else {
        this.log.warn(
          { nodeId, queued: session.queue.length },
          'agent is not keeping up; its next assignments message is a complete set',
        );
        session.queue.length = 0;
        session.resync = true;
      }
    }
    session.wake?.();
  }
}

/** Which keys a message carries: tags are never reused, so they stand for the keys. */
function keysSignature(keys: NetworkKeys | null): string {
  return keys ? `${keys.primary}:${keys.keys.map((k) => k.tag).join(',')}` : '';
}

/**
 * A node object is created by joining (or cluster init) before its agent first
 * registers, so a node the store does not know was removed (`node rm`) — as in Docker,
 * it does not come back by itself — or never joined this cluster.
 */
function removedNodeError(nodeId: string): SkiffError {
  const hint =
    'leave and join again with a token: `skiff cluster leave` on that node, then `skiff cluster join --token …`';
  return new SkiffError(
    'failed_precondition',
    `node ${nodeId} was removed from the cluster (or never joined it) and cannot register; ${hint}`,
    { hint },
  );
}

const HELD_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** What a node says it holds, kept only when well formed and bounded (it comes off the wire). */
function heldImages(v: HeldImages | undefined): HeldImages | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  if (typeof v.addr !== 'string' || v.addr.length > 300 || !Array.isArray(v.digests)) return undefined;
  const digests = v.digests
    .filter((d): d is string => typeof d === 'string' && HELD_DIGEST.test(d))
    .slice(0, MAX_HELD_IMAGES);
  return { addr: v.addr, digests };
}

/** A task still running that the manager asked to stop: it leaves its VIPs' sets now. */
function isLeavingVips(t: Task): boolean {
  return t.Status.State === 'running' && taskStateRank(t.DesiredState) > taskStateRank('running');
}
