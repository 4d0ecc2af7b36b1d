// Spec changes the API applies to a service, kept here so that what the rolling
// update machine expects (PreviousSpec, UpdateStatus) is written in one place.

import { recordRollout, type Service, type ServiceSpec, SkiffError } from '../../lib/index.js';

/**
 * `service update`: the new spec becomes current, the old one PreviousSpec, and any
 * finished or paused update state is cleared so the orchestrator starts a new run
 * (re-submitting the same spec is how Docker resumes a paused update).
 */
export function applyServiceUpdate(service: Service, spec: ServiceSpec, nowIso: string): Service {
  return { ...service, Spec: spec, PreviousSpec: service.Spec, UpdateStatus: undefined, UpdatedAt: nowIso };
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
  };
  return recordRollout(service, next, nowIso);
}
