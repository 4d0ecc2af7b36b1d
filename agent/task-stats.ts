// The CPU and memory of tasks this node runs, read now from their cgroups (the same
// read a metrics scrape makes): what the node's own API answers, and what it sends to a
// manager's stats request. A task without a running container here is left out.
import type { TaskStatsSample } from '../lib/index.js';
import { SWARM_TASK_ID_LABEL } from '../lib/index.js';
import type { ContainerRuntime } from './runtime/index.js';

export async function readTaskStats(
  runtime: Pick<ContainerRuntime, 'stats'>,
  taskIds: readonly string[],
): Promise<TaskStatsSample[]> {
  const wanted = new Set(taskIds);
  const out: TaskStatsSample[] = [];
  for (const c of await runtime.stats()) {
    const taskId = c.labels[SWARM_TASK_ID_LABEL] ?? c.id;
    if (!wanted.has(taskId)) continue;
    out.push({
      taskId,
      ...(c.cpuNanos !== undefined ? { cpuNanos: c.cpuNanos } : {}),
      ...(c.memoryBytes !== undefined ? { memoryBytes: c.memoryBytes } : {}),
      ...(c.memoryLimitBytes !== undefined ? { memoryLimitBytes: c.memoryLimitBytes } : {}),
    });
  }
  return out;
}
