// Runs one container's health probes on the plan's timing and keeps its state: each
// probe is an exec in the container; a change of status is reported at once, and the
// state is saved so that an agent restarted later can show it.
import { writeFile } from 'node:fs/promises';
import { SkiffError } from '../../lib/index.js';
import { applyProbe, type HealthPlan, initialHealth, nextProbeDelay } from './health.js';
import type { ContainerHealth, ExecResult } from './types.js';

export interface HealthMonitorOptions {
  plan: HealthPlan;
  startedAt: Date;
  /** State to resume from (after an agent restart). */
  from?: ContainerHealth;
  /** Runs the probe command in the container; rejects with `conflict` once it is not running. */
  exec: (command: string[], timeoutMs: number) => Promise<ExecResult>;
  onChange: (health: ContainerHealth) => void;
  /** Whether the container is frozen now (docker pause): no probe runs then, it would hang in the frozen cgroup. */
  paused?: () => boolean;
  /** Where the state is saved after each probe. */
  statePath: string;
}

const OUTPUT_KEEP = 4096;

export class HealthMonitor {
  health: ContainerHealth;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: HealthMonitorOptions) {
    this.health = o.from ?? initialHealth();
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = nextProbeDelay(this.o.plan, this.health, this.o.startedAt, new Date());
    this.timer = setTimeout(() => void this.probe(), delay);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    if (this.stopped) return;
    if (this.o.paused?.()) return void this.schedule();
    const { plan } = this.o;
    const start = new Date();
    let exitCode: number;
    let output: string;
    try {
      const r = await this.o.exec(plan.command, plan.timeoutMs);
      exitCode = r.exitCode;
      output = (r.stdout + r.stderr).slice(0, OUTPUT_KEEP);
      if (r.timedOut) {
        exitCode = -1;
        output = `health check exceeded its timeout (${plan.timeoutMs} ms)`;
      }
    } catch (e) {
      // Not running any more: the exit watcher reports that.
      if (e instanceof SkiffError && e.code === 'conflict') this.stop();
      if (this.stopped) return;
      exitCode = -1;
      output = e instanceof Error ? e.message : String(e);
    }
    if (this.stopped) return;
    const before = this.health.status;
    this.health = applyProbe(
      plan,
      this.health,
      { start, end: new Date(), exitCode, output },
      this.o.startedAt,
    );
    // The change goes out with the state, before anything can observe the new state.
    if (this.health.status !== before) this.o.onChange(this.health);
    await writeFile(this.o.statePath, JSON.stringify(this.health)).catch(() => undefined);
    this.schedule();
  }
}
