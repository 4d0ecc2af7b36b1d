// A fake cluster for pure tests: an in-memory "store" (objects JSON round-tripped
// like a real store would), the real scheduler and orchestrator, a fake allocator
// (new → pending) and a fake agent per node that reports task states without running
// anything. Time is simulated. It checks on every write that tasks only move forward.

import type { Node, Service, Task, TaskState } from '../../../lib/index.js';
import { taskStateRank } from '../../../lib/index.js';
import { type Changes, reconcileService } from '../../../manager/orchestrator/index.js';
import { schedule } from '../../../manager/scheduler/index.js';

/** What the fake agent does with a task it is told to run. */
export type Behaviour = 'run' | 'fail' | 'unhealthy' | 'complete' | 'hang';

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

export class FakeCluster {
  now = Date.parse('2026-01-01T00:00:00.000Z');
  readonly services = new Map<string, Service>();
  readonly tasks = new Map<string, Task>();
  readonly nodes = new Map<string, Node>();
  /** Decides what the fake agent does with a task; default: run. */
  behaviour: (t: Task) => Behaviour = () => 'run';
  historyLimit: number | undefined = undefined;
  private seq = 0;
  private wakeAt: number | undefined;
  /** Called after every applied step, for invariants checked "at every step". */
  onStep: (c: FakeCluster) => void = () => {};

  addNode(n: Node): void {
    this.nodes.set(n.ID, clone(n));
  }

  setService(s: Service): void {
    this.services.set(s.ID, clone(s));
  }

  service(id: string): Service {
    return this.services.get(id)!;
  }

  tasksOf(serviceId: string): Task[] {
    return [...this.tasks.values()].filter((t) => t.ServiceID === serviceId);
  }

  running(serviceId: string): Task[] {
    return this.tasksOf(serviceId).filter(
      (t) => t.Status.State === 'running' && t.DesiredState === 'running',
    );
  }

  /** One orchestrator pass over every service; returns whether anything changed. */
  reconcile(): boolean {
    let changed = false;
    for (const s of [...this.services.values()]) {
      const changes = reconcileService(
        {
          service: clone(s),
          tasks: clone(this.tasksOf(s.ID)),
          nodes: clone([...this.nodes.values()]),
          cluster: { taskHistoryRetentionLimit: this.historyLimit },
        },
        { now: this.now, newId: () => `t${String(++this.seq).padStart(5, '0')}` },
      );
      changed = this.apply(changes) || changed;
    }
    return changed;
  }

  private apply(c: Changes): boolean {
    for (const t of c.create) this.tasks.set(t.ID, clone(t));
    for (const t of c.update) this.write(t);
    for (const id of c.delete) this.tasks.delete(id);
    for (const s of c.serviceUpdates) this.services.set(s.ID, clone(s));
    if (c.wakeAt !== undefined && (this.wakeAt === undefined || c.wakeAt < this.wakeAt))
      this.wakeAt = c.wakeAt;
    return c.create.length + c.update.length + c.delete.length + c.serviceUpdates.length > 0;
  }

  private write(t: Task): void {
    const old = this.tasks.get(t.ID);
    if (old) {
      if (taskStateRank(t.DesiredState) < taskStateRank(old.DesiredState)) {
        throw new Error(`desired state of ${t.ID} moved back: ${old.DesiredState} -> ${t.DesiredState}`);
      }
      const before = taskStateRank(old.Status.State ?? 'new');
      if (taskStateRank(t.Status.State ?? 'new') < before) {
        throw new Error(`state of ${t.ID} moved back: ${old.Status.State} -> ${t.Status.State}`);
      }
    }
    this.tasks.set(t.ID, clone(t));
  }

  private report(t: Task, state: TaskState, extra: Partial<Task['Status']> = {}): boolean {
    if (taskStateRank(state) <= taskStateRank(t.Status.State ?? 'new')) return false;
    this.write({
      ...t,
      Status: { ...t.Status, State: state, Timestamp: new Date(this.now).toISOString(), ...extra },
    });
    return true;
  }

