// A FAKE agent (no containers) for the benchmarks that need many nodes: placement,
// backup. It talks to the real dispatcher in process.
import type { AssignmentsMessage, DispatcherApi, TaskStatusReport } from '../../lib/index.js';

/**
 * A FAKE agent: registers like a node agent, reads its assignment stream and reports
 * every newly assigned task as running, batched per tick, without running anything.
 * It heartbeats only once asked to (startHeartbeats), at a period of its own.
 */
export class FakeAgent {
  private sessionId = '';
  private readonly abort = new AbortController();
  private readonly pending: TaskStatusReport[] = [];
  private flushing = false;
  private done: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Time spent inside the dispatcher's heartbeat calls, and how many. */
  static heartbeatMs = 0;
  static heartbeats = 0;

  constructor(
    readonly nodeId: string,
    private readonly dispatcher: DispatcherApi,
  ) {}

  async start(): Promise<void> {
    const r = await this.dispatcher.register({
      nodeId: this.nodeId,
      addr: '127.0.0.1',
      description: {
        Hostname: `fake-${this.nodeId}`,
        Platform: { OS: 'linux', Architecture: 'x86_64' },
        Resources: { NanoCPUs: 64e9, MemoryBytes: 256 * 2 ** 30 },
      },
    });
    this.sessionId = r.sessionId;
    const stream = this.dispatcher.assignments(
      { nodeId: this.nodeId, sessionId: this.sessionId },
      this.abort.signal,
    );
    this.done = (async () => {
      for await (const m of stream) this.onAssignments(m);
    })();
  }

  /** Heartbeats every `periodMs`, the first at a random point of it (as agents started at different times would). */
  startHeartbeats(periodMs: number): void {
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeat();
      this.heartbeatTimer = setInterval(() => this.heartbeat(), periodMs);
      this.heartbeatTimer.unref();
    }, Math.random() * periodMs);
    this.heartbeatTimer.unref();
  }

  private heartbeat(): void {
    const t0 = performance.now();
    const p = this.dispatcher.heartbeat({ nodeId: this.nodeId, sessionId: this.sessionId });
    FakeAgent.heartbeatMs += performance.now() - t0;
    FakeAgent.heartbeats++;
    p.catch((e: unknown) => process.stderr.write(`fake agent ${this.nodeId}: ${String(e)}\n`));
  }

  private onAssignments(m: AssignmentsMessage): void {
    for (const t of m.tasks) {
      if (t.DesiredState !== 'running' || t.Status.State !== 'assigned') continue;
      this.pending.push({
        taskId: t.ID,
        status: { State: 'running', Message: 'started (fake agent)', Timestamp: new Date().toISOString() },
      });
    }
    if (this.pending.length > 0 && !this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const updates = this.pending.splice(0);
      await this.dispatcher
        .updateTaskStatus({ nodeId: this.nodeId, sessionId: this.sessionId, updates })
        .catch((e: unknown) => process.stderr.write(`fake agent ${this.nodeId}: ${String(e)}\n`));
    }
    this.flushing = false;
  }

  async stop(): Promise<void> {
    clearTimeout(this.heartbeatTimer);
    clearInterval(this.heartbeatTimer);
    this.abort.abort();
    await this.done.catch(() => {});
  }
}
