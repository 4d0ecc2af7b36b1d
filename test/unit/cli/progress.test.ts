import { describe, expect, it } from 'vitest';
import { RolloutDisplay } from '../../../cli/follow.js';
import { LiveLines } from '../../../cli/live-lines.js';
import { evaluateRollout, rolloutText } from '../../../cli/rollout.js';
import type { Service, Task } from '../../../lib/index.js';

const sink = (isTTY: boolean) => {
  const out: string[] = [];
  return { out, sink: { isTTY, write: (s: string) => out.push(s) } };
};

describe('live progress lines', () => {
  it('prints a plain line per change off a terminal, nothing for a repeat', () => {
    const { out, sink: s } = sink(false);
    const lines = new LiveLines(s);
    lines.set('shop_web', 'starting (0/2 running)');
    lines.set('shop_web', 'starting (0/2 running)');
    lines.set('shop_db', 'converged (1/1 running)');
    lines.set('shop_web', 'updating (1/2 tasks updated)');
    expect(out.join('')).toBe(
      'shop_web: starting (0/2 running)\nshop_db: converged (1/1 running)\nshop_web: updating (1/2 tasks updated)\n',
    );
  });

  it('redraws one line per item in place on a terminal', () => {
    const { out, sink: s } = sink(true);
    const lines = new LiveLines(s);
    lines.set('web', 'starting (0/2 running)');
    lines.set('db', 'starting (0/1 running)');
    lines.set('web', 'converged (2/2 running)');
    expect(out[0]).toBe('\x1b[2Kweb  starting (0/2 running)\n');
    // Back up over the lines drawn so far, then redraw every line cleared first.
    expect(out[1]).toBe('\x1b[1A\x1b[2Kweb  starting (0/2 running)\n\x1b[2Kdb   starting (0/1 running)\n');
    expect(out[2]).toBe('\x1b[2A\x1b[2Kweb  converged (2/2 running)\n\x1b[2Kdb   starting (0/1 running)\n');
  });

  it('ends a service’s live line with its outcome only on a terminal', () => {
    const tty = sink(true);
    const live = new RolloutDisplay(tty.sink);
    live.onProgress('web', 'updating (0/1 tasks updated)');
    live.onOutcome({
      service: 'web',
      outcome: 'rolled_back',
      reason: 'rolled back: health check failed',
      progress: '',
    });
    expect(live.live).toBe(true);
    expect(tty.out.at(-1)).toContain('web  rolled back: rolled back: health check failed');

    const plain = sink(false);
    const lines = new RolloutDisplay(plain.sink);
    lines.onOutcome({ service: 'web', outcome: 'converged', progress: '1/1' });
    expect(lines.live).toBe(false);
    expect(plain.out).toEqual([]);
  });
});

describe('rollout text', () => {
  const service = (update?: Service['UpdateStatus']): Service => ({
    ID: 's',
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: {
      Name: 'web',
      Mode: { Replicated: { Replicas: 2 } },
      TaskTemplate: { ContainerSpec: { Image: 'app:v2' } },
    },
    ...(update ? { UpdateStatus: update } : {}),
  });
  const task = (image: string): Task => ({
    ID: image + Math.random(),
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    ServiceID: 's',
    Spec: { ContainerSpec: { Image: image } },
    Status: { State: 'running' },
    DesiredState: 'running',
  });

  it('names the state and counts the tasks on the new spec', () => {
    const tasks = [task('app:v2'), task('app:v1')];
    const updating = service({ State: 'updating' });
    expect(rolloutText(updating, evaluateRollout(updating, tasks, 0))).toBe('updating (1/2 tasks updated)');
    const back = service({ State: 'rollback_started' });
    expect(rolloutText(back, evaluateRollout(back, tasks, 0))).toBe('rolling back (1/2 running)');
    expect(rolloutText(service(), evaluateRollout(service(), [task('app:v2')], 0))).toBe(
      'starting (1/2 running)',
    );
    const done = [task('app:v2'), task('app:v2')];
    expect(rolloutText(service(), evaluateRollout(service(), done, 0))).toBe('converged (2/2 running)');
    const rolled = service({ State: 'rollback_completed', Message: 'update failed' });
    expect(rolloutText(rolled, evaluateRollout(rolled, done, 0))).toBe(
      'rolled back: rolled back: update failed',
    );
  });
});
