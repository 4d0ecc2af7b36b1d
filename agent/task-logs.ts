// The log lines of tasks this node runs, interleaved as they come: what the node's own
// API streams, and what it publishes to a manager's log subscription.
import { interleave } from '../lib/index.js';
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
  const known = new Set((await runtime.list()).map((c) => c.id));
  const opts = {
    follow: q.follow,
    signal,
    ...(q.tail !== undefined ? { tail: q.tail } : {}),
    ...(q.since ? { since: q.since } : {}),
  };
  // A container that goes away ends its stream (interleave ends a failing source).
  async function* linesOf(id: string): AsyncIterable<TaskLogEntry> {
    for await (const e of runtime.logs(id, opts))
      yield { taskId: id, stream: e.stream, time: e.time, line: e.line };
  }
  yield* interleave(taskIds.filter((id) => known.has(id)).map(linesOf), signal);
}
