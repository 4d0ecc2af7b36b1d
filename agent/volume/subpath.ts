// A volume's `subpath`, resolved inside the volume and pinned before anything mounts
// it. A volume's content is written by containers, so any component of the subpath may
// be a symlink a container planted (`ln -s / vol/x`), and may be swapped for one after
// a check (a container that has the volume mounted runs meanwhile).
//
// Node has no openat2(RESOLVE_BENEATH). Instead: open the subpath once (O_PATH: no
// read, any file type), ask the kernel where that open file really is
// (/proc/self/fd/N), refuse it unless it lies inside the volume, and bind-mount
// exactly that open file (through /proc/<pid>/fd/N, never its path again) onto a
// staging point in the container's run directory, which only root can reach. The
// runtime then mounts the staging point. A swap after the open changes nothing: the
// staged mount holds the object that was checked. Symlinks that stay inside the volume
// are followed, as the kernel would inside the container; one that leads out is refused
// with the subpath named, never clamped into something the user did not ask for.
import { closeSync, constants, fstatSync, openSync, readlinkSync } from 'node:fs';
import { mkdir, readdir, realpath, rm, rmdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SkiffError } from '../../lib/index.js';
import { isMountPoint } from './mount-points.js';
import { runCommand } from './run-command.js';

/** O_PATH (Linux, the same value on x86-64 and arm64); Node's fs.constants lacks it. */
const O_PATH = 0o10000000;

/** Where a container's staged subpaths live, under its run directory. */
export function subpathStagingDir(runDir: string): string {
  return join(runDir, 'subpaths');
}

/**
 * Bind-mounts `subpath` of the volume at `volumeDir` onto `<runDir>/subpaths/<index>`
 * and answers that path. Refuses a subpath that is missing or resolves outside the volume.
 */
export async function stageSubpath(
  volumeDir: string,
  subpath: string,
  runDir: string,
  index: number,
  what: string,
): Promise<string> {
  const clean = posix.normalize(subpath);
  if (clean.startsWith('/') || clean === '..' || clean.startsWith('../')) {
    throw new SkiffError('invalid_argument', `${what}: subpath '${subpath}' leaves the volume`);
  }
  const root = await realpath(volumeDir);
  let fd: number;
  try {
    fd = openSync(join(root, clean), O_PATH | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SkiffError(
      code === 'ENOENT' || code === 'ENOTDIR' ? 'invalid_argument' : 'internal',
      `${what}: subpath '${subpath}' cannot be opened in the volume (${code ?? (e as Error).message})`,
      { hint: 'create the subpath in the volume first', cause: e },
    );
  }
  try {
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (real !== root && !real.startsWith(`${root}/`)) {
      throw new SkiffError(
        'invalid_argument',
        `${what}: subpath '${subpath}' resolves outside the volume (through a symbolic link)`,
        { hint: 'a subpath must stay inside its volume; remove the link or name the directory it points to' },
      );
    }
    const dir = subpathStagingDir(runDir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const target = join(dir, String(index));
    if (fstatSync(fd).isDirectory()) await mkdir(target, { recursive: true });
    else await writeFile(target, '', { flag: 'a' });
    // The open file itself, not its path: --no-canonicalize keeps mount(8) from
    // turning the magic link back into a path.
    if (!(await isMountPoint(target)))
      await runCommand('mount', ['--no-canonicalize', '--bind', `/proc/${process.pid}/fd/${fd}`, target]);
    return target;
  } finally {
    closeSync(fd);
  }
}

/** Unmounts and removes a container's staged subpaths; idempotent. */
export async function releaseSubpaths(runDir: string): Promise<void> {
  const dir = subpathStagingDir(runDir);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  // Never a recursive removal: through a mount still in place it would empty the volume.
  for (const e of entries) {
    const p = join(dir, e);
    if (await isMountPoint(p)) await runCommand('umount', [p]);
    await rm(p, { force: true }).catch(() => rmdir(p));
  }
  await rmdir(dir);
}
