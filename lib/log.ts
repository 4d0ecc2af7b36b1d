import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * The process logger. Components take a child logger with their name bound
 * (`log.child({ component: 'scheduler' })`) and add task/service/node IDs as fields
 * (`taskId`, `serviceId`, `nodeId`) so an operator can grep one object's history.
 */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: options.name ?? 'skiff',
    level: options.level ?? process.env.SKIFF_LOG_LEVEL ?? 'info',
  });
}

/**
 * A monotonic clock (ms since the process started, 0.1 ms steps) for trace fields
 * (`mono`): the steps of one operation across components of the same process compare
 * exactly, whatever the wall clock does.
 */
export function monoMs(): number {
  return Math.round(performance.now() * 10) / 10;
}

/** A logger that writes nothing, for tests and libraries used without one. */
export const silentLogger: Logger = pino({ level: 'silent' });
