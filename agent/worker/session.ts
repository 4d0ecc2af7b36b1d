// The agent's link to the managers: registers, heartbeats, feeds assignments to the
// worker and sends task statuses in batches. When the managers are unreachable it keeps
// retrying with backoff; the worker's tasks keep running meanwhile, and statuses queue
// (the newest per task) until a session takes them.
import type {
  AssignedNetwork,
  AssignedSecret,
  AssignmentsMessage,
  DispatcherApi,
  HeldImages,
  ImageSource,
  Logger,
  NetworkKeys,
  NodeDescription,
  RoutingMeshView,
  StatsRequest,
  TaskStatsSample,
  TaskStatus,
} from '../../lib/index.js';
import {
  AGENT_FEATURES,
  DISPATCH_PROTOCOL,
  describeError,
  dispatchProtocolRefusal,
  monoMs,
  SkiffError,
  silentLogger,
} from '../../lib/index.js';
import { type LogLineSource, LogPublisher } from './log-publisher.js';
import type { Worker } from './worker.js';

export interface AgentSessionOptions {
  dispatcher: () => DispatcherApi;
  worker: Worker;
  nodeId: string;
  addr: string;
  description: NodeDescription;
  /**
   * Called with the secrets, configs and networks of each assignment message, before
   * its tasks reach the worker. `complete`: the networks are all of the node's.
   */
  onResources?: (r: {
    complete: boolean;
    secrets: AssignedSecret[];
    configs: AssignedSecret[];
    networks: AssignedNetwork[];
    removedNetworks: string[];
    /** The routing mesh when it changed (always on `complete`); absent: unchanged. */
    mesh?: RoutingMeshView | null;
    /** The encrypted overlays' keys when they changed (always on `complete`); absent: unchanged. */
    networkKeys?: NetworkKeys | null;
  }) => void;
  /** The node's task logs, published to a manager's log subscriptions. */
  logs?: LogLineSource;
  /** The running tasks' CPU and memory, read now, for a manager's stats requests. */
  stats?: (taskIds: readonly string[]) => Promise<TaskStatsSample[]>;
  /** The images this node can serve other nodes, sent when registering and when they change. */
  images?: () => HeldImages | undefined;
  log?: Logger;
  batchDelayMs?: number;
  /** First wait before looking for a dispatcher again (doubles after each failure, to maxBackoffMs). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** First wait before statuses that could not be sent are sent again (doubles, to 2 s). */
  statusRetryMs?: number;
}

export class AgentSession {
  private readonly pending = new Map<string, TaskStatus>();
  private readonly log: Logger;
  private stopped = false;
  private abort = new AbortController();
  private flushTimer: NodeJS.Timeout | undefined;
  /** A batch of statuses is on its way to the dispatcher. */
  private flushing = false;
  private statusRetryMs: number;
  private current: { api: DispatcherApi; sessionId: string } | undefined;
  private connectedOnce: (() => void) | undefined;
  private readonly logPublisher: LogPublisher | undefined;
  /** The held images as last sent in this session ('' after registering with none). */
  private sentImages = '';
  /** Sends a heartbeat now (the held images changed); set while a session runs. */
  private beatNow: (() => void) | undefined;
  readonly connected: Promise<void>;

  constructor(private readonly opts: AgentSessionOptions) {
    this.log = (opts.log ?? silentLogger).child({ component: 'agent-session', nodeId: opts.nodeId });
    this.statusRetryMs = opts.statusRetryMs ?? 100;
    this.logPublisher = opts.logs ? new LogPublisher(opts.logs, this.log) : undefined;
    this.connected = new Promise((resolve) => {
      this.connectedOnce = resolve;
    });
  }

  /**
   * The worker's status callback. Sent at once (after this tick) when no batch is in
   * flight; what comes meanwhile waits for that batch and goes in the next one, so a
   * burst still batches while a lone `running` is not held back by a timer.
   */
  report(taskId: string, status: TaskStatus): void {
    this.pending.set(taskId, status);
    if (!this.flushing) this.flushIn(this.opts.batchDelayMs ?? 0);
  }

