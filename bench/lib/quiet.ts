// Waiting for the machine to settle between runs: an engine goes on working after its
// last API answer (Swarm removes containers and networks in the background, skiff's
// agent unmounts), and a run that starts during the previous one's cleanup pays for it.
import { readFileSync } from 'node:fs';

function cpuTimes(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Resolves once the whole machine's CPU was below `maxBusy` (0..1) over one `windowMs`
 * window, or after `timeoutMs` (a busy neighbour must not stop the benchmark); returns
 * the busy share seen last.
 */
export async function waitForQuietCpu(
  opts: { maxBusy?: number; windowMs?: number; timeoutMs?: number } = {},
): Promise<number> {
  const maxBusy = opts.maxBusy ?? 0.15;
  const windowMs = opts.windowMs ?? 300;
  const deadline = performance.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, windowMs));
    const b = cpuTimes();
    const share = b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
    if (share <= maxBusy || performance.now() > deadline) return share;
  }
}
