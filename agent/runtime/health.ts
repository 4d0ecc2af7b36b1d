// Docker's health-check rules as a pure state machine: probes every Interval (every
// StartInterval during the start period), failures during the start period do not
// count until a probe first succeeds, `Retries` consecutive failures make the
// container unhealthy, one success makes it healthy again.
import type { HealthConfig } from '../../lib/index.js';
import type { ContainerHealth, HealthProbeResult, ImageRunConfig } from './types.js';

const SECOND_NS = 1e9;
export const HEALTH_DEFAULTS = {
  intervalNs: 30 * SECOND_NS,
  timeoutNs: 30 * SECOND_NS,
  startIntervalNs: 5 * SECOND_NS,
  retries: 3,
};
const LOG_KEEP = 5;

export interface HealthPlan {
  /** argv to exec in the container. */
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

/** The spec's HealthCheck over the image's: an empty Test or zero durations inherit. */
export function healthPlan(
  image: ImageRunConfig['Healthcheck'] | undefined,
  spec: HealthConfig | undefined,
): HealthPlan | undefined {
  const test = spec?.Test && spec.Test.length > 0 ? spec.Test : image?.Test;
  if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
  let command: string[];
  if (test[0] === 'CMD') command = test.slice(1);
  else if (test[0] === 'CMD-SHELL') command = ['/bin/sh', '-c', test.slice(1).join(' ')];
  else command = test;
  if (command.length === 0) return undefined;
  const pick = (a: number | undefined, b: number | undefined, d: number): number =>
    a && a > 0 ? a : b && b > 0 ? b : d;
  return {
    command,
    intervalMs: pick(spec?.Interval, image?.Interval, HEALTH_DEFAULTS.intervalNs) / 1e6,
    timeoutMs: pick(spec?.Timeout, image?.Timeout, HEALTH_DEFAULTS.timeoutNs) / 1e6,
    startPeriodMs: pick(spec?.StartPeriod, image?.StartPeriod, 0) / 1e6,
    startIntervalMs: pick(spec?.StartInterval, image?.StartInterval, HEALTH_DEFAULTS.startIntervalNs) / 1e6,
    retries: pick(spec?.Retries, image?.Retries, HEALTH_DEFAULTS.retries),
  };
}

export function initialHealth(): ContainerHealth {
  return { status: 'starting', failingStreak: 0, log: [] };
}

function inStartPeriod(plan: HealthPlan, startedAt: Date, now: Date): boolean {
  return now.getTime() - startedAt.getTime() < plan.startPeriodMs;
}

/** The state after one probe result. */
export function applyProbe(
  plan: HealthPlan,
  health: ContainerHealth,
  result: HealthProbeResult,
  startedAt: Date,
): ContainerHealth {
  const log = [...health.log, result].slice(-LOG_KEEP);
  if (result.exitCode === 0) return { status: 'healthy', failingStreak: 0, log };
  if (health.status === 'starting' && inStartPeriod(plan, startedAt, result.end)) {
    return { status: 'starting', failingStreak: health.failingStreak, log };
  }
  const failingStreak = health.failingStreak + 1;
  return { status: failingStreak >= plan.retries ? 'unhealthy' : health.status, failingStreak, log };
}

/** Milliseconds until the next probe, counted from the end of the last one. */
export function nextProbeDelay(
  plan: HealthPlan,
  health: ContainerHealth,
  startedAt: Date,
  now: Date,
): number {
  return health.status === 'starting' && inStartPeriod(plan, startedAt, now)
    ? plan.startIntervalMs
    : plan.intervalMs;
}
