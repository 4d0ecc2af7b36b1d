// Task logs for the API's `/services/{id}/logs` and `/tasks/{id}/logs`, read from the
// containers this node's agent runs.
import type { NodeAgent } from '../agent/index.js';
import type { Task } from '../lib/index.js';
import { SkiffError } from '../lib/index.js';
import type { LogQuery, LogSource, TaskLogLine } from '../manager/index.js';

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
