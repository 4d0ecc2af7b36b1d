// The dispatcher's log broker (swarmkit's idea, our shape): a reader of task logs on the
// manager subscribes; the subscription goes down the task's node's assignment stream and
// the node publishes the lines back. Lines wait here only as long as the reader is slow
// by less than a bound: past it, the node's publish call waits (backpressure reaches the
// node, whose reading of the container log pauses), so memory never follows a stuck reader.
import { randomUUID } from 'node:crypto';
import type { LogSubscription, PublishLogsRequest } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';

/** A log line as a manager's reader gets it. */
export interface BrokeredLogLine {
  taskId: string;
  stream: 'stdout' | 'stderr';
  time: Date;
  line: string;
}

export interface LogRequest {
  taskIds: string[];
  follow: boolean;
  tail?: number;
  since?: Date;
}

/** Lines held for one reader before the publishing node is made to wait. */
export const MAX_BUFFERED_LOG_LINES = 1024;

interface Subscription {
  id: string;
  nodeId: string;
  /** A node publishes lines of these tasks only. */
  taskIds: Set<string>;
  lines: BrokeredLogLine[];
  done: boolean;
  error: SkiffError | undefined;
  /** The reader waits for lines. */
  wakeReader: (() => void) | undefined;
  /** Publishers wait for the reader to take lines. */
  wakePublishers: (() => void)[];
}

/** How the broker reaches a node's session: true, or why the node cannot be asked. */
export type SendLogControl = (
  nodeId: string,
  control: { subscribe?: LogSubscription; close?: string },
) => true | string;

export class LogBroker {
  private readonly subs = new Map<string, Subscription>();

  constructor(private readonly send: SendLogControl) {}

  /** Log lines of tasks on one node, until the node is done, fails or `signal` aborts. */
  async *subscribe(nodeId: string, req: LogRequest, signal: AbortSignal): AsyncIterable<BrokeredLogLine> {
    const sub: Subscription = {
      id: randomUUID(),
      nodeId,
      taskIds: new Set(req.taskIds),
      lines: [],
      done: false,
      error: undefined,
      wakeReader: undefined,
      wakePublishers: [],
    };
    const wire: LogSubscription = {
      id: sub.id,
      taskIds: req.taskIds,
      follow: req.follow,
      ...(req.tail !== undefined ? { tail: req.tail } : {}),
      ...(req.since ? { sinceMs: req.since.getTime() } : {}),
    };
    this.subs.set(sub.id, sub);
    const sent = this.send(nodeId, { subscribe: wire });
    if (sent !== true) {
      this.subs.delete(sub.id);
      throw new SkiffError(
        'unavailable',
        `node ${nodeId} ${sent}: the logs of its tasks cannot be read now`,
        {
          hint: 'retry once the node is back and runs this version of skiff (skiff node ls)',
        },
      );
    }
    const onAbort = () => sub.wakeReader?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const next = sub.lines.shift();
        if (next) {
          if (sub.lines.length < MAX_BUFFERED_LOG_LINES) this.releasePublishers(sub);
          yield next;
          continue;
        }
        this.releasePublishers(sub);
        if (sub.error) throw sub.error;
        if (sub.done) return;
        await new Promise<void>((r) => {
          sub.wakeReader = r;
        });
        sub.wakeReader = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.subs.delete(sub.id);
      this.releasePublishers(sub);
      if (!sub.done && !sub.error) this.send(nodeId, { close: sub.id });
    }
  }

  /** A node's lines for a subscription; waits while the reader is behind by the bound. */
  async publish(nodeId: string, req: PublishLogsRequest): Promise<void> {
    const sub = this.subs.get(req.subscriptionId);
    if (!sub || sub.nodeId !== nodeId) {
      throw new SkiffError('not_found', `no reader for log subscription ${req.subscriptionId}`);
    }
    for (const l of req.lines) {
      if (!sub.taskIds.has(l.taskId)) continue;
      sub.lines.push({ taskId: l.taskId, stream: l.stream, time: new Date(l.timeMs), line: l.line });
    }
    if (req.done) sub.done = true;
    sub.wakeReader?.();
    while (sub.lines.length >= MAX_BUFFERED_LOG_LINES && this.subs.has(sub.id)) {
      await new Promise<void>((r) => sub.wakePublishers.push(r));
    }
  }

  /** The node's session ended: its readers get an error instead of waiting forever. */
  nodeGone(nodeId: string): void {
    for (const sub of this.subs.values()) {
      if (sub.nodeId !== nodeId || sub.done) continue;
      sub.error = new SkiffError('unavailable', `node ${nodeId} disconnected while its task logs were read`);
      sub.wakeReader?.();
      this.releasePublishers(sub);
    }
  }

  /** Subscriptions with a reader now (tests, diagnostics). */
  get open(): number {
    return this.subs.size;
  }

  private releasePublishers(sub: Subscription): void {
    const waiting = sub.wakePublishers.splice(0);
    for (const w of waiting) w();
  }
}
