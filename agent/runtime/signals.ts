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

/**
 * Whether a process whose /proc/PID/status is `status` drops `signal` unseen: the init
 * of a PID namespace (its last NSpid is 1, as a container's main process is) that has
 * no handler for it. The kernel discards such a signal (only SIGKILL and SIGSTOP reach
 * an init without a handler), so stopping it waits the whole grace period for SIGKILL.
 * False whenever it cannot tell. Pure.
 */
export function dropsSignal(status: string, signal: string): boolean {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(status)?.[1]?.trim();
  const nspid = field('NSpid')?.split(/\s+/);
  const caught = field('SigCgt');
  if (nspid?.at(-1) !== '1' || !caught || !/^[0-9a-f]+$/i.test(caught)) return false;
  const n = signalNumber(signal);
  if (n === constants.signals.SIGKILL || n === constants.signals.SIGSTOP) return false;
  return ((BigInt(`0x${caught}`) >> BigInt(n - 1)) & 1n) === 0n;
}
