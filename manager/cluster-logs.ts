// Task logs from every node, as `docker service logs` reads them on a Swarm manager: the
// tasks this node runs from its own agent, the others through the leader's dispatcher
// (log subscriptions down each node's session). A node that cannot be read says so in
// the stream instead of being left out silently.
import type { Task } from '../lib/index.js';
import { describeError, interleave } from '../lib/index.js';
import type { LogQuery, LogSource, TaskLogLine } from './api/index.js';
import type { LogRequest } from './dispatcher/index.js';

export interface ClusterLogsOptions {
  nodeId: string;
  /** This node's own tasks. */
  local: LogSource | undefined;
  /** Tasks on another node, through the dispatcher's log broker (the leader only). */
  remote: (nodeId: string, req: LogRequest, signal: AbortSignal) => AsyncIterable<TaskLogLine>;
}

export function clusterLogSource(o: ClusterLogsOptions): LogSource {
  return (tasks, q, signal) => {
    const byNode = new Map<string, Task[]>();
    for (const t of tasks) {
      // A task never placed has no container anywhere, so no lines.
      if (!t.NodeID) continue;
      byNode.set(t.NodeID, [...(byNode.get(t.NodeID) ?? []), t]);
    }
    const sources: AsyncIterable<TaskLogLine>[] = [];
    for (const [nodeId, onNode] of byNode) {
      if (nodeId === o.nodeId) {
        if (o.local) sources.push(guarded(nodeId, () => o.local!(onNode, q, signal)));
      } else {
        sources.push(guarded(nodeId, () => o.remote(nodeId, logRequest(onNode, q), signal)));
      }
    }
    return interleave(sources, signal);
  };
}

function logRequest(tasks: readonly Task[], q: LogQuery): LogRequest {
  return {
    taskIds: tasks.map((t) => t.ID),
    follow: q.follow,
    ...(q.tail !== undefined ? { tail: q.tail } : {}),
    ...(q.since ? { since: q.since } : {}),
  };
}

/** A node's lines; its failure becomes one stderr line naming the node. */
async function* guarded(nodeId: string, open: () => AsyncIterable<TaskLogLine>): AsyncIterable<TaskLogLine> {
  try {
    yield* open();
  } catch (e) {
    yield {
      taskId: '',
      stream: 'stderr',
      time: new Date(),
      line: `skiff: the logs of tasks on node ${nodeId} cannot be read: ${describeError(e)}`,
    };
  }
}
