// Host devices a container is given: the ones its spec maps (`devices:`, Docker's
// `--device`; a directory maps every device under it) and, for a privileged container,
// every device of the host's /dev, as runc's GetDevices walks it. Reads the host.
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type DeviceMapping, deviceProblem, SkiffError } from '../../lib/index.js';
import type { ContainerDevice } from './oci-config.js';

/** Directories of /dev that hold no devices a container may take over (as runc skips them). */
const SKIPPED_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Linux's dev_t encoding (glibc's gnu_dev_major / gnu_dev_minor). */
function majorMinor(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

function deviceOf(st: BigIntStats, path: string, access: string): ContainerDevice | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  return {
    path,
    type,
    ...majorMinor(st.rdev),
    fileMode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    access,
  };
}

/** Every device under `dir` (symlinks and the skipped directories left out), placed under `target`. */
async function walk(dir: string, target: string, access: string, out: ContainerDevice[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isDirectory()) {
      if (!SKIPPED_DIRS.has(e.name)) await walk(join(dir, e.name), join(target, e.name), access, out);
      continue;
    }
    if (e.name === 'console' || e.isSymbolicLink()) continue;
    const st = await lstat(join(dir, e.name), { bigint: true }).catch(() => undefined);
    const d = st && deviceOf(st, join(target, e.name), access);
    if (d) out.push(d);
  }
}

/** Every device of the host's /dev, for a privileged container. */
export async function allHostDevices(): Promise<ContainerDevice[]> {
  const out: ContainerDevice[] = [];
  await walk('/dev', '/dev', 'rwm', out);
  return out;
}

/** The host devices a spec maps; a missing one is an error naming it. */
export async function mappedDevices(mappings: readonly DeviceMapping[]): Promise<ContainerDevice[]> {
  const out: ContainerDevice[] = [];
  for (const m of mappings) {
    const problem = deviceProblem(m);
    if (problem) throw new SkiffError('invalid_argument', problem);
    const access = m.CgroupPermissions || 'rwm';
    let st: BigIntStats;
    try {
      st = await stat(m.PathOnHost, { bigint: true });
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new SkiffError(
        'invalid_argument',
        `device ${m.PathOnHost}: ${code === 'ENOENT' ? 'no such device on this node' : String(e)}`,
        { hint: 'map a device the node has, or constrain the service to nodes that have it' },
      );
    }
    if (st.isDirectory()) {
      await walk(m.PathOnHost, m.PathInContainer, access, out);
      continue;
    }
    const d = deviceOf(st, m.PathInContainer, access);
    if (!d) throw new SkiffError('invalid_argument', `${m.PathOnHost} is not a device`);
    out.push(d);
  }
  return out;
}
