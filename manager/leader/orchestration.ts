// The leader's orchestration loop: for every service touched by a change (its spec,
// its tasks, the nodes), asks the pure reconciler what to change and commits it in
// one proposal. It also honours depends_on between a stack's services, winds down
// the tasks of removed services, and wakes up for restart and update delays.
import type { Logger, Service, Task } from '../../lib/index.js';
import {
  DEPENDS_ON_LABEL,
  decodeDependsOn,
  describeError,
  monoMs,
  STACK_NAMESPACE_LABEL,
  SWARM_SERVICE_NAME_LABEL,
  TERMINAL_TASK_STATES,
  taskStateRank,
} from '../../lib/index.js';
import {
  type Changes,
  type Dependency,
  type DependencyGraph,
  deletionHolds,
  holdBackUpdate,
  rebaseTaskUpdate,
  reconcileService,
  type StackServiceState,
  startGates,
  type UpdateGate,
  updateGate,
} from '../orchestrator/index.js';
import { newObjectId, type Store, type Transaction } from '../store/index.js';
import { ControlLoop, PassClock, PROPOSAL_BATCH, updateInBatches, updateWithRetry } from './loop.js';

export class OrchestrationLoop {
  private readonly loop: ControlLoop;
  private readonly dirty = new Set<string>();
  /** Services whose first tasks, or whose update, wait for their dependencies. */
  private readonly gated = new Set<string>();
  private allDirty = true;
  private unsubscribe: (() => void) | undefined;
  private readonly log: Logger;

  constructor(
    private readonly store: Store,
    log: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.log = log.child({ component: 'orchestrator' });
    this.loop = new ControlLoop('orchestrator', () => this.pass(), this.log);
  }

