// Follows rollouts through the API until each service converges, fails or times out:
// the exit-code contract of `service update` and `stack deploy --wait`.
import type { Service } from '../lib/index.js';
import type { ApiClient } from './api/client.js';
import { evaluateRollout, lastTaskError, type RolloutOutcome } from './rollout.js';

export interface FollowResult {
  service: string;
  outcome: 'converged' | 'rolled_back' | 'paused' | 'failed' | 'timed_out';
  reason?: string;
  progress: string;
}

export async function followRollouts(
  client: ApiClient,
  serviceIds: string[],
  opts: { timeoutMs: number; pollMs?: number; onProgress?: (service: string, text: string) => void },
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
        results.set(id, { service: id, outcome: 'failed', reason: (e as Error).message, progress: '' });
        continue;
      }
      const name = service.Spec.Name ?? id;
      const tasks = await client.listTasks({ service: [service.ID] });
      const o: RolloutOutcome = evaluateRollout(service, tasks, globalNodes);
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
      } else if (lastProgress.get(id) !== o.progress) {
        lastProgress.set(id, o.progress);
        opts.onProgress?.(name, `${o.progress} running`);
      }
    }
    if (results.size < serviceIds.length) await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
  return serviceIds.map((id) => results.get(id)!);
}
