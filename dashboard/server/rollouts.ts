// How far a rollout has come, judged on the server (it compares task specs with lib's
// taskSpecMatches, which the browser bundle does without).
import { type Service, type Task, taskSpecMatches } from '../../lib/index.js';

export interface Progress {
  /** Tasks that run the service's current spec. */
  done: number;
  /** Tasks the service wants. */
  total: number;
}

/**
 * How many of the service's wanted tasks run its current spec (the same judgement as
 * the CLI's rollout follower: an image pinned to a digest matches its tag).
 */
export function rolloutProgress(service: Service, tasks: readonly Task[]): Progress {
  const total =
    service.ServiceStatus?.DesiredTasks ?? service.Spec.Mode?.Replicated?.Replicas ?? tasks.length;
  const done = tasks.filter(
    (t) =>
      t.ServiceID === service.ID &&
      t.DesiredState === 'running' &&
      t.Status.State === 'running' &&
      taskSpecMatches(t.Spec, service.Spec.TaskTemplate ?? {}),
  ).length;
  return { done: Math.min(done, total), total };
}
