// The log lines of tasks this node runs, interleaved as they come: what the node's own
// API streams, and what it publishes to a manager's log subscription.
import type { ContainerRuntime } from './runtime/index.js';

export interface TaskLogEntry {
  taskId: string;
  stream: 'stdout' | 'stderr';
  time: Date;
  line: string;
}

export interface TaskLogQuery {
  follow: boolean;
  tail?: number;
  since?: Date;
}

/** Tasks without a container here are skipped: their stream is just empty. */
export async function* readTaskLogs(
  runtime: Pick<ContainerRuntime, 'list' | 'logs'>,
  taskIds: readonly string[],
  q: TaskLogQuery,
  signal: AbortSignal,
): AsyncIterable<TaskLogEntry> {
  const queue: TaskLogEntry[] = [];
  let wake: (() => void) | undefined;
  let open = 0;
  const known = new Set((await runtime.list()).map((c) => c.id));
  const onAbort = () => wake?.();
  signal.addEventListener('abort', onAbort);
  for (const id of taskIds) {
    if (!known.has(id)) continue;
    open++;
    void (async () => {
      try {
        const opts = {
          follow: q.follow,
          signal,
          ...(q.tail !== undefined ? { tail: q.tail } : {}),
          ...(q.since ? { since: q.since } : {}),
        };
        for await (const e of runtime.logs(id, opts)) {
          queue.push({ taskId: id, stream: e.stream, time: e.time, line: e.line });
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
  try {
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
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
