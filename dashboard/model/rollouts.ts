// A service's last rollouts as its page lists them, from the history the manager keeps
// beside UpdateStatus (lib/rollouts.ts). Pure; the browser bundle takes only
// `rolloutsOf` from lib.
import { rolloutsOf, type Service } from '../../lib/index.js';
import { age } from './tasks.js';

export interface RolloutRow {
  kind: 'update' | 'rollback';
  /** `in progress`, `paused`, `completed`, `rolled back`, `superseded`. */
  outcome: string;
  /** The outcome's name as a CSS class. */
  outcomeClass: string;
  image: string;
  startedAt: string;
  finishedAt: string;
  /** How long it ran (to now while in progress), e.g. `42s`. */
  took: string;
  message: string;
}

export function rolloutRows(service: Service, now: number): RolloutRow[] {
  return rolloutsOf(service).map((r) => {
    const start = Date.parse(r.StartedAt);
    const end = r.FinishedAt ? Date.parse(r.FinishedAt) : now;
    return {
      kind: r.Kind,
      outcome: r.Outcome.replace('_', ' '),
      outcomeClass: r.Outcome,
      image: (r.Image ?? '').replace(/@sha256:[0-9a-f]+$/, ''),
      startedAt: r.StartedAt,
      finishedAt: r.FinishedAt ?? '',
      took: age(end - start),
      message: r.Message ?? '',
    };
  });
}
