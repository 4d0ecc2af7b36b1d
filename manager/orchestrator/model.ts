// The orchestrator's vocabulary: the changes a reconciler returns, the injected
// clock and ID source, and small predicates over tasks shared by every reconciler.

import {
  type EndpointSpec,
  jsonEqual,
  type Node,
  type Service,
  type Task,
  type TaskSpec,
  type TaskState,
  TERMINAL_TASK_STATES,
  taskStateRank,
} from '../../lib/index.js';

/** What a reconciler wants written to the store, in one batch. */
export interface Changes {
  create: Task[];
  /** Whole task objects with their new fields (desired state, status). */
  update: Task[];
  /** IDs of dead tasks beyond the history limit. */
  delete: string[];
  /** Services whose UpdateStatus/Spec/PreviousSpec changed (rolling update state). */
  serviceUpdates: Service[];
  /** Epoch ms at which the driver should call again (restart delay, update delay, monitor). */
  wakeAt: number | undefined;
}

/** Everything non-deterministic, injected so a run can be replayed. */
export interface Deps {
  /** Epoch milliseconds. */
  now: number;
  newId: () => string;
}

export interface ClusterSettings {
  /** Dead tasks kept per slot, the live one included; negative keeps all. Docker's default is 5. */
  taskHistoryRetentionLimit?: number;
}

export interface ServiceInput {
  service: Service;
  /** Every task of the service, whatever its state. */
  tasks: readonly Task[];
  /** The cluster's nodes; a map by ID when the caller reconciles many services over the same nodes (built once, not per service). */
  nodes: readonly Node[] | ReadonlyMap<string, Node>;
  cluster?: ClusterSettings;
}

export const DEFAULT_TASK_HISTORY = 5;
export const DEFAULT_RESTART_DELAY_NS = 5e9;

export function emptyChanges(): Changes {
  return { create: [], update: [], delete: [], serviceUpdates: [], wakeAt: undefined };
}

export function wakeAtLeast(changes: Changes, at: number | undefined): void {
  if (at === undefined) return;
  if (changes.wakeAt === undefined || at < changes.wakeAt) changes.wakeAt = at;
}

const RUNNING = taskStateRank('running');

export function isObservedTerminal(t: Task): boolean {
  return t.Status.State !== undefined && TERMINAL_TASK_STATES.has(t.Status.State);
}

/** The manager asked the task to stop (desired shutdown or later; jobs' 'complete' is not a stop). */
export function isStopRequested(t: Task): boolean {
  return taskStateRank(t.DesiredState) > RUNNING && t.DesiredState !== 'complete';
}

/** A task that runs or is meant to run. */
export function isLive(t: Task): boolean {
  return !isObservedTerminal(t) && !isStopRequested(t);
}

/** It ended by itself (exit, crash, rejection) rather than because the manager stopped it. */
export function endedOnItsOwn(t: Task): boolean {
  const s = t.Status.State;
  return s === 'failed' || s === 'rejected' || s === 'complete';
}

export function isObservedRunning(t: Task): boolean {
  return t.Status.State === 'running';
}

/** A task that never reached an agent: nothing runs for it anywhere. */
export function neverDispatched(t: Task): boolean {
  return taskStateRank(t.Status.State ?? 'new') < taskStateRank('assigned');
}

export function timeMs(iso: string | undefined, fallback: number): number {
  if (!iso) return fallback;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? fallback : ms;
}

/** When the task reached its current observed state. */
export function statusTimeMs(t: Task, fallback: number): number {
  return timeMs(t.Status.Timestamp, timeMs(t.UpdatedAt, fallback));
}

export function byCreation(a: Task, b: Task): number {
  const d = timeMs(a.CreatedAt, 0) - timeMs(b.CreatedAt, 0);
  return d !== 0 ? d : a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
}

/**
 * A copy of the task with a later desired state. Desired state only moves forward
 * (TASK_STATES order); asking to move it back returns undefined.
 */
