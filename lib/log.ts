import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

/** Log lines kept while the log cannot be written; those beyond are dropped and counted. */
const PENDING_LOG_BYTES = 4 << 20;

/**
 * The process logger. Components take a child logger with their name bound
 * (`log.child({ component: 'scheduler' })`) and add task/service/node IDs as fields
 * (`taskId`, `serviceId`, `nodeId`) so an operator can grep one object's history.
 * It writes to `fd` (default stdout, which a daemon points at its daemon.log) through
 * `logDestination`: a full disk costs log lines, never the process.
 */
export function createLogger(options: { level?: string; name?: string; fd?: number } = {}): Logger {
  let log: Logger | undefined;
  const dest = logDestination(options.fd ?? 1, (lost) => {
    log?.warn(
      { droppedLines: lost.dropped, err: lost.error },
      'the log could not be written for a while (disk full?): the lines above came late, and droppedLines more did not fit in 4 MiB and are lost',
    );
  });
  log = pino(
    {
      name: options.name ?? 'skiff',
      level: options.level ?? process.env.SKIFF_LOG_LEVEL ?? 'info',
    },
    dest,
  );
  return log;
}

/**
 * A log stream on `fd` that survives failed writes. pino's own stream re-emits every
 * write error but EPIPE, and an unhandled 'error' event ends the process: a daemon whose
 * state disk filled up died on its next log line (found by the chaos run's fill-disk
 * fault), a worker's agent included. Here a line that cannot be written waits (up to 4
 * MiB; later lines are dropped and counted) and goes out with the next write once there
 * is room, after which `onRecovered` hears what was lost. Writes are synchronous: an
 * asynchronous stream flushes at exit, and a flush retries a full disk forever.
 */
export function logDestination(
  fd: number,
  onRecovered: (lost: { dropped: number; error: string }) => void,
): DestinationStream {
  const stream = pino.destination({ dest: fd, sync: true, maxLength: PENDING_LOG_BYTES });
  let error: string | undefined;
  let dropped = 0;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    error ??= e.code ?? e.message;
  });
  stream.on('drop', () => {
    dropped++;
  });
  // pino flushes on every fatal line, and a flush retries a failed write until it
  // succeeds: with the disk full, the process would hang there instead of exiting. Lines
  // are written as they come, so only those that failed wait; they wait for the next write.
  const flushSync = stream.flushSync.bind(stream);
  stream.flushSync = () => {
    if (error === undefined) flushSync();
  };
  stream.on('write', () => {
    if (error === undefined) return;
    const lost = { dropped, error };
    error = undefined;
    dropped = 0;
    // Not from inside the stream's own write.
    setImmediate(() => onRecovered(lost));
  });
  return stream;
}

/**
 * A monotonic clock (ms since the process started, 0.1 ms steps) for trace fields
 * (`mono`): the steps of one operation across components of the same process compare
 * exactly, whatever the wall clock does.
 */
export function monoMs(): number {
  return Math.round(performance.now() * 10) / 10;
}

/**
 * A logger that writes nothing, for tests and libraries used without one. Pure: a bundle
 * that never uses it (the CLI's, scripts/bundle-cli.mjs) leaves pino out.
 */
export const silentLogger: Logger = /* @__PURE__ */ pino({ level: 'silent' });
