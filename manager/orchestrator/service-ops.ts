// Spec changes the API applies to a service, kept here so that what the rolling
// update machine expects (PreviousSpec, UpdateStatus) is written in one place.

import {
  isJobService,
  jobIterationOf,
  jsonEqual,
  recordRollout,
  type Service,
  type ServiceSpec,
  SkiffError,
} from '../../lib/index.js';

/** A new job service's first run. */
export function newJobStatus(spec: ServiceSpec, nowIso: string): Pick<Service, 'JobStatus'> {
  const job = spec.Mode?.ReplicatedJob !== undefined || spec.Mode?.GlobalJob !== undefined;
  return job ? { JobStatus: { JobIteration: { Index: 0 }, LastExecution: nowIso } } : {};
}

/**
 * A job runs again (a new JobIteration) when its spec changes, ForceUpdate included,
 * and only then: re-submitting the same spec (a stack re-deploy) must not re-run a
 * migration. LastExecution is when this run began; the depends_on gate compares it with
 * a dependent's UpdatedAt to tell the run a deploy started from an older one.
 */
function nextJobStatus(service: Service, spec: ServiceSpec, nowIso: string): Pick<Service, 'JobStatus'> {
  if (!isJobService(service)) return {};
  if (jsonEqual(service.Spec, spec) && service.JobStatus) return { JobStatus: service.JobStatus };
  return { JobStatus: { JobIteration: { Index: jobIterationOf(service) + 1 }, LastExecution: nowIso } };
}

/**
 * `service update`: the new spec becomes current, the old one PreviousSpec, and any
 * finished or paused update state is cleared so the orchestrator starts a new run
 * (re-submitting the same spec is how Docker resumes a paused update). A job whose
 * spec changed runs again.
 */
export function applyServiceUpdate(service: Service, spec: ServiceSpec, nowIso: string): Service {
  return {
    ...service,
    Spec: spec,
    PreviousSpec: service.Spec,
    UpdateStatus: undefined,
    UpdatedAt: nowIso,
    ...nextJobStatus(service, spec, nowIso),
  };
}

/**
 * A dependent's update held back because a job it depends on (service_completed_successfully)
 * failed: the previous spec is current again, before any task was replaced, and the
 * reason is kept where `--wait` and `service inspect` read a rollback's.
 */
export function holdBackUpdate(service: Service, reason: string, nowIso: string): Service {
  return {
    ...service,
    Spec: service.PreviousSpec ?? service.Spec,
    PreviousSpec: service.Spec,
    UpdatedAt: nowIso,
    UpdateStatus: { State: 'rollback_completed', StartedAt: nowIso, CompletedAt: nowIso, Message: reason },
  };
}

/** `service rollback`: spec ← PreviousSpec (and back again on a second rollback), rolled out per RollbackConfig. */
export function rollbackService(service: Service, nowIso: string): Service {
  if (!service.PreviousSpec) {
    throw new SkiffError(
      'conflict',
      `service ${service.Spec.Name ?? service.ID} has no previous spec to roll back to`,
      {
        hint: 'a service can be rolled back only after it has been updated once',
      },
    );
  }
  const next: Service = {
    ...service,
    Spec: service.PreviousSpec,
    PreviousSpec: service.Spec,
    UpdatedAt: nowIso,
    UpdateStatus: { State: 'rollback_started', StartedAt: nowIso, Message: 'manually requested rollback' },
    ...nextJobStatus(service, service.PreviousSpec, nowIso),
  };
  return recordRollout(service, next, nowIso);
}
