// The leader's scheduling loop: pending tasks get a node (pending → assigned) in one
// batched proposal per pass; tasks no node can take keep waiting with the reason.
import type { Logger, Service, Task } from '../../lib/index.js';
import { TERMINAL_TASK_STATES } from '../../lib/index.js';
import { schedule } from '../scheduler/index.js';
import type { Store } from '../store/index.js';
import { ControlLoop, updateInBatches } from './loop.js';

/**
 * The work one pass takes on, in services x nodes: schedule() runs in one synchronous step
 * that costs about that (each service's tasks filter and rank every node), and 1M pending
 * tasks of 10,000 services over 10,000 nodes held the leader's event loop past the
 * followers' election timeout. 1,000 services over 1,000 nodes fit in one pass; the rest
 * go in the passes after.
 */
export const SCHEDULE_PASS_WORK = 2_000_000;

export class SchedulingLoop {
  private readonly loop: ControlLoop;
  private unsubscribe: (() => void) | undefined;
  private readonly log: Logger;
  /** Where the next slice of already-tried pending tasks starts. */
  private triedFrom = 0;

  constructor(
    private readonly store: Store,
    log: Logger,
    private readonly passWork = SCHEDULE_PASS_WORK,
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
    const nodes = this.store.listNodes();
    // Services this pass may take on (at least one).
    const maxServices = Math.max(1, Math.floor(this.passWork / Math.max(1, nodes.length)));
    const more = countServices(pending, maxServices + 1) > maxServices;
    if (more) {
      // Tasks not tried yet first; those no node could take yet (Err set) after them, from
      // where the last slice of them stopped, so none waits behind the same ones forever.
      const fresh = pending.filter((t) => t.Status.Err === undefined);
      const tried = pending.filter((t) => t.Status.Err !== undefined);
      const from = tried.length > 0 ? this.triedFrom % tried.length : 0;
      pending = takeServices([...fresh, ...tried.slice(from), ...tried.slice(0, from)], maxServices);
      this.triedFrom = from + Math.max(0, pending.length - fresh.length);
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
    const result = schedule({ pending, nodes, tasksByNode, services });
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

/** How many services `tasks` belong to, counting no further than `stopAt`. */
function countServices(tasks: readonly Task[], stopAt: number): number {
  const seen = new Set<string>();
  for (const t of tasks) {
    seen.add(t.ServiceID);
    if (seen.size >= stopAt) break;
  }
  return seen.size;
}

/** The tasks, in order, of the first `max` services met. */
function takeServices(tasks: readonly Task[], max: number): Task[] {
  const taken = new Set<string>();
  const out: Task[] = [];
  for (const t of tasks) {
    if (!taken.has(t.ServiceID)) {
      if (taken.size >= max) continue;
      taken.add(t.ServiceID);
    }
    out.push(t);
  }
  return out;
}
