// Stopping a process in steps, each given a deadline: a part that hangs (a node that
// just left raft, an agent stuck on a container) must not keep the rest from stopping.
import { describeError } from './errors.js';
import type { Logger } from './log.js';

/** Runs one step of stopping, going on without it after `timeoutMs`; failures are logged, not thrown. */
export async function boundedStep(
  log: Logger,
  what: string,
  fn: () => Promise<unknown> | undefined,
  timeoutMs = 8_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  const outcome = await Promise.race([
    Promise.resolve(fn()).then(
      () => 'done' as const,
      (err: unknown) => {
        log.warn({ step: what, err: describeError(err) }, 'stopping: a step failed');
        return 'failed' as const;
      },
    ),
    new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'timeout')
    log.warn({ step: what, timeoutMs }, 'stopping: a step did not finish in time; going on');
  else log.debug({ step: what, ms: Date.now() - started }, 'stopped');
}
