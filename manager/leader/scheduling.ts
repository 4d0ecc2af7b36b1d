// The leader's scheduling loop: pending tasks get a node (pending → assigned) in one
// batched proposal per pass; tasks no node can take keep waiting with the reason.
import type { Logger, Service, Task } from '../../lib/index.js';
import { TERMINAL_TASK_STATES } from '../../lib/index.js';
import { schedule } from '../scheduler/index.js';
import type { Store } from '../store/index.js';
import { ControlLoop, updateInBatches } from './loop.js';

/**
 * Pending tasks one pass places at most: schedule() runs in one synchronous step that
 * costs about groups x nodes, and 1M pending tasks over 10,000 nodes held the leader's
 * event loop past the followers' election timeout. The rest go in the passes after.
 */
export const SCHEDULE_PASS_TASKS = 10_000;

export class SchedulingLoop {
  private readonly loop: ControlLoop;
  private unsubscribe: (() => void) | undefined;
  private readonly log: Logger;
  /** Where the next slice of already-tried pending tasks starts. */
  private triedFrom = 0;

  constructor(
    private readonly store: Store,
    log: Logger,
    private readonly passTasks = SCHEDULE_PASS_TASKS,
  ) {
    this.log = log.child({ component: 'scheduler' });
    this.loop = new ControlLoop('scheduler', () => this.pass(), this.log);
  }

  start(): void {
    this.unsubscribe = this.store.subscribe(
      (e) => {
        if (e.table === 'nodes' || (e.table === 'tasks' && (e.object as Task).Status.State === 'pending')) {
          this.loop.kick();
        }
      },
      { tables: ['tasks', 'nodes'] },
    );
    this.loop.kick();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.loop.stop();
  }

  settled(): Promise<void> {
    return this.loop.settled();
  }

  private async pass(): Promise<void> {
    const all = this.store.listTasks();
    // schedule() itself skips tasks asked to stop; jobs' tasks want 'complete', stop-first ones 'ready'.
    let pending = all.filter((t) => t.Status.State === 'pending');
    if (pending.length === 0) return;
    const more = pending.length > this.passTasks;
    if (more) {
      // Tasks not tried yet first; those no node could take yet (Err set) after them, from
      // where the last slice of them stopped, so none waits behind the same ones forever.
      const fresh = pending.filter((t) => t.Status.Err === undefined);
      const tried = pending.filter((t) => t.Status.Err !== undefined);
      const from = tried.length > 0 ? this.triedFrom % tried.length : 0;
      pending = [...fresh, ...tried.slice(from), ...tried.slice(0, from)].slice(0, this.passTasks);
      this.triedFrom = from + Math.max(0, this.passTasks - fresh.length);
    }
    const tasksByNode = new Map<string, Task[]>();
    for (const t of all) {
      if (!t.NodeID || t.Status.State === 'pending' || TERMINAL_TASK_STATES.has(t.Status.State ?? 'new'))
        continue;
      const list = tasksByNode.get(t.NodeID);
      if (list) list.push(t);
      else tasksByNode.set(t.NodeID, [t]);
    }
    const services = new Map<string, Service>(this.store.listServices().map((s) => [s.ID, s]));
    const result = schedule({ pending, nodes: this.store.listNodes(), tasksByNode, services });
    const byId = new Map(pending.map((t) => [t.ID, t]));
    const news = result.unschedulable.filter((u) => byId.get(u.taskId)?.Status.Err !== u.reason);
    if (result.assignments.length === 0 && news.length === 0) return;
    // Once this slice is committed, the next pass takes the following one (only after
    // progress: a slice of tasks that still fit nowhere waits for the next change).
    if (more) this.loop.kick();
    await updateInBatches(this.store, [...result.assignments, ...news], (tx, d) => {
      const t = tx.get('tasks', d.taskId);
      if (t?.Status.State !== 'pending') return;
      if ('nodeId' in d) {
        tx.update('tasks', {
          ...t,
          NodeID: d.nodeId,
          Status: { State: 'assigned', Message: 'scheduler assigned task to node', Timestamp: tx.now },
        });
      } else if (t.Status.Err !== d.reason) {
        tx.update('tasks', { ...t, Status: { ...t.Status, Err: d.reason, Timestamp: tx.now } });
      }
    });
    if (result.assignments.length) this.log.debug({ assigned: result.assignments.length }, 'tasks scheduled');
  }
}
