// Task resource usage from any node, as the log broker reads logs: a request goes down
// the node's assignment stream and the node answers it with one publishStats call. A
// node that does not answer in time fails the read instead of holding it.
import { randomUUID } from 'node:crypto';
import type { PublishStatsRequest, StatsRequest, TaskStatsSample } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';

/** What a node answered: its tasks' usage and when it read them. */
export interface NodeTaskStats {
  timeMs: number;
  stats: TaskStatsSample[];
}

/** How the broker reaches a node's session: true, or why the node cannot be asked. */
export type SendStatsRequest = (nodeId: string, req: StatsRequest) => true | string;

interface Pending {
  nodeId: string;
  taskIds: Set<string>;
  resolve: (v: NodeTaskStats) => void;
  reject: (e: SkiffError) => void;
}

export class StatsBroker {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly send: SendStatsRequest) {}

  /** The usage of tasks on one node, or an error once `timeoutMs` passes without an answer. */
  request(nodeId: string, taskIds: readonly string[], timeoutMs: number): Promise<NodeTaskStats> {
    const id = randomUUID();
    return new Promise<NodeTaskStats>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SkiffError('timeout', `node ${nodeId} did not answer within ${timeoutMs}ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.pending.delete(id);
      };
      this.pending.set(id, {
        nodeId,
        taskIds: new Set(taskIds),
        resolve: (v) => {
          done();
          resolve(v);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      const sent = this.send(nodeId, { id, taskIds: [...taskIds] });
      if (sent !== true) {
        this.pending.get(id)?.reject(
          new SkiffError('unavailable', `node ${nodeId} ${sent}`, {
            hint: 'retry once the node is back and runs this version of skiff (skiff node ls)',
          }),
        );
      }
    });
  }

  /** A node's answer; only the tasks it was asked about are kept. */
  publish(nodeId: string, req: PublishStatsRequest): void {
    const p = this.pending.get(req.requestId);
    if (!p || p.nodeId !== nodeId) {
      throw new SkiffError('not_found', `nobody waits for stats request ${req.requestId}`);
    }
    p.resolve({ timeMs: req.timeMs, stats: req.stats.filter((s) => p.taskIds.has(s.taskId)) });
  }

  /** The node's session ended: its requests fail now rather than at their timeout. */
  nodeGone(nodeId: string): void {
    for (const p of [...this.pending.values()]) {
      if (p.nodeId === nodeId) p.reject(new SkiffError('unavailable', `node ${nodeId} disconnected`));
    }
  }

  /** Requests waiting for an answer (tests, diagnostics). */
  get open(): number {
    return this.pending.size;
  }
}
