// Whether a path is a mount point in this process's mount table.
import { readFile } from 'node:fs/promises';

export async function isMountPoint(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  // mountinfo escapes space, tab, newline and backslash as octal.
  const escaped = path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return mounts.split('\n').some((line) => line.split(' ')[4] === escaped);
}
