// A packet capture on the lab's switch with the real tcpdump: every frame between the
// hosts crosses its bridge, so what an outsider on the wire would see is what it records.
import { spawn } from 'node:child_process';
import { runCommand } from './command.js';
import type { Lab } from './lab.js';
import { switchNetns } from './names.js';
import { waitFor } from './wait.js';

export interface Capture {
  /** Stops capturing and answers tcpdump's decoded lines (`-nn -v`), with payload in ASCII when asked. */
  stop(opts?: { ascii?: boolean }): Promise<string>;
}

/** Starts tcpdump on the lab switch's bridge with a pcap `filter`; resolves once it listens. */
export async function captureOnSwitch(
  lab: Pick<Lab, 'prefix'>,
  file: string,
  filter: string,
): Promise<Capture> {
  const child = spawn(
    'ip',
    ['netns', 'exec', switchNetns(lab.prefix), 'tcpdump', '-i', 'br0', '-nn', '-U', '-w', file, filter],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(() => stderr.includes('listening on') || child.exitCode !== null, {
    what: 'tcpdump listening on the switch',
  });
  if (child.exitCode !== null) throw new Error(`tcpdump exited: ${stderr}`);
  return {
    async stop(opts = {}) {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
      const r = await runCommand('tcpdump', ['-r', file, '-nn', '-v', ...(opts.ascii ? ['-A'] : [])]);
      return r.stdout;
    },
  };
}