  private flushIn(ms: number): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, ms);
  }

  /** Runs sessions until stop(); never throws. */
  async run(): Promise<void> {
    const minBackoff = this.opts.minBackoffMs ?? 100;
    let backoff = minBackoff;
    while (!this.stopped) {
      try {
        await this.session();
        backoff = minBackoff;
      } catch (e) {
        if (this.stopped) break;
        // A session that was established and then broke (its leader died) looks for the
        // next one afresh: a backoff grown by earlier failures would keep the node away
        // longer than a new leader waits before marking unregistered nodes down.
        if (this.current) backoff = minBackoff;
        this.log.warn({ err: describeError(e), retryInMs: backoff }, 'dispatcher session ended');
      }
      this.current = undefined;
      if (this.stopped) break;
      await delay(backoff, this.abort.signal);
      backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 5000);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.flush().catch(() => {});
  }

  /** Tells the dispatcher at once that the held images changed (a build or import landed). */
  announceImages(): void {
    this.beatNow?.();
  }

  /** The other nodes holding the image `digest` names, as the dispatcher knows them; none without a session. */
  async imageSources(digest: string): Promise<ImageSource[]> {
    const cur = this.current;
    if (!cur) return [];
    const { sources } = await cur.api.imageSources({
      nodeId: this.opts.nodeId,
      sessionId: cur.sessionId,
      digest,
    });
    return sources;
  }

  private heldImages(): { images?: HeldImages; key: string } {
    const images = this.opts.images?.();
    const key = images ? JSON.stringify(images) : '';
    return images && key !== this.sentImages ? { images, key } : { key };
  }

  private async session(): Promise<void> {
    const api = this.opts.dispatcher();
    const held = this.opts.images?.();
    this.sentImages = held ? JSON.stringify(held) : '';
    const reg = await api.register({
      nodeId: this.opts.nodeId,
      description: this.opts.description,
      addr: this.opts.addr,
      protocol: DISPATCH_PROTOCOL,
      features: [
        ...(this.logPublisher ? [AGENT_FEATURES.logs] : []),
        ...(this.opts.stats ? [AGENT_FEATURES.stats] : []),
      ],
      ...(held ? { images: held } : {}),
    });
    const refused = dispatchProtocolRefusal(reg.protocol, 'dispatcher');
    if (refused) throw refused;
    this.current = { api, sessionId: reg.sessionId };
    this.log.info({ sessionId: reg.sessionId }, 'registered with the dispatcher');
    const sessionAbort = new AbortController();
    const onStop = () => sessionAbort.abort();
    this.abort.signal.addEventListener('abort', onStop);
    const heartbeat = () => {
      const { images, key } = this.heldImages();
      api
        .heartbeat({ nodeId: reg.nodeId, sessionId: reg.sessionId, ...(images ? { images } : {}) })
        .then(() => {
          if (images) this.sentImages = key;
        })
        .catch((e: unknown) => {
          this.log.warn({ err: describeError(e) }, 'heartbeat failed');
          sessionAbort.abort();
        });
    };
    const beat = setInterval(heartbeat, reg.heartbeatPeriodMs);
    this.beatNow = heartbeat;
    try {
      await this.flush();
      // A heartbeat refused meanwhile (the session went stale as it began) ends it here: a
      // stream opened with an aborted signal would never be cancelled.
      if (sessionAbort.signal.aborted)
        throw new SkiffError('unavailable', 'the dispatcher session ended as it began; registering again');
      for await (const msg of api.assignments(
        { nodeId: reg.nodeId, sessionId: reg.sessionId },
        sessionAbort.signal,
      )) {
        const ids = { nodeId: reg.nodeId, sessionId: reg.sessionId };
        for (const sub of msg.logSubscriptions ?? []) this.logPublisher?.open(api, ids, sub);
        for (const id of msg.closedLogSubscriptions ?? []) this.logPublisher?.close(id);
        for (const r of msg.statsRequests ?? []) void this.answerStats(api, ids, r);
        if (onlyLogControl(msg)) continue;
        // A message is handed to the task runners (each keeps its own steps in order, taken
        // in the order the messages came) without waiting for it to finish: containers start
        // and stop side by side, and a slow stop (a container's grace period) never holds
        // the session, which must end as soon as its dispatcher is gone or the new leader
        // marks this node down and replaces its tasks. A complete set that fails to apply
        // ends the session: the next one brings it again.
        const complete = msg.type === 'complete';
        this.apply(msg).then(
          () => {
            if (!complete) return;
            this.connectedOnce?.();
            this.connectedOnce = undefined;
          },
          (e: unknown) => {
            this.log.error({ err: describeError(e) }, 'applying assignments failed');
            if (complete) sessionAbort.abort();
          },
        );
      }
    } finally {
      clearInterval(beat);
      this.beatNow = undefined;
      this.abort.signal.removeEventListener('abort', onStop);
      this.logPublisher?.closeAll();
    }
  }

  /** Reads the tasks' usage and answers; a failure is logged (the manager's read times out). */
  private async answerStats(
    api: DispatcherApi,
    ids: { nodeId: string; sessionId: string },
    r: StatsRequest,
  ): Promise<void> {
    const read = this.opts.stats;
    if (!read) return;
    try {
      const stats = await read(r.taskIds);
      await api.publishStats({ ...ids, requestId: r.id, timeMs: Date.now(), stats });
    } catch (e) {
      this.log.warn({ requestId: r.id, err: describeError(e) }, 'could not answer a stats request');
    }
  }

  private async apply(msg: AssignmentsMessage): Promise<void> {
    if (this.log.isLevelEnabled('debug') && (msg.tasks.length > 0 || msg.removedTasks.length > 0))
      this.log.debug(
        {
          type: msg.type,
          tasks: msg.tasks.map((t) => `${t.ID}:${t.DesiredState}`),
          removed: msg.removedTasks,
          mono: monoMs(),
        },
        'assignments received',
      );
    this.opts.onResources?.({
      complete: msg.type === 'complete',
      secrets: msg.secrets,
      configs: msg.configs,
      networks: msg.networks,
      removedNetworks: msg.removedNetworks ?? [],
      ...(msg.mesh !== undefined ? { mesh: msg.mesh } : msg.type === 'complete' ? { mesh: null } : {}),
      ...(msg.networkKeys !== undefined
        ? { networkKeys: msg.networkKeys }
        : msg.type === 'complete'
          ? { networkKeys: null }
          : {}),
    });
    if (msg.type === 'complete') await this.opts.worker.setAssignments(msg.tasks);
    else await this.opts.worker.applyChanges({ updated: msg.tasks, removed: msg.removedTasks });
  }

  private async flush(): Promise<void> {
    const cur = this.current;
    if (!cur || this.pending.size === 0) return;
    const updates = [...this.pending].map(([taskId, status]) => ({ taskId, status }));
    this.pending.clear();
    this.flushing = true;
    const sent = monoMs();
    try {
      await cur.api.updateTaskStatus({ nodeId: this.opts.nodeId, sessionId: cur.sessionId, updates });
      if (this.log.isLevelEnabled('debug'))
        this.log.debug(
          {
            tasks: updates.map((u) => `${u.taskId}:${u.status.State}`),
            mono: sent,
            ackMs: Math.round((monoMs() - sent) * 10) / 10,
          },
          'task statuses sent',
        );
      this.statusRetryMs = this.opts.statusRetryMs ?? 100;
      this.flushing = false;
      if (this.pending.size > 0) this.flushIn(this.opts.batchDelayMs ?? 0);
    } catch (e) {
      this.flushing = false;
      // Put them back unless a newer status for the task arrived meanwhile, and try
      // again soon: the last status of a task (say `running`) may never be followed by
      // another report that would carry it.
      for (const u of updates) if (!this.pending.has(u.taskId)) this.pending.set(u.taskId, u.status);
      this.log.warn(
        { err: describeError(e), count: updates.length, retryInMs: this.statusRetryMs },
        'could not send task statuses; will retry',
      );
      this.flushIn(this.statusRetryMs);
      this.statusRetryMs = Math.min(this.statusRetryMs * 2, 2000);
    }
  }
}

/** A message that only opens or closes log subscriptions or asks for stats: nothing for the worker. */
function onlyLogControl(msg: AssignmentsMessage): boolean {
  return (
    (msg.logSubscriptions !== undefined ||
      msg.closedLogSubscriptions !== undefined ||
      msg.statsRequests !== undefined) &&
    msg.mesh === undefined &&
    msg.networkKeys === undefined &&
    msg.tasks.length === 0 &&
    msg.removedTasks.length === 0 &&
    msg.secrets.length === 0 &&
    msg.configs.length === 0 &&
    msg.networks.length === 0 &&
    (msg.removedNetworks?.length ?? 0) === 0
  );
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
