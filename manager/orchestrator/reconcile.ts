// The entry point per service: jobs and long-running services converge differently.

import type { Changes, Deps, ServiceInput } from './model.js';
import { reconcileJob } from './reconcile-job.js';
import { reconcileLongRunning } from './reconcile-service.js';
import { isJob } from './restart.js';

/**
 * Compares one service's desired state with its tasks and the nodes, and returns
 * the store changes that move them closer. Call it on every change to the service,
 * its tasks or the nodes, and again at `wakeAt`. Idempotent: calling it twice on the
 * same snapshot and time yields nothing new the second time.
 */
export function reconcileService(input: ServiceInput, deps: Deps): Changes {
  return isJob(input.service) ? reconcileJob(input, deps) : reconcileLongRunning(input, deps);
}
