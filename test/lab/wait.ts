// Deadline-based waiting: tests wait for a condition, never for a fixed time.
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** What is awaited, for the error message ("registry on 127.0.0.1:5000 to answer"). */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
}

export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, lastError: unknown) {
    const last = lastError === undefined ? '' : `; last error: ${describe(lastError)}`;
    super(`timed out after ${timeoutMs} ms waiting for ${what}${last}`, { cause: lastError });
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Calls `condition` until it returns a truthy value (which is returned) or the deadline
 * passes (a WaitTimeoutError naming `what` and the condition's last thrown error).
 * A throwing condition counts as "not yet".
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  opts: WaitOptions,
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as Exclude<T, false | 0 | '' | null | undefined>;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) throw new WaitTimeoutError(opts.what, timeoutMs, lastError);
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
