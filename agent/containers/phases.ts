// Debug spans of a standalone container's phases (create, start, removal), each with the
// container's ID, so where `docker run` spends its time can be read from the daemon's log
// (SKIFF_LOG_LEVEL=debug): `{"phase":"rootfs","ms":12.3}`.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../lib/index.js';

export interface Phases {
  /** Runs `step`, logging how long it took under `phase` (also when it fails). */
  <T>(phase: string, step: () => Promise<T>): Promise<T>;
  /** Logs the whole span since the timer was made, under `phase`. */
  end(phase: string): void;
}

export function phaseTimer(log: Logger): Phases {
  const enabled = log.isLevelEnabled('debug');
  const began = performance.now();
  const run = async <T>(phase: string, step: () => Promise<T>): Promise<T> => {
    if (!enabled) return step();
    const t = performance.now();
    try {
      return await step();
    } finally {
      log.debug({ phase, ms: round(performance.now() - t) }, 'container phase');
    }
  };
  return Object.assign(run, {
    end(phase: string) {
      if (enabled) log.debug({ phase, ms: round(performance.now() - began) }, 'container phase');
    },
  });
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