  /** Fake allocator and the real scheduler: new → pending → assigned. */
  scheduleAll(): boolean {
    let changed = false;
    for (const t of this.tasks.values()) {
      if (t.Status.State !== 'new') continue;
      // As the real allocator does: the task publishes the service's endpoint as it is now.
      const spec = this.services.get(t.ServiceID)?.Spec.EndpointSpec ?? {};
      this.tasks.set(t.ID, { ...t, Endpoint: clone({ Spec: spec, Ports: spec.Ports }) });
      changed = this.report(this.tasks.get(t.ID)!, 'pending') || changed;
    }
    const pending = [...this.tasks.values()].filter(
      (t) =>
        t.Status.State === 'pending' &&
        (taskStateRank(t.DesiredState) <= taskStateRank('running') || t.DesiredState === 'complete'),
    );
    if (pending.length === 0) return changed;
    const tasksByNode = new Map<string, Task[]>();
    for (const t of this.tasks.values()) {
      if (!t.NodeID || t.Status.State === 'pending') continue;
      tasksByNode.set(t.NodeID, [...(tasksByNode.get(t.NodeID) ?? []), t]);
    }
    const r = schedule({ pending, nodes: [...this.nodes.values()], tasksByNode, services: this.services });
    for (const a of r.assignments) {
      const t = this.tasks.get(a.taskId)!;
      this.write({
        ...t,
        NodeID: a.nodeId,
        Status: { ...t.Status, State: 'assigned', Timestamp: this.iso() },
      });
      changed = true;
    }
    return changed;
  }

  /** Every reachable node's fake agent moves its tasks one step. */
  agents(): boolean {
    let changed = false;
    for (const t of [...this.tasks.values()]) {
      const node = t.NodeID ? this.nodes.get(t.NodeID) : undefined;
      if (node?.Status.State !== 'ready') continue;
      const state = t.Status.State ?? 'new';
      if (taskStateRank(state) < taskStateRank('assigned') || taskStateRank(state) > taskStateRank('running'))
        continue;
      if (taskStateRank(t.DesiredState) > taskStateRank('running') && t.DesiredState !== 'complete') {
        changed = this.report(t, 'shutdown', { Message: 'shutdown' }) || changed;
        continue;
      }
      if (t.DesiredState === 'ready') {
        changed = this.report(t, 'ready', { Message: 'prepared' }) || changed;
        continue;
      }
      const b = this.behaviour(t);
      if (state !== 'starting' && state !== 'running') {
        changed = this.report(t, 'starting', { Message: 'starting' }) || changed;
        continue;
      }
      if (state === 'starting') {
        if (b === 'run') changed = this.report(t, 'running', { Message: 'started' }) || changed;
        else if (b === 'unhealthy')
          changed = this.report(t, 'failed', { Err: 'unhealthy', Message: 'unhealthy' }) || changed;
        else if (b === 'fail')
          changed =
            this.report(t, 'failed', { Err: 'task: non-zero exit (3)', ContainerStatus: { ExitCode: 3 } }) ||
            changed;
        else if (b === 'complete')
          changed =
            this.report(t, 'complete', { Message: 'finished', ContainerStatus: { ExitCode: 0 } }) || changed;
      }
    }
    return changed;
  }

  private iso(): string {
    return new Date(this.now).toISOString();
  }

  /** Runs reconcile → schedule → agents until nothing changes at this instant. */
  settle(maxRounds = 200): void {
    for (let i = 0; i < maxRounds; i++) {
      const a = this.reconcile();
      this.onStep(this);
      const b = this.scheduleAll();
      this.onStep(this);
      const c = this.agents();
      this.onStep(this);
      if (!a && !b && !c) return;
    }
    throw new Error('fake cluster did not settle');
  }

  /** Advances the clock by `ms` (in steps of at most `stepMs`), settling at each step and at wake-ups. */
  advance(ms: number, stepMs = 1000): void {
    const end = this.now + ms;
    this.settle();
    while (this.now < end) {
      const next = Math.min(
        end,
        this.now + stepMs,
        this.wakeAt !== undefined && this.wakeAt > this.now ? this.wakeAt : end,
      );
      this.now = next;
      if (this.wakeAt !== undefined && this.wakeAt <= this.now) this.wakeAt = undefined;
      this.settle();
    }
  }
}
