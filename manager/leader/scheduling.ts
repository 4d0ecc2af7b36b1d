// The leader's scheduling loop: pending tasks get a node (pending → assigned) in one
// batched proposal per pass; tasks no node can take keep waiting with the reason.
import type { Logger, Service, Task } from '../../lib/index.js';
import { TERMINAL_TASK_STATES } from '../../lib/index.js';
import { schedule } from '../scheduler/index.js';
import type { Store } from '../store/index.js';
import { ControlLoop, updateInBatches } from './loop.js';

export class SchedulingLoop {
  private readonly loop: ControlLoop;
  private unsubscribe: (() => void) | undefined;
  private readonly log: Logger;

  constructor(
    private readonly store: Store,
    log: Logger,
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
    const pending = all.filter((t) => t.Status.State === 'pending');
    if (pending.length === 0) return;
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
