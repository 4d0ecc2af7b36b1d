// One reconciliation pass: the working copy of a service's tasks, so later steps see
// what earlier steps decided, and the changes collected for the store.

import { type Node, recordRollout, type Service, type Task, type TaskState } from '../../lib/index.js';
import {
  type Changes,
  type Deps,
  emptyChanges,
  isStopRequested,
  neverDispatched,
  isCurrent as runsCurrentSpec,
  withDesiredState,
} from './model.js';

export class Pass {
  readonly changes: Changes = emptyChanges();
  readonly nowIso: string;
  readonly tasks = new Map<string, Task>();
  readonly nodes: ReadonlyMap<string, Node>;
  private readonly updated = new Set<string>();
  private readonly created = new Set<string>();
  private readonly currentCache = new Map<string, boolean>();

  constructor(
    public service: Service,
    tasks: readonly Task[],
    nodes: readonly Node[] | ReadonlyMap<string, Node>,
    readonly deps: Deps,
  ) {
    this.nowIso = new Date(deps.now).toISOString();
    for (const t of tasks) this.tasks.set(t.ID, t);
    // A map from the caller is shared by every service of its pass: a copy per service
    // cost services x nodes (10,000 x 10,000) per orchestration pass.
    this.nodes = isNodeMap(nodes) ? nodes : new Map(nodes.map((n) => [n.ID, n]));
  }

  get now(): number {
    return this.deps.now;
  }

  create(t: Task): void {
    this.tasks.set(t.ID, t);
    this.created.add(t.ID);
  }

  /** Moves the task's desired state forward; returns the new copy (or the task unchanged). */
  desire(t: Task, state: TaskState, status?: Task['Status']): Task {
    const next = withDesiredState(t, state, this.nowIso);
    if (!next) return t;
    if (status) next.Status = status;
    else if (isStopRequested(next) && neverDispatched(next)) {
      // No agent ever had it, so none will report it stopped: it ends here.
      next.Status = {
        ...next.Status,
        State: 'shutdown',
        Message: 'shut down before it was scheduled',
        Timestamp: this.nowIso,
      };
    }
    this.put(next);
    return next;
  }

  put(t: Task): void {
    this.tasks.set(t.ID, t);
    if (!this.created.has(t.ID)) this.updated.add(t.ID);
  }

  remove(id: string): void {
    this.tasks.delete(id);
    this.updated.delete(id);
    this.changes.delete.push(id);
  }

  /** Whether the task runs the service's current spec; cached, as specs are compared often. */
  isCurrent(t: Task): boolean {
    let v = this.currentCache.get(t.ID);
    if (v === undefined) {
      v = runsCurrentSpec(t, this.service);
      this.currentCache.set(t.ID, v);
    }
    return v;
  }

  /** The service's new state; a change of its UpdateStatus is added to its rollouts. */
  setService(s: Service): void {
    if (s.Spec !== this.service.Spec) this.currentCache.clear();
    const next = recordRollout(this.service, s, this.nowIso);
    this.service = next;
    this.changes.serviceUpdates = [next];
  }

  finish(): Changes {
    for (const id of this.created) {
      const t = this.tasks.get(id);
      if (t) this.changes.create.push(t);
    }
    for (const id of this.updated) {
      const t = this.tasks.get(id);
      if (t) this.changes.update.push(t);
    }
    return this.changes;
  }
}

function isNodeMap(nodes: readonly Node[] | ReadonlyMap<string, Node>): nodes is ReadonlyMap<string, Node> {
  return !Array.isArray(nodes);
}
