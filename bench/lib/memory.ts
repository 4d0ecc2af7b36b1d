// Resident memory of a peer: the sum of VmRSS over every process whose command line
// names its state directory (dockerd and the containerd it started, etcd members, the
// registry), the "how heavy is it" figure next to start time.
import { readdirSync, readFileSync } from 'node:fs';

export function residentKiB(commandLineNeedle: string): { kib: number; processes: number } {
  let kib = 0;
  let processes = 0;
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(commandLineNeedle)) continue;
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${e}/status`, 'utf8'))?.[1];
      if (rss) {
        kib += Number(rss);
        processes++;
      }
    } catch {
      // exited while we looked
    }
  }
  return { kib, processes };
}
