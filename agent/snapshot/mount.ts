// Performing the mounts a snapshotter returns (containerd's mount.All): the snapshotter
// says what to mount, its caller decides where and when.
import { readFile } from 'node:fs/promises';
import { SkiffError } from '../../lib/index.js';
import { mountFs, unmount } from './host-tools.js';

export interface Mount {
  /** Filesystem type, e.g. `overlay`. */
  type: string;
  source: string;
  options: string[];
  /**
   * Directory relative paths in `options` are resolved from. The overlay names its lower
   * layers by short relative aliases so that the options fit in the kernel's one page.
   */
  cwd?: string;
}

/** The mount(2) data limit is one page. */
export const MAX_MOUNT_OPTIONS = 4095;

/** Mounts `mounts` on `target`, in order. */
export async function mountAll(mounts: readonly Mount[], target: string): Promise<void> {
  for (const m of mounts) {
    const options = m.options.join(',');
    if (options.length > MAX_MOUNT_OPTIONS) {
      throw new SkiffError('unsupported', `the ${m.type} mount options for ${target} exceed one page`);
    }
    await mountFs(m.type, m.source, options, target, m.cwd);
  }
}

/** Unmounts `target` if something is mounted there. */
export async function unmountAll(target: string): Promise<void> {
  if (await isMountPoint(target)) await unmount(target);
}

/** Whether `path` is a mount point, from /proc/self/mountinfo. */
export async function isMountPoint(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const escaped = path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return info.split('\n').some((line) => line.split(' ')[4] === escaped);
}
