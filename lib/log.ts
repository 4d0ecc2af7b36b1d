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

/** A logger that writes nothing, for tests and libraries used without one. */
export const silentLogger: Logger = pino({ level: 'silent' });
