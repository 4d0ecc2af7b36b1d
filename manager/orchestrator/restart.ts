// The restart policy: whether a task that ended by itself gets a replacement in its
// slot, and not before when. The decision depends only on the dead task (its state,
// when it ended and the restart history it carries), so evaluating it again after a
// leader change gives the same answer.

import type { RestartPolicy, Service, Task } from '../../lib/index.js';
import { DEFAULT_RESTART_DELAY_NS, endedOnItsOwn, statusTimeMs } from './model.js';

/** Label on a replacement task: epoch-ms times of the restarts that led to it, within the window. */
export const RESTART_HISTORY_LABEL = 'com.skiff.restart.history';

export type RestartDecision =
  | { restart: false; reason: string }
  | { restart: true; notBefore: number; labels: Record<string, string> };

export function isJob(service: Service): boolean {
  const m = service.Spec.Mode;
  return m?.ReplicatedJob !== undefined || m?.GlobalJob !== undefined;
}

export function restartPolicyOf(service: Service): RestartPolicy {
  return service.Spec.TaskTemplate?.RestartPolicy ?? {};
}

/** Restart times recorded on the task, oldest first. */
function historyOf(t: Task): number[] {
  const raw = t.Labels?.[RESTART_HISTORY_LABEL];
  if (!raw) return [];
  return raw
    .split(',')
    .map(Number)
    .filter((n) => Number.isFinite(n));
}

export function decideRestart(dead: Task, service: Service, now: number): RestartDecision {
  const policy = restartPolicyOf(service);
  // Jobs restart only on failure unless told otherwise; services restart on anything.
  const condition = policy.Condition ?? (isJob(service) ? 'on-failure' : 'any');
  const state = dead.Status.State;
  if (condition === 'none') return { restart: false, reason: 'restart condition is none' };
  if (state === 'complete' && (condition === 'on-failure' || isJob(service))) {
    return { restart: false, reason: 'task completed' };
  }
  const endedAt = statusTimeMs(dead, now);
  const windowMs = (policy.Window ?? 0) / 1e6;
  const maxAttempts = policy.MaxAttempts ?? 0;
  const recent = historyOf(dead).filter((t) => windowMs <= 0 || t > endedAt - windowMs);
  if (maxAttempts > 0 && recent.length >= maxAttempts) {
    return {
      restart: false,
      reason: `restarted ${recent.length} times already (max_attempts ${maxAttempts})`,
    };
  }
  const delayMs = (policy.Delay ?? DEFAULT_RESTART_DELAY_NS) / 1e6;
  const labels: Record<string, string> = {};
  if (maxAttempts > 0) labels[RESTART_HISTORY_LABEL] = [...recent, endedAt].slice(-maxAttempts).join(',');
  return { restart: true, notBefore: endedAt + delayMs, labels };
}

/**
 * When a replacement waiting in desired state 'ready' may start: after the restart
 * delay if the task before it in the slot ended by itself, at once otherwise.
 */
export function releaseTimeOf(previous: Task | undefined, service: Service, now: number): number {
  if (!previous || !endedOnItsOwn(previous)) return now;
  const delayMs = (restartPolicyOf(service).Delay ?? DEFAULT_RESTART_DELAY_NS) / 1e6;
  return statusTimeMs(previous, now) + delayMs;
}
