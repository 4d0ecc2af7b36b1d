// Named network namespaces under our own run directory, made the way `ip netns add`
// makes them: a file kept alive by a bind mount of the namespace. util-linux
// `unshare --net=FILE` does the unshare and the bind mount in one step.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Exec } from './exec.js';
import { mustExec } from './exec.js';

/**
 * Creates the namespace with its loopback up (what the CNI loopback plugin does), in one
 * exec: `unshare` runs `ip link set lo up` inside the namespace it just bound. A file
 * this call created cannot be mounted yet, so only a file left from before is checked.
 */
export async function createNamedNetns(run: Exec, dir: string, name: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, name);
  const fresh = await writeFile(file, '', { flag: 'wx' }).then(
    () => true,
    (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      return false;
    },
  );
  if (!fresh && (await isMounted(run, file))) return file;
  await mustExec(
    run,
    'unshare',
    [`--net=${file}`, 'ip', 'link', 'set', 'dev', 'lo', 'up'],
    `creating network namespace ${name}`,
  );
  return file;
}

export async function removeNamedNetns(run: Exec, file: string): Promise<void> {
  // Lazy unmount: a process still inside keeps its namespace, the name goes away.
  await run('umount', ['-l', file]);
  await rm(file, { force: true });
}

export async function isMounted(run: Exec, file: string): Promise<boolean> {
  const r = await run('findmnt', ['-n', '-o', 'TARGET', '--mountpoint', file]);
  return r.code === 0 && r.stdout.trim().length > 0;
}

/** Runs a command inside a namespace (for setup that has no CNI plugin, and for tests). */
export function inNetns(run: Exec, netnsPath: string, file: string, args: readonly string[]) {
  return run('nsenter', [`--net=${netnsPath}`, '--', file, ...args]);
}
