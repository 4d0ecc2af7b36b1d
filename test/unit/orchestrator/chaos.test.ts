import { describe, expect, it } from 'vitest';
import { withDesiredState } from '../../../manager/orchestrator/index.js';
// The same seeded PRNG raft's simulator uses, so every run replays the same events.
import { seededRandom as rng } from '../../../manager/raft/index.js';
import { FakeCluster } from './fake-cluster.js';
import { node, service, T0, withImage } from './fixtures.js';

describe('orchestrator under churn', () => {
  it('desired state never moves back', () => {
    const t = {
      ID: 't',
      Version: { Index: 1 },
      CreatedAt: T0,
      UpdatedAt: T0,
      ServiceID: 's',
      Spec: {},
      Status: { State: 'running' as const },
      DesiredState: 'shutdown' as const,
    };
    expect(withDesiredState(t, 'running', T0)).toBeUndefined();
    expect(withDesiredState(t, 'remove', T0)?.DesiredState).toBe('remove');
  });

  it('converges after random node failures, drains, scaling, crashes and updates (20 seeds)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rand = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
      const c = new FakeCluster();
      c.historyLimit = 4;
      const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
      for (const id of ids) c.addNode(node(id));
      const web = service('web', {
        Mode: { Replicated: { Replicas: 6 } },
        UpdateConfig: { Parallelism: 2, Order: 'start-first', Monitor: 2e9, FailureAction: 'continue' },
      });
      web.Spec.TaskTemplate!.RestartPolicy = { Condition: 'any', Delay: 1e9 };
      c.setService(web);
      c.setService(service('agent', { Mode: { Global: {} } }));
      let crashy = new Set<string>();
      c.behaviour = (t) => (crashy.has(t.ID) ? 'fail' : 'run');
      c.settle();

      for (let step = 0; step < 40; step++) {
        const n = c.nodes.get(pick(ids))!;
        switch (pick(['down', 'up', 'drain', 'activate', 'scale', 'update', 'crash'] as const)) {
          case 'down':
            n.Status.State = 'down';
            break;
          case 'up':
            n.Status.State = 'ready';
            break;
          case 'drain':
            n.Spec.Availability = 'drain';
            break;
          case 'activate':
            n.Spec.Availability = 'active';
            break;
          case 'scale': {
            const s = c.service('web');
            c.setService({
              ...s,
              Spec: { ...s.Spec, Mode: { Replicated: { Replicas: 1 + Math.floor(rand() * 8) } } },
            });
            break;
          }
          case 'update': {
            const s = c.service('web');
            c.setService({
              ...s,
              Spec: withImage(s, `app:v${step}`),
              PreviousSpec: s.Spec,
              UpdateStatus: undefined,
            });
            break;
          }
          case 'crash':
            crashy = new Set(
              c
                .running('web')
                .filter(() => rand() < 0.3)
                .map((t) => t.ID),
            );
            break;
        }
        c.advance(Math.floor(rand() * 5000));
      }

      // Heal everything and let it converge.
      for (const n of c.nodes.values()) {
        n.Status.State = 'ready';
        n.Spec.Availability = 'active';
      }
      crashy = new Set();
      c.advance(120_000);

      const s = c.service('web');
      const replicas = s.Spec.Mode!.Replicated!.Replicas!;
      const running = c.running('web');
      expect(
        running.map((t) => t.Slot).sort((a, b) => a! - b!),
        `seed ${seed}`,
      ).toEqual(Array.from({ length: replicas }, (_, i) => i + 1));
      expect(new Set(running.map((t) => t.Spec.ContainerSpec!.Image)), `seed ${seed}`).toEqual(
        new Set([s.Spec.TaskTemplate!.ContainerSpec!.Image]),
      );
      expect(['completed', undefined], `seed ${seed}`).toContain(s.UpdateStatus?.State);
      expect(
        c
          .running('agent')
          .map((t) => t.NodeID)
          .sort(),
        `seed ${seed}`,
      ).toEqual(ids);
      const perSlot = new Map<number, number>();
      for (const t of c.tasksOf('web')) perSlot.set(t.Slot!, (perSlot.get(t.Slot!) ?? 0) + 1);
      for (const [slot, count] of perSlot) expect(count, `seed ${seed} slot ${slot}`).toBeLessThanOrEqual(4);
    }
  });
});
