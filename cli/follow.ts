// Follows rollouts through the API until each service converges, fails or times out:
// the exit-code contract of `service update` and `stack deploy --wait`.
import type { Service } from '../lib/index.js';
import type { ApiClient } from './api/index.js';
import { type LineSink, LiveLines } from './live-lines.js';
import {
  blockedByFailedJob,
  evaluateRollout,
  lastTaskError,
  type RolloutOutcome,
  rolloutText,
} from './rollout.js';

export interface FollowResult {
  service: string;
  outcome: 'converged' | 'rolled_back' | 'paused' | 'failed' | 'timed_out';
  reason?: string;
  progress: string;
}

export async function followRollouts(
  client: ApiClient,
  serviceIds: string[],
  opts: {
    timeoutMs: number;
    pollMs?: number;
    /** Called when a service's progress line changes (state, tasks updated/total). */
    onProgress?: (service: string, text: string) => void;
    /** Called once per service with its outcome. */
    onOutcome?: (result: FollowResult) => void;
  },
): Promise<FollowResult[]> {
  const deadline = Date.now() + opts.timeoutMs;
  const results = new Map<string, FollowResult>();
  const lastProgress = new Map<string, string>();
  while (results.size < serviceIds.length) {
    const nodes = await client.listNodes();
    const globalNodes = nodes.filter(
      (n) => n.Status.State === 'ready' && n.Spec.Availability === 'active',
    ).length;
    for (const id of serviceIds) {
      if (results.has(id)) continue;
      let service: Service;
      try {
        service = await client.inspectService(id);
      } catch (e) {
        const failed: FollowResult = {
          service: id,
          outcome: 'failed',
          reason: (e as Error).message,
          progress: '',
        };
        results.set(id, failed);
        opts.onOutcome?.(failed);
        continue;
      }
      const name = service.Spec.Name ?? id;
      const tasks = await client.listTasks({ service: [service.ID] });
      let o: RolloutOutcome = evaluateRollout(service, tasks, globalNodes);
      const failedJobs = new Map(
        [...results.values()].filter((r) => r.outcome === 'failed').map((r) => [r.service, r.reason ?? '']),
      );
      const blocked = o.state === 'pending' ? blockedByFailedJob(service, tasks, failedJobs) : undefined;
      if (blocked) o = { state: 'failed', outcome: 'failed', reason: blocked };
      const text = rolloutText(service, o);
      if (o.state === 'converged')
        results.set(id, { service: name, outcome: 'converged', progress: o.progress });
      else if (o.state === 'failed') {
        results.set(id, { service: name, outcome: o.outcome, reason: o.reason, progress: '' });
      } else if (Date.now() > deadline) {
        const err = lastTaskError(tasks);
        results.set(id, {
          service: name,
          outcome: 'timed_out',
          reason: `not converged after ${Math.round(opts.timeoutMs / 1000)}s (${o.progress} running)${err ? `; last task error: ${err}` : ''}`,
          progress: o.progress,
        });
      } else if (lastProgress.get(id) !== text) {
        lastProgress.set(id, text);
        opts.onProgress?.(name, text);
      }
      const done = results.get(id);
      if (done) opts.onOutcome?.(done);
    }
    if (results.size < serviceIds.length) await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
  return serviceIds.map((id) => results.get(id)!);
}

/** A service's outcome in one line: "converged (3/3 running)", "rolled back: …". */
export function outcomeText(r: FollowResult): string {
  return r.outcome === 'converged'
    ? `converged (${r.progress} running)`
    : `${r.outcome.replace('_', ' ')}: ${r.reason ?? ''}`;
}

/**
 * Rollout progress on stderr: on a terminal one line per service, updated in place and
 * ending with its outcome; otherwise a plain line at each change.
 */
export class RolloutDisplay {
  readonly live: boolean;
  private readonly lines: LiveLines;

  constructor(out: LineSink = process.stderr) {
    this.live = out.isTTY === true;
    this.lines = new LiveLines(out);
  }

  onProgress = (service: string, text: string): void => this.lines.set(service, text);

  onOutcome = (r: FollowResult): void => {
    if (this.live) this.lines.set(r.service, outcomeText(r));
  };
}
