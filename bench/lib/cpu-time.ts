// CPU time a peer has used: the sum over every process whose command line names its state
// directory (as residentKiB) of its threads' run time, plus what the children it waited
// for used (dockerd's iptables runs). Beside a start time, the figure that other work on
// the machine disturbs least: a start's wall time waits for the CPUs, its CPU time does not.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks a second: the unit of /proc/<pid>/stat's times (100 on Linux). */
const TICKS_PER_SECOND = 100;

export function cpuMs(commandLineNeedle: string): number {
  let ms = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(commandLineNeedle)) continue;
      // The threads' run time in ns (schedstat), finer than stat's ticks.
      for (const t of readdirSync(`/proc/${e}/task`)) {
        ms += Number(readFileSync(`/proc/${e}/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
      }
      // cutime and cstime: fields 16 and 17, counted after the command name's closing ")".
      const fields = readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      ms += ((Number(fields[13]) || 0) + (Number(fields[14]) || 0)) * (1000 / TICKS_PER_SECOND);
    } catch {
      // exited while we looked
    }
  }
  return ms;
}
