// Signal names as Docker accepts them: "SIGTERM", "TERM", "term" or "15".
import { constants } from 'node:os';
import { SkiffError } from '../../lib/index.js';

const BY_NUMBER = new Map<number, string>(
  Object.entries(constants.signals).map(([name, num]) => [num, name] as [number, string]),
);

/** The canonical name ("SIGTERM") for a signal in any accepted spelling. */
export function normalizeSignal(signal: string): NodeJS.Signals {
  const s = signal.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const name = BY_NUMBER.get(Number(s));
    if (name) return name as NodeJS.Signals;
  } else {
    const name = s.startsWith('SIG') ? s : `SIG${s}`;
    if (name in constants.signals) return name as NodeJS.Signals;
  }
  throw new SkiffError('invalid_argument', `unknown signal '${signal}'`, {
    hint: 'use a signal name such as SIGTERM or SIGQUIT, or its number',
  });
}

export function signalNumber(signal: string): number {
  return constants.signals[normalizeSignal(signal)];
}