  start(): void {
    this.unsubscribe = this.store.subscribe(
      (e) => {
        if (e.table === 'services') this.dirty.add(e.object.ID);
        else if (e.table === 'tasks') {
          const t = e.object as Task;
          if (e.kind === 'delete') logDeletion(this.log, t);
          if (!isRoutineProgress(t, e.old as Task | undefined, this.store.getService(t.ServiceID)))
            this.dirty.add(t.ServiceID);
          // A dependency's tasks changed: services waiting on depends_on look again.
          for (const id of this.gated) this.dirty.add(id);
          if (this.dirty.size === 0) return;
        } else this.allDirty = true;
        this.loop.kick();
      },
      { tables: ['services', 'tasks', 'nodes', 'cluster'] },
    );
    this.allDirty = true;
    this.loop.kick();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    await this.loop.stop();
  }

  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  /** A reconciler asked to be called again (restart delay, update delay, monitor). */
  private wakeAt(at: number, now: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.allDirty = true;
        this.loop.kick();
      },
      Math.max(0, at - now),
    );
    this.timer.unref();
  }

  settled(): Promise<void> {
    return this.loop.settled();
  }

  private async pass(): Promise<void> {
    const services = this.allDirty ? this.store.listServices() : [];
    const ids = this.allDirty ? new Set(services.map((s) => s.ID)) : new Set(this.dirty);
    if (this.allDirty) {
      for (const id of this.dirty) ids.add(id);
      // Tasks of services removed while another leader led (or before its loops saw the
      // removal): nothing else brings them to a new leader's attention.
      for (const id of this.store.taskServiceIds()) ids.add(id);
    }
    this.allDirty = false;
    this.dirty.clear();
    if (ids.size === 0) return;

    const now = this.clock();
    const nodes = new Map(this.store.listNodes().map((n) => [n.ID, n]));
    const limit = this.store.getCluster()?.Spec.Orchestration?.TaskHistoryRetentionLimit;
    const all: ServiceChanges[] = [];
    const orphanTasks: Task[] = [];
    const clock = new PassClock();
    for (const id of ids) {
      // A pass over 10,000 services decides a million tasks: let raft's ticks and the
      // peers in now and then (every decision is checked against the versions it read
      // when committed, so what changes meanwhile is caught there).
      await clock.maybeYield();
      const service = this.store.getService(id);
      const tasks = this.store.listTasks({ serviceId: id });
      if (!service) {
        this.gated.delete(id);
        orphanTasks.push(...tasks);
        continue;
      }
      if (tasks.length === 0 && !this.mayStart(service)) {
        this.gated.add(id);
        continue;
      }
      const gate = tasks.length > 0 ? this.updateGateOf(service) : undefined;
      if (gate?.state === 'hold') {
        this.gated.add(id);
        continue;
      }
      this.gated.delete(id);
      if (gate?.state === 'failed') {
        this.log.info({ serviceId: id, reason: gate.reason }, 'update held back: a job it depends on failed');
        const held = holdBackUpdate(service, gate.reason, new Date(now).toISOString());
        const changes: Changes = {
          create: [],
          update: [],
          delete: [],
          serviceUpdates: [held],
          wakeAt: undefined,
        };
        all.push({ serviceId: id, readAt: service.Version.Index, read: new Map(), changes });
        continue;
      }
      const changes = reconcileService(
        { service, tasks, nodes, cluster: limit === undefined ? {} : { taskHistoryRetentionLimit: limit } },
        { now, newId: newObjectId },
      );
      for (const t of changes.create)
        t.Labels = { ...t.Labels, [SWARM_SERVICE_NAME_LABEL]: service.Spec.Name ?? '' };
      const touched = new Set([...changes.update.map((t) => t.ID), ...changes.delete]);
      const read = new Map(tasks.filter((t) => touched.has(t.ID)).map((t) => [t.ID, t]));
      all.push({ serviceId: id, readAt: service.Version.Index, read, changes });
    }
    const wake = all.map((c) => c.changes.wakeAt).filter((w): w is number => w !== undefined);
    if (wake.length) this.wakeAt(Math.min(...wake), now);
    if (all.every((c) => isEmpty(c.changes)) && orphanTasks.length === 0) return;
    if (orphanTasks.length) await updateWithRetry(this.store, (tx) => windDown(tx, orphanTasks));
    // Services' changes in proposals of about PROPOSAL_BATCH task writes each.
    const batches: ServiceChanges[][] = [[]];
    let size = 0;
    for (const c of all) {
      if (isEmpty(c.changes)) continue;
      const n = c.changes.create.length + c.changes.update.length + c.changes.delete.length;
      if (size > 0 && size + n > PROPOSAL_BATCH) {
        batches.push([]);
        size = 0;
      }
      batches.at(-1)!.push(c);
      size += n;
    }
    const decided = monoMs();
    const stale = new Set<string>();
    await updateInBatches(
      this.store,
      batches,
      (tx, batch) => {
        for (const c of batch) {
          // Decided from the service as this pass read it: if it changed since (a user's
          // update), writing these decisions would undo that change. They are dropped,
          // and the next pass decides again from the service as it is now.
          // So are decisions over a task that another writer moved on meanwhile (see
          // rebaseTaskUpdate).
          if (
            (tx.get('services', c.serviceId)?.Version.Index ?? c.readAt) !== c.readAt ||
            !commit(tx, c, this.log)
          )
            stale.add(c.serviceId);
        }
      },
      1,
    );
    if (this.log.isLevelEnabled('debug')) {
      for (const c of all)
        if (c.changes.create.length > 0 && !stale.has(c.serviceId))
          this.log.debug({ serviceId: c.serviceId, created: c.changes.create.length }, 'tasks created');
      traceRollouts(this.log, all, stale, decided);
    }
    if (stale.size > 0) {
      for (const id of stale) this.dirty.add(id);
      this.loop.kick();
    }
  }

  /**
   * depends_on: a stack service's first tasks wait until what it depends on meets its
   * condition (service_started, service_healthy, service_completed_successfully).
   */
  private mayStart(service: Service): boolean {
    const stack = this.stackOf(service);
    if (!stack) return true;
    const graph: DependencyGraph = new Map([[stack.name, stack.deps]]);
    const gate = startGates(graph, stack.states).get(stack.name);
    if (gate && !gate.mayStart) {
      this.log.debug(
        { serviceId: service.ID, waitingFor: gate.waitingFor, failed: gate.failed },
        'waiting for dependencies',
      );
    }
    return gate?.mayStart ?? true;
  }

  /** depends_on on a job: a started service's update waits for the job's run (updateGate). */
  private updateGateOf(service: Service): UpdateGate | undefined {
    if (!service.PreviousSpec || service.UpdateStatus !== undefined) return undefined;
    const stack = this.stackOf(service, 'service_completed_successfully');
    if (!stack) return undefined;
    const gate = updateGate(service, stack.deps, stack.states);
    if (gate.state === 'hold')
      this.log.debug({ serviceId: service.ID, waitingFor: gate.waitingFor }, 'update waits for jobs');
    return gate;
  }

  /** The service's required dependencies (of one condition, if given) and its stack's services. */
  private stackOf(
    service: Service,
    only?: Dependency['condition'],
  ): { name: string; deps: Dependency[]; states: Map<string, StackServiceState> } | undefined {
    const raw = service.Spec.Labels?.[DEPENDS_ON_LABEL];
    const ns = service.Spec.Labels?.[STACK_NAMESPACE_LABEL];
    if (!raw || !ns) return undefined;
    let deps: Dependency[];
    try {
      deps = decodeDependsOn(raw)
        .filter((d) => d.required !== false && (only === undefined || d.condition === only))
        .map((d) => ({ service: d.service, condition: d.condition }));
    } catch (e) {
      // A label nobody can read gates nothing: the service starts as if it had none.
      this.log.debug({ serviceId: service.ID, err: describeError(e) }, 'ignoring its depends_on label');
      return undefined;
    }
    if (deps.length === 0) return undefined;
    const wanted = new Set(deps.map((d) => `${ns}_${d.service}`));
    const stack = this.store.listServices((s) => wanted.has(s.Spec.Name ?? ''));
    const short = (s: Service) => (s.Spec.Name ?? '').slice(ns.length + 1);
    const states = new Map<string, StackServiceState>(
      stack
        .filter((s) => s.Spec.Labels?.[STACK_NAMESPACE_LABEL] === ns)
        .map((s) => [short(s), { service: s, tasks: this.store.listTasks({ serviceId: s.ID }) }]),
    );
    return { name: (service.Spec.Name ?? '').slice(ns.length + 1), deps, states };
  }
}