export function withDesiredState(t: Task, desired: TaskState, nowIso: string): Task | undefined {
  if (taskStateRank(desired) <= taskStateRank(t.DesiredState)) return undefined;
  return { ...t, DesiredState: desired, UpdatedAt: nowIso };
}

export function specOf(service: Service): TaskSpec {
  return service.Spec.TaskTemplate ?? {};
}

// Store objects are frozen and shared until they change, so a spec compared once
// against the same TaskTemplate (or EndpointSpec) object needs no second deep comparison.
const currentCache = new WeakMap<TaskSpec, { against: TaskSpec; result: boolean }>();
const endpointCache = new WeakMap<EndpointSpec, { against: EndpointSpec | undefined; result: boolean }>();

/**
 * The task runs the service's current spec (a different one means the update must
 * replace it): its TaskSpec (image, env, networks, …) and, as in Swarm, the endpoint
 * it publishes. Fields that do not reach a task (labels, replica count, update
 * config) are not compared.
 */
export function isCurrent(t: Task, service: Service): boolean {
  return runsCurrentTaskSpec(t, service) && publishesCurrentEndpoint(t, service);
}

function runsCurrentTaskSpec(t: Task, service: Service): boolean {
  const target = specOf(service);
  const hit = currentCache.get(t.Spec);
  if (hit && hit.against === target) return hit.result;
  const result = jsonEqual(t.Spec, target);
  currentCache.set(t.Spec, { against: target, result });
  return result;
}

/**
 * The endpoint the task was allocated with (Task.Endpoint.Spec, copied from the
 * service by the allocator) still matches the service's EndpointSpec. A task not yet
 * allocated has no endpoint and will get the current one, so it is current.
 */
function publishesCurrentEndpoint(t: Task, service: Service): boolean {
  const had = t.Endpoint?.Spec ?? (t.Endpoint ? EMPTY_ENDPOINT : undefined);
  if (had === undefined) return true;
  const target = service.Spec.EndpointSpec;
  const hit = endpointCache.get(had);
  if (hit && hit.against === target) return hit.result;
  const result = jsonEqual(normalEndpoint(had), normalEndpoint(target));
  if (had !== EMPTY_ENDPOINT) endpointCache.set(had, { against: target, result });
  return result;
}

const EMPTY_ENDPOINT: EndpointSpec = Object.freeze({});

/**
 * Docker's defaults filled in and ports in a fixed order, so that spelling a default
 * out or listing the same ports in another order does not replace every task.
 */
function normalEndpoint(spec: EndpointSpec | undefined): { mode: string; ports: string[] } {
  const ports = (spec?.Ports ?? []).map((p) =>
    [p.Name ?? '', p.Protocol ?? 'tcp', p.TargetPort, p.PublishedPort || 0, p.PublishMode ?? 'ingress'].join(
      '/',
    ),
  );
  return { mode: spec?.Mode ?? 'vip', ports: ports.sort() };
}

export function newTask(
  service: Service,
  where: { slot: number } | { nodeId: string },
  desired: TaskState,
  deps: Deps,
  extra: Partial<Task> = {},
): Task {
  const nowIso = new Date(deps.now).toISOString();
  const name = service.Spec.Name ?? service.ID;
  const slotPart = 'slot' in where ? String(where.slot) : where.nodeId;
  return {
    ID: deps.newId(),
    Version: { Index: 0 },
    CreatedAt: nowIso,
    UpdatedAt: nowIso,
    Name: `${name}.${slotPart}`,
    // Shared, not copied: store objects are frozen, and the task is encoded into its proposal anyway.
    Spec: specOf(service),
    ServiceID: service.ID,
    ...('slot' in where ? { Slot: where.slot } : { NodeID: where.nodeId }),
    Status: { State: 'new', Timestamp: nowIso, Message: 'created' },
    DesiredState: desired,
    ...extra,
  };
}
