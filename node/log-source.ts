// Task logs for the API's `/services/{id}/logs` and `/tasks/{id}/logs`, read from the
// containers this node's agent runs (tasks on other nodes: manager/cluster-logs.ts).
import type { NodeAgent } from '../agent/index.js';
import { readTaskLogs } from '../agent/index.js';
import { SkiffError } from '../lib/index.js';
import type { LogSource } from '../manager/index.js';

/** Task logs from this node's agent (the tasks it runs). */
export function nodeLogSource(agentOf: () => NodeAgent | undefined): LogSource {
  return (tasks, q, signal) => {
    const agent = agentOf();
    if (!agent) throw new SkiffError('unavailable', 'the node agent is still starting');
    return readTaskLogs(
      agent.runtime,
      tasks.map((t) => t.ID),
      {
        follow: q.follow,
        ...(q.tail !== undefined ? { tail: q.tail } : {}),
        ...(q.since ? { since: q.since } : {}),
      },
      signal,
    );
  };
}
