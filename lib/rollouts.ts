// A service's last rollouts and how each ended. Swarm keeps only the current
// UpdateStatus, which the next `service update` clears; skiff keeps a short history
// beside it in the service object (an `x-skiff` key, so the Docker API's fields stay
// as documented), written wherever UpdateStatus changes (the orchestrator's update
// machine, a manual rollback) and read by the dashboard. Pure.
import type { Service, UpdateStatus } from './model/index.js';

/** Where the stored service keeps its rollouts, newest first. */
export const ROLLOUTS_FIELD = 'x-skiff-rollouts';
/** How many rollouts a service keeps: enough to see a pattern, small in the store. */
export const MAX_ROLLOUTS = 10;

/**
 * How a rollout stands or ended: `rolled_back` and `superseded` are an update that a
 * rollback (automatic or asked for) or a newer update replaced before it completed.
 */
export type RolloutOutcome = 'in_progress' | 'paused' | 'completed' | 'rolled_back' | 'superseded';

export interface Rollout {
  Kind: 'update' | 'rollback';
  Outcome: RolloutOutcome;
  StartedAt: string;
  /** When it completed, paused, or was replaced. */
  FinishedAt?: string;
  /** The update machine's last message about it. */
  Message?: string;
  /** The image it rolled out. */
  Image?: string;
}

/** A service object with its rollouts (the field is absent until the first one). */
export type WithRollouts<T> = T & { [ROLLOUTS_FIELD]?: readonly Rollout[] };

/** The service's rollouts, newest first. */
export function rolloutsOf(service: Service): readonly Rollout[] {
  return (service as WithRollouts<Service>)[ROLLOUTS_FIELD] ?? [];
}

function outcomeOf(status: UpdateStatus): RolloutOutcome {
  switch (status.State) {
    case 'completed':
    case 'rollback_completed':
      return 'completed';
    case 'paused':
    case 'rollback_paused':
      return 'paused';
    default:
      return 'in_progress';
  }
}

/**
 * `next` with its rollouts brought up to date with its UpdateStatus, `prev` being the
 * service it replaces: a new run (a StartedAt not seen before) is added first, and the
 * one before it, if it had not completed, is marked rolled back or superseded; a known
 * run takes its new state. A service whose UpdateStatus did not change is returned as is.
 */
export function recordRollout(prev: Service, next: Service, nowIso: string): Service {
  const status = next.UpdateStatus;
  const before = prev.UpdateStatus;
  if (status?.State === undefined || status.StartedAt === undefined) return next;
  if (before?.State === status.State && before.StartedAt === status.StartedAt) return next;
  const kind: Rollout['Kind'] = status.State.startsWith('rollback_') ? 'rollback' : 'update';
  const outcome = outcomeOf(status);
  const history = rolloutsOf(next);
  const [latest, ...older] = history;
  let out: Rollout[];
  if (latest && latest.StartedAt === status.StartedAt && latest.Kind === kind) {
    const { FinishedAt: _was, Message: _said, ...rest } = latest;
    out = [{ ...rest, ...ended(outcome, status, nowIso) }, ...older];
  } else {
    const image = next.Spec.TaskTemplate?.ContainerSpec?.Image;
    const started: Rollout = {
      Kind: kind,
      StartedAt: status.StartedAt,
      ...(image === undefined ? {} : { Image: image }),
      ...ended(outcome, status, nowIso),
    };
    const replaced =
      latest && (latest.Outcome === 'in_progress' || latest.Outcome === 'paused')
        ? [
            {
              ...latest,
              Outcome: kind === 'rollback' ? ('rolled_back' as const) : ('superseded' as const),
              FinishedAt: status.StartedAt,
            },
            ...older,
          ]
        : history;
    out = [started, ...replaced].slice(0, MAX_ROLLOUTS);
  }
  return { ...next, [ROLLOUTS_FIELD]: out } as Service;
}

/** The fields a state sets (no key holds `undefined`: the store compares objects as JSON). */
function ended(
  outcome: RolloutOutcome,
  status: UpdateStatus,
  nowIso: string,
): Pick<Rollout, 'Outcome' | 'Message' | 'FinishedAt'> {
  return {
    Outcome: outcome,
    ...(status.Message === undefined ? {} : { Message: status.Message }),
    ...(outcome === 'in_progress' ? {} : { FinishedAt: status.CompletedAt ?? nowIso }),
  };
}
