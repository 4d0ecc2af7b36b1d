// Whether a service rollout has converged, failed or is still going, from the
// service object and its tasks. Pure, so the exit-code contract CI relies on is
// tested without a cluster.
import type { Service, Task } from '../lib/index.js';
import {
  DEPENDS_ON_LABEL,
  decodeDependsOn,
  isJobService,
  jobOutcome,
  STACK_NAMESPACE_LABEL,
  taskSpecMatches,
  taskStateRank,
} from '../lib/index.js';

export type RolloutOutcome =
  | { state: 'pending'; progress: string }
  | { state: 'converged'; progress: string }
  | { state: 'failed'; outcome: 'rolled_back' | 'paused' | 'failed'; reason: string };

/** Replicas a service wants running (global: the number of eligible nodes, given). */
export function desiredReplicas(service: Service, globalNodes: number): number {
  const mode = service.Spec.Mode;
  if (mode?.Global) return globalNodes;
  if (mode?.ReplicatedJob || mode?.GlobalJob) return 0;
  return mode?.Replicated?.Replicas ?? 1;
}

/**
 * `service` is the service as it is now; `tasks` its tasks; `sinceVersion` the
 * service version our deploy wrote (tasks of older specs do not count).
 */
export function evaluateRollout(service: Service, tasks: Task[], globalNodes: number): RolloutOutcome {
  const u = service.UpdateStatus;
  const msg = u?.Message ? `: ${u.Message}` : '';
  if (u?.State === 'rollback_completed') {
    return { state: 'failed', outcome: 'rolled_back', reason: `rolled back${msg}` };
  }
  if (u?.State === 'paused') return { state: 'failed', outcome: 'paused', reason: `update paused${msg}` };
  if (u?.State === 'rollback_paused') {
    return { state: 'failed', outcome: 'paused', reason: `rollback paused${msg}` };
  }
  if (isJobService(service)) {
    // A job converges when its current run completes; one that failed for good is a
    // failure, not a hang (docker/cli#5299).
    const o = jobOutcome(service, tasks);
    if (o.state === 'failed')
      return { state: 'failed', outcome: 'failed', reason: `job did not complete successfully: ${o.reason}` };
    const progress = `${o.completed}/${o.total}`;
    return { state: o.state === 'completed' ? 'converged' : 'pending', progress };
  }
  const want = desiredReplicas(service, globalNodes);
  const current = tasks.filter((t) => t.DesiredState === 'running');
  const running = current.filter((t) => t.Status.State === 'running' && specMatches(t, service));
  const progress = `${running.length}/${want}`;
  if (u?.State === 'updating' || u?.State === 'rollback_started') return { state: 'pending', progress };
  if (running.length >= want && current.length === running.length) return { state: 'converged', progress };
  return { state: 'pending', progress };
}

/**
 * Whether a task runs the service's current spec (lib's taskSpecMatches): an old task
 * still running right after an update must not count, or the rollout looks converged
 * before the orchestrator has even begun it.
 */
function specMatches(task: Task, service: Service): boolean {
  return taskSpecMatches(task.Spec, service.Spec.TaskTemplate ?? {});
}

/** The most recent error among a service's tasks, for a timeout's explanation. */
export function lastTaskError(tasks: Task[]): string | undefined {
  const failed = tasks
    .filter((t) => t.Status.Err && taskStateRank(t.Status.State ?? 'new') >= taskStateRank('complete'))
    .sort((a, b) => (a.Status.Timestamp ?? '').localeCompare(b.Status.Timestamp ?? ''));
  return failed.at(-1)?.Status.Err;
}

/** One line for people about where a service's rollout is: its state and task counts. */
export function rolloutText(service: Service, o: RolloutOutcome): string {
  if (o.state === 'failed') return `${o.outcome.replace('_', ' ')}: ${o.reason}`;
  if (o.state === 'converged') return `converged (${o.progress} running)`;
  const u = service.UpdateStatus?.State;
  if (u === 'updating') return `updating (${o.progress} tasks updated)`;
  if (u === 'rollback_started') return `rolling back (${o.progress} running)`;
  return `starting (${o.progress} running)`;
}

/**
 * A stack service that has not started and never will: a job it depends on with
 * service_completed_successfully failed (`failed`: full service name → outcome). The
 * orchestrator keeps it from starting; `--wait` says so rather than wait out its timeout.
 */
export function blockedByFailedJob(
  service: Service,
  tasks: readonly Task[],
  failed: ReadonlyMap<string, string>,
): string | undefined {
  const ns = service.Spec.Labels?.[STACK_NAMESPACE_LABEL];
  const raw = service.Spec.Labels?.[DEPENDS_ON_LABEL];
  if (!ns || !raw || tasks.length > 0) return undefined;
  let deps: ReturnType<typeof decodeDependsOn>;
  try {
    deps = decodeDependsOn(raw);
  } catch {
    return undefined;
  }
  for (const d of deps) {
    if (d.required === false || d.condition !== 'service_completed_successfully') continue;
    if (failed.has(`${ns}_${d.service}`))
      return `not started: ${d.service} did not complete successfully (${failed.get(`${ns}_${d.service}`)})`;
  }
  return undefined;
}
