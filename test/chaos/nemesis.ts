// The nemesis's schedule, pure and seeded: which fault, when, for how long, and an index
// that picks its target among the candidates of the moment (the leader is known only
// when the fault comes). The run records the target it resolved to.
import { type Rng, rng } from './rng.js';

export const FAULT_KINDS = [
  /** kill -9 the raft leader's daemon (its containers keep running), then start it again. */
  'kill-leader',
  /** kill -9 a follower manager's daemon, then start it again. */
  'kill-follower',
  /** kill -9 a worker's daemon (the agent), then start it again. */
  'kill-agent',
  /** SIGSTOP a manager's daemon for longer than the election timeout, then SIGCONT. */
  'pause-manager',
  /** Take a host's switch port down (it is cut off from every other host), then up. */
  'partition-host',
  /** Stop any node's daemon cleanly (`skiff daemon stop`), then start it again. */
  'restart-daemon',
  /** Promote a worker to manager, then demote it again once it is a reachable manager. */
  'promote-demote',
  /**
   * Fill any node's state filesystem until writes get ENOSPC, then free it (and start the
   * daemon again if it stopped, as its service manager would).
   */
  'fill-disk',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ScheduledFault {
  /** When the fault starts, in ms from the start of the load. */
  at: number;
  kind: FaultKind;
  /** How long it lasts before it is healed, in ms. */
  durationMs: number;
  /** Picks the target among the candidates (index modulo their count). */
  pick: number;
}

export interface ScheduleOptions {
  seed: number;
  /** The length of the load, in ms; no fault starts in its last `quietMs`. */
  totalMs: number;
  /** The pause between a fault's healing and the next fault, at least. */
  gapMs?: number;
  quietMs?: number;
  kinds?: readonly FaultKind[];
}

/**
 * One fault after another: each lasts 2 to 6 s and the next starts `gapMs` to twice that
 * after the previous one was healed (the run also waits for the cluster to be whole
 * again first, so the times here are the earliest).
 */
export function nemesisSchedule(o: ScheduleOptions): ScheduledFault[] {
  const r: Rng = rng(o.seed ^ 0x5eed);
  const gap = o.gapMs ?? 3000;
  const quiet = o.quietMs ?? 5000;
  const kinds = o.kinds ?? FAULT_KINDS;
  const out: ScheduledFault[] = [];
  let t = gap;
  for (;;) {
    const durationMs = r.int(2000, 6000);
    if (t + durationMs > o.totalMs - quiet) break;
    out.push({ at: t, kind: r.pick(kinds), durationMs, pick: r.int(0, 1 << 20) });
    t += durationMs + r.int(gap, 2 * gap);
  }
  return out;
}