/**
 * A task moving forward between live states (pending → assigned → … → running) on the
 * same node, with the same desired state, outside a rolling update or rollback: no
 * reconciler decision depends on it, so its service is not reconciled again. At 100,000
 * tasks this is most of the events, and a pass per event batch over every touched
 * service cost more than everything else the leader does.
 */
function isRoutineProgress(t: Task, old: Task | undefined, service: Service | undefined): boolean {
  if (!old || !service) return false;
  if (old.DesiredState !== t.DesiredState || old.NodeID !== t.NodeID) return false;
  if (
    TERMINAL_TASK_STATES.has(old.Status.State ?? 'new') ||
    TERMINAL_TASK_STATES.has(t.Status.State ?? 'new')
  )
    return false;
  const update = service.UpdateStatus?.State;
  return update === undefined || update === 'completed' || update === 'rollback_completed';
}

/**
 * A rolling update's steps as committed (debug): which tasks it stopped, created and
 * released, when decided and how long the proposal took (`mono`, monoMs).
 */
function traceRollouts(
  log: Logger,
  all: readonly ServiceChanges[],
  stale: Set<string>,
  decided: number,
): void {
  const committedMs = Math.round((monoMs() - decided) * 10) / 10;
  for (const c of all) {
    const s = c.changes.serviceUpdates[0];
    const state = s?.UpdateStatus?.State;
    if (isEmpty(c.changes) || stale.has(c.serviceId)) continue;
    const moved = (from: string, to: string) =>
      c.changes.update
        .filter((t) => t.DesiredState === to && c.read.get(t.ID)?.DesiredState === from)
        .map((t) => t.ID);
    const stopped = moved('running', 'shutdown');
    const released = moved('ready', 'running');
    const created = c.changes.create.map((t) => `${t.ID}:${t.DesiredState}`);
    if (!state && stopped.length + released.length === 0) continue;
    log.debug(
      { serviceId: c.serviceId, updateState: state, stopped, created, released, mono: decided, committedMs },
      'rollout step committed',
    );
  }
}

