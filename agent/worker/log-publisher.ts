// The node's side of a manager's log subscription (lib/dispatch.ts): reads the tasks'
// lines here and publishes them in batches, one call at a time, so the manager's pace
// (its publishLogs answers) paces the reading of the container logs.
import type { DispatcherApi, Logger, LogSubscription, PublishedLogLine } from '../../lib/index.js';
import { describeError } from '../../lib/index.js';

export type LogLineSource = (
  taskIds: readonly string[],
  q: { follow: boolean; tail?: number; since?: Date },
  signal: AbortSignal,
) => AsyncIterable<{ taskId: string; stream: 'stdout' | 'stderr'; time: Date; line: string }>;

/** Lines per publish call, and how long a partial batch waits for more. */
const BATCH_LINES = 256;
const BATCH_DELAY_MS = 20;

export class LogPublisher {
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly read: LogLineSource,
    private readonly log: Logger,
  ) {}

  /** Starts publishing a subscription through this session's dispatcher. */
  open(api: DispatcherApi, session: { nodeId: string; sessionId: string }, sub: LogSubscription): void {
    if (this.running.has(sub.id)) return;
    const abort = new AbortController();
    this.running.set(sub.id, abort);
    void this.publish(api, session, sub, abort.signal)
      .catch((e: unknown) => {
        if (!abort.signal.aborted) {
          this.log.warn({ subscriptionId: sub.id, err: describeError(e) }, 'publishing task logs stopped');
        }
      })
      .finally(() => {
        if (this.running.get(sub.id) === abort) this.running.delete(sub.id);
      });
  }

  close(id: string): void {
    this.running.get(id)?.abort();
    this.running.delete(id);
  }

  /** The session ended: its subscriptions end with it (the manager's readers were told). */
  closeAll(): void {
    for (const a of this.running.values()) a.abort();
    this.running.clear();
  }

  private async publish(
    api: DispatcherApi,
    session: { nodeId: string; sessionId: string },
    sub: LogSubscription,
    signal: AbortSignal,
  ): Promise<void> {
    const batch: PublishedLogLine[] = [];
    let sending: Promise<void> = Promise.resolve();
    let failed: unknown;
    let timer: NodeJS.Timeout | undefined;
    const send = (done: boolean) => {
      const lines = batch.splice(0);
      sending = sending.then(async () => {
        if (failed !== undefined || signal.aborted) return;
        try {
          await api.publishLogs({ ...session, subscriptionId: sub.id, lines, ...(done ? { done } : {}) });
        } catch (e) {
          failed = e;
        }
      });
    };
    const q = {
      follow: sub.follow,
      ...(sub.tail !== undefined ? { tail: sub.tail } : {}),
      ...(sub.sinceMs !== undefined ? { since: new Date(sub.sinceMs) } : {}),
    };
    try {
      for await (const e of this.read(sub.taskIds, q, signal)) {
        batch.push({ taskId: e.taskId, stream: e.stream, timeMs: e.time.getTime(), line: e.line });
        if (batch.length >= BATCH_LINES) {
          if (timer) clearTimeout(timer);
          timer = undefined;
          send(false);
          await sending;
        } else if (!timer) {
          timer = setTimeout(() => {
            timer = undefined;
            send(false);
          }, BATCH_DELAY_MS);
        }
        if (failed !== undefined) throw failed;
      }
    } finally {
      if (timer) clearTimeout(timer);
    }
    send(true);
    await sending;
    if (failed !== undefined) throw failed;
  }
}
