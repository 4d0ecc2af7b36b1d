// Whether a container's main process drops its stop signal unseen, from /proc/PID/status.
import { describe, expect, it } from 'vitest';
import { dropsSignal } from '../../../agent/runtime/signals.js';

/** The lines of /proc/PID/status that matter, the rest as the kernel prints it around them. */
const status = (nspid: string, sigCgt: string) =>
  [
    'Name:\thttpd',
    'Pid:\t4242',
    `NSpid:\t${nspid}`,
    'SigIgn:\t0000000000000000',
    `SigCgt:\t${sigCgt}`,
    '',
  ].join('\n');

describe('dropsSignal', () => {
  it('says a PID namespace init with no handler drops SIGTERM, and one with a handler does not', () => {
    // httpd run as the command: no handler for SIGTERM (15, bit 14).
    expect(dropsSignal(status('4242\t1', '0000000000000000'), 'SIGTERM')).toBe(true);
    expect(dropsSignal(status('4242\t1', '0000000000004000'), 'SIGTERM')).toBe(false);
    expect(dropsSignal(status('4242\t1', '0000000000004000'), 'TERM')).toBe(false);
    // A handler for SIGTERM only: SIGQUIT (3, bit 2) is still dropped.
    expect(dropsSignal(status('4242\t1', '0000000000004000'), 'SIGQUIT')).toBe(true);
  });

  it('says no for a process that is not its namespace’s init, for SIGKILL, and when it cannot tell', () => {
    // In the host's PID namespace (pid: host), SIGTERM's default action ends it.
    expect(dropsSignal(status('4242', '0000000000000000'), 'SIGTERM')).toBe(false);
    expect(dropsSignal(status('4242\t7', '0000000000000000'), 'SIGTERM')).toBe(false);
    expect(dropsSignal(status('4242\t1', '0000000000000000'), 'SIGKILL')).toBe(false);
    expect(dropsSignal('Name:\thttpd\n', 'SIGTERM')).toBe(false);
  });
});
