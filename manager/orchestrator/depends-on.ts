// depends_on for stacks (Swarm ignores it; skiff honours it): a gate the driver
// applies before creating a service's first tasks. A service may start once each
// dependency meets its condition; once started, it stays started.
//
// Health: the agent reports a task with a health check as 'running' only once the
// check passes (Docker's executor does the same), so "healthy" reads as "running".

import {
  isJobService,
  jobOutcome,
  type Service,
  SkiffError,
  type StackDependency,
  type Task,
  taskStateRank,
} from '../../lib/index.js';
import { isLive, isObservedRunning } from './model.js';

/** A required entry of a service's depends_on: the stack-local service and its condition. */
export type Dependency = Pick<StackDependency, 'service' | 'condition'>;

/** Service name → what it depends on. */
export type DependencyGraph = ReadonlyMap<string, readonly Dependency[]>;

export interface StackServiceState {
  service: Service;
  tasks: readonly Task[];
}

export interface StartGate {
  mayStart: boolean;
  /** Dependencies not there yet, as "db (service_healthy)". */
  waitingFor: string[];
  /** Dependencies that can no longer meet their condition, with why. */
  failed: string[];
}

/** Rejects dependencies on unknown services and cycles, naming them. */
export function validateDependencyGraph(graph: DependencyGraph): void {
  for (const [name, deps] of graph) {
    for (const d of deps) {
      if (!graph.has(d.service)) {
        throw new SkiffError(
          'invalid_argument',
          `service "${name}" depends on undefined service "${d.service}"`,
          {
            hint: `define "${d.service}" in the stack or remove it from ${name}.depends_on`,
          },
        );
      }
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name].join(' -> ');
      throw new SkiffError('invalid_argument', `dependency cycle between services: ${cycle}`, {
        hint: 'remove one of these depends_on entries',
      });
    }
    state.set(name, 'visiting');
    for (const d of graph.get(name) ?? []) visit(d.service, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of graph.keys()) visit(name, []);
}

function desiredCount(s: StackServiceState): number {
  const mode = s.service.Spec.Mode ?? {};
  if (mode.Replicated) return mode.Replicated.Replicas ?? 1;
  if (mode.ReplicatedJob) return mode.ReplicatedJob.TotalCompletions ?? mode.ReplicatedJob.MaxConcurrent ?? 1;
  // Global: as many as it has tasks meant to run, and at least one.
  return Math.max(1, s.tasks.filter((t) => isLive(t) || t.Status.State === 'complete').length);
}

const STARTING = taskStateRank('starting');

function condition(dep: Dependency, s: StackServiceState | undefined): { met: boolean; failed?: string } {
  if (!s) return { met: false };
  const want = desiredCount(s);
  const completed = s.tasks.filter(
    (t) => t.Status.State === 'complete' && (t.Status.ContainerStatus?.ExitCode ?? 0) === 0,
  ).length;
  switch (dep.condition) {
    case 'service_started': {
      const started = s.tasks.filter(
        (t) =>
          (isLive(t) && taskStateRank(t.Status.State ?? 'new') >= STARTING) || t.Status.State === 'complete',
      ).length;
      return { met: started >= want };
    }
    case 'service_healthy':
      return { met: s.tasks.filter((t) => isLive(t) && isObservedRunning(t)).length >= want };
    case 'service_completed_successfully': {
      if (isJobService(s.service)) {
        const o = jobOutcome(s.service, s.tasks);
        if (o.state === 'completed') return { met: true };
        if (o.state === 'failed')
          return { met: false, failed: `${dep.service} did not complete successfully (${o.reason})` };
        return { met: false };
      }
      if (completed >= want) return { met: true };
      const failed = s.tasks.find((t) => t.Status.State === 'failed' || t.Status.State === 'rejected');
      if (failed && !s.tasks.some(isLive)) {
        return {
          met: false,
          failed: `${dep.service} did not complete successfully (task ${failed.ID}: ${failed.Status.Err ?? failed.Status.State})`,
        };
      }
      return { met: false };
    }
  }
}

/** For every service of the stack: may the driver create its tasks now? */
export function startGates(
  graph: DependencyGraph,
  states: ReadonlyMap<string, StackServiceState>,
): Map<string, StartGate> {
  const gates = new Map<string, StartGate>();
  for (const [name, deps] of graph) {
    const own = states.get(name);
    if (own && own.tasks.length > 0) {
      gates.set(name, { mayStart: true, waitingFor: [], failed: [] });
      continue;
    }
    const gate: StartGate = { mayStart: true, waitingFor: [], failed: [] };
    for (const dep of deps) {
      const c = condition(dep, states.get(dep.service));
      if (c.met) continue;
      gate.mayStart = false;
      if (c.failed) gate.failed.push(c.failed);
      else gate.waitingFor.push(`${dep.service} (${dep.condition})`);
    }
    gates.set(name, gate);
  }
  return gates;
}

export type UpdateGate =
  | { state: 'open' }
  | { state: 'hold'; waitingFor: string[] }
  | { state: 'failed'; reason: string };

/**
 * Whether a started service's new spec may roll out: an update waits until each job it
 * depends on with service_completed_successfully has finished the run the same deploy
 * began (a migration before the code that needs it), and is held back when that run
 * failed. Only an update not begun yet is gated (PreviousSpec set, no UpdateStatus):
 * once its tasks are being replaced it goes on as any update. A job run that began
 * after the dependent's update (LastExecution later than its UpdatedAt) is not this
 * deploy's and gates nothing; an unchanged job keeps its run, so a deploy that changes
 * only the dependent waits for nothing when that run had completed.
 */
export function updateGate(
  service: Service,
  deps: readonly Dependency[],
  states: ReadonlyMap<string, StackServiceState>,
): UpdateGate {
  if (!service.PreviousSpec || service.UpdateStatus !== undefined) return { state: 'open' };
  const waitingFor: string[] = [];
  for (const dep of deps) {
    if (dep.condition !== 'service_completed_successfully') continue;
    const job = states.get(dep.service);
    if (!job || !isJobService(job.service)) continue;
    const began = job.service.JobStatus?.LastExecution ?? '';
    if (began > (service.UpdatedAt ?? '')) continue;
    const o = jobOutcome(job.service, job.tasks);
    if (o.state === 'failed')
      return {
        state: 'failed',
        reason: `update held back: ${dep.service} did not complete successfully (${o.reason})`,
      };
    if (o.state === 'running') waitingFor.push(`${dep.service} (${o.completed}/${o.total} completed)`);
  }
  return waitingFor.length > 0 ? { state: 'hold', waitingFor } : { state: 'open' };
}
