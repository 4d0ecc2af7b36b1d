// A service's CPU and memory over time, as its page charts them: each read of the node's
// `/skiff/services/{id}/stats` becomes one point. CPU is a counter per task, so a point's
// CPU (in cores) is what its tasks used since the previous read, over the time between
// the two reads of each task; memory is the sum of the tasks' now. A bounded history per
// service keeps the last minutes. Types only from lib (the browser bundle imports this).
import type { ServiceStats } from '../../lib/index.js';

export interface StatsPoint {
  /** When, ms since the epoch (the manager's answer). */
  t: number;
  /** Cores used since the previous point; null for the first point or when no task's counter moved forward. */
  cpu: number | null;
  /** Bytes, summed over the tasks that answered; null when none did. */
  memory: number | null;
  /** Tasks that answered. */
  tasks: number;
}

/** What the next point needs of a read: each task's CPU counter and when it was read. */
export type CpuCounters = Map<string, { cpuNanos: number; timeMs: number }>;

export function cpuCounters(s: ServiceStats): CpuCounters {
  const out: CpuCounters = new Map();
  for (const t of s.tasks)
    if (t.cpuNanos !== undefined) out.set(t.taskId, { cpuNanos: t.cpuNanos, timeMs: t.timeMs });
  return out;
}

/**
 * One point from a read and the counters of the read before it. A task seen in only one
 * of the two (started or stopped between them), or whose counter went back (its
 * container was replaced), adds no CPU to this point rather than a wrong one.
 */
export function statsPoint(s: ServiceStats, previous: CpuCounters | undefined): StatsPoint {
  let cpu: number | null = null;
  let memory: number | null = null;
  for (const t of s.tasks) {
    if (t.memoryBytes !== undefined) memory = (memory ?? 0) + t.memoryBytes;
    const before = previous?.get(t.taskId);
    if (t.cpuNanos === undefined || !before) continue;
    const used = t.cpuNanos - before.cpuNanos;
    const ms = t.timeMs - before.timeMs;
    if (used < 0 || ms <= 0) continue;
    cpu = (cpu ?? 0) + used / (ms * 1e6);
  }
  return { t: s.timeMs, cpu, memory, tasks: s.tasks.length };
}

/** The last `capacity` points of a service, oldest first: memory stays bounded however long it is watched. */
export class StatsHistory {
  private readonly buf: StatsPoint[] = [];
  private counters: CpuCounters | undefined;

  constructor(readonly capacity: number) {}

  add(s: ServiceStats): StatsPoint {
    const p = statsPoint(s, this.counters);
    this.counters = cpuCounters(s);
    this.buf.push(p);
    if (this.buf.length > this.capacity) this.buf.splice(0, this.buf.length - this.capacity);
    return p;
  }

  get points(): readonly StatsPoint[] {
    return this.buf;
  }
}