/** One service's decisions, and the versions of the service and tasks they were made from. */
interface ServiceChanges {
  serviceId: string;
  readAt: number;
  /** The tasks it updates or deletes, as they were read. */
  read: ReadonlyMap<string, Task>;
  changes: Changes;
}

function isEmpty(c: Changes): boolean {
  return !c.create.length && !c.update.length && !c.delete.length && !c.serviceUpdates.length;
}

/**
 * Writes one service's decisions, or nothing (false) when one of them was made over a
 * task that changed since in a way the decision rested on: the service is reconciled
 * again from the store as it is.
 */
function commit(tx: Transaction, sc: ServiceChanges, log: Logger): boolean {
  const c = sc.changes;
  const updates: Task[] = [];
  for (const t of c.update) {
    const cur = tx.get('tasks', t.ID);
    if (!cur) continue;
    const next = rebaseTaskUpdate(sc.read.get(t.ID) ?? cur, t, cur);
    if (!next) {
      log.debug({ taskId: t.ID, serviceId: sc.serviceId }, 'task changed since the decision; deciding again');
      return false;
    }
    updates.push(next);
  }
  const deletes: [string, number][] = [];
  for (const id of c.delete) {
    const cur = tx.get('tasks', id);
    if (!cur) continue;
    if (!deletionHolds(sc.read.get(id) ?? cur, cur)) {
      log.debug({ taskId: id, serviceId: sc.serviceId }, 'task changed since the decision; deciding again');
      return false;
    }
    deletes.push([id, cur.Version.Index]);
  }
  for (const t of c.create) tx.create('tasks', t);
  for (const t of updates) tx.update('tasks', t);
  // At the version checked: a write still in flight makes it a conflict, and the pass retries.
  for (const [id, version] of deletes) tx.delete('tasks', id, version);
  for (const s of c.serviceUpdates) {
    const cur = tx.get('services', s.ID);
    if (cur) tx.update('services', { ...s, Version: cur.Version });
  }
  return true;
}

/**
 * Every task deleted while this manager leads, once committed, with what it takes to
 * follow it to its node: an agent learns of a deletion only through the task's node.
 */
function logDeletion(log: Logger, t: Task): void {
  log.info(
    {
      taskId: t.ID,
      serviceId: t.ServiceID,
      nodeId: t.NodeID,
      state: t.Status.State,
      desiredState: t.DesiredState,
    },
    'task deleted',
  );
}

/**
 * Tasks of a removed service: ask live ones to be removed; delete a task once its
 * agent removed it (state 'remove'), when it never reached an agent, or when its node
 * is gone or down (nothing will report on it).
 */
function windDown(tx: Transaction, tasks: Task[]): void {
  for (const t of tasks) {
    const cur = tx.get('tasks', t.ID);
    if (!cur) continue;
    const state = cur.Status.State ?? 'new';
    const node = cur.NodeID ? tx.get('nodes', cur.NodeID) : undefined;
    const unreachable = !node || node.Status.State === 'down';
    if (state === 'remove' || taskStateRank(state) < taskStateRank('assigned') || unreachable) {
      tx.delete('tasks', cur.ID);
    } else if (cur.DesiredState !== 'remove') {
      tx.update('tasks', { ...cur, DesiredState: 'remove' });
    }
  }
}
