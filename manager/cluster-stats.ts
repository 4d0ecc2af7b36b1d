// The CPU and memory of tasks on every node, read now: the tasks this node runs from its
// own agent, the others through the leader's dispatcher (a stats request down each
// node's session, as cluster-logs.ts reads logs). Nodes are asked side by side, each
// within a deadline: one that does not answer is named in the answer instead of
// stalling it.
import type { ServiceTaskStats, TaskStatsSample } from '../lib/index.js';
import { describeError, SkiffError } from '../lib/index.js';
import type { ClusterTaskStats, TaskStatsSource } from './api/index.js';
import type { NodeTaskStats } from './dispatcher/index.js';

export interface ClusterStatsOptions {
  nodeId: string;
  /** This node's own tasks (its agent); undefined on a manager that runs none. */
  local: ((taskIds: readonly string[]) => Promise<TaskStatsSample[]>) | undefined;
  /** Tasks on another node, through the dispatcher's stats broker (the leader only). */
  remote: (nodeId: string, taskIds: readonly string[], timeoutMs: number) => Promise<NodeTaskStats>;
  /** How long one node may take to answer. */
  timeoutMs: number;
  now?: () => number;
}

/** One node's answer or why there is none. */
export type NodeAnswer = { nodeId: string } & ({ answer: NodeTaskStats } | { error: string });

export function clusterStatsSource(o: ClusterStatsOptions): TaskStatsSource {
  const now = o.now ?? Date.now;
  return async (tasks) => {
    const byNode = new Map<string, string[]>();
    for (const t of tasks) {
      // A task never placed runs nowhere.
      if (!t.NodeID) continue;
      byNode.set(t.NodeID, [...(byNode.get(t.NodeID) ?? []), t.ID]);
    }
    const answers = await Promise.all(
      [...byNode].map(async ([nodeId, ids]): Promise<NodeAnswer> => {
        try {
          if (nodeId !== o.nodeId) return { nodeId, answer: await o.remote(nodeId, ids, o.timeoutMs) };
          const local = o.local;
          if (!local) throw new SkiffError('unsupported', 'this manager runs no agent');
          const stats = await withTimeout(local(ids), o.timeoutMs, nodeId);
          return { nodeId, answer: { timeMs: now(), stats } };
        } catch (e) {
          return { nodeId, error: describeError(e) };
        }
      }),
    );
    return mergeNodeAnswers(answers);
  };
}

/** The nodes' answers as one list of tasks (by task ID) and the nodes that failed (by node ID). */
export function mergeNodeAnswers(answers: readonly NodeAnswer[]): ClusterTaskStats {
  const tasks: ServiceTaskStats[] = [];
  const unreachable: ClusterTaskStats['unreachable'] = [];
  for (const a of answers) {
    if ('error' in a) {
      unreachable.push({ nodeId: a.nodeId, message: a.error });
      continue;
    }
    for (const s of a.answer.stats) tasks.push({ ...s, nodeId: a.nodeId, timeMs: a.answer.timeMs });
  }
  tasks.sort((x, y) => (x.taskId < y.taskId ? -1 : x.taskId > y.taskId ? 1 : 0));
  unreachable.sort((x, y) => (x.nodeId < y.nodeId ? -1 : x.nodeId > y.nodeId ? 1 : 0));
  return { tasks, unreachable };
}

function withTimeout<T>(p: Promise<T>, ms: number, nodeId: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SkiffError('timeout', `node ${nodeId} did not answer within ${ms}ms`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}
