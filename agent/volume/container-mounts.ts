// Prepares the host side of a container's mounts: named volumes created on first use
// (filled from the image like Docker does when empty), bind sources checked, secrets
// written to a tmpfs mounted for this container alone (never to disk) and configs
// to the container's state directory, each bind-mounted read-only at its target.
import { chmod, chown, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Mount, SkiffError } from '../../lib/index.js';
import { isMountPoint } from './mount-points.js';
import { fileTarget, mountToOci, validateFile } from './mount-spec.js';
import { resolveInRoot } from './root-path.js';
import { runCommand } from './run-command.js';
import { releaseSubpaths, stageSubpath } from './subpath.js';
import type { ContainerFile, OciMount } from './types.js';
import type { VolumeManager } from './volume-manager.js';

export interface ContainerMountsRequest {
  containerId: string;
  /** The container's root filesystem (for a new volume's initial content). */
  rootfs: string;
  mounts: Mount[];
  files: ContainerFile[];
  /** Volatile per-container directory (under the run root): the secrets tmpfs goes here. */
  runDir: string;
  /** Persistent per-container directory: configs go here. */
  stateDir: string;
}

export async function prepareContainerMounts(
  volumes: VolumeManager,
  req: ContainerMountsRequest,
): Promise<OciMount[]> {
  for (const f of req.files) validateFile(f);
  const out: OciMount[] = [];
  for (const m of req.mounts) {
    if (m.Type === 'volume') {
      const name = m.Source || `anon-${req.containerId.slice(0, 12)}-${out.length}`;
      const driver = m.VolumeOptions?.DriverConfig?.Name;
      const v = await volumes.ensure(name, {
        ...(driver ? { driver } : {}),
        labels: m.VolumeOptions?.Labels ?? {},
      });
      await volumes.acquire(name, req.containerId);
      const subpath = m.VolumeOptions?.Subpath;
      if (subpath) {
        // Validated as a whole first, then resolved in the volume and pinned.
        const oci = mountToOci(m, v.Mountpoint);
        oci.source = await stageSubpath(
          v.Mountpoint,
          subpath,
          req.runDir,
          out.length,
          `volume mount on ${m.Target}`,
        );
        out.push(oci);
        continue;
      }
      if (!m.VolumeOptions?.NoCopy) await copyUp(req.rootfs, m.Target, v.Mountpoint);
      out.push(mountToOci(m, v.Mountpoint));
      continue;
    }
    const oci = mountToOci(m);
    if (m.Type === 'bind' && oci.source) {
      try {
        await stat(oci.source);
      } catch {
        if (!m.BindOptions?.CreateMountpoint) {
          throw new SkiffError(
            'invalid_argument',
            `bind mount on ${m.Target}: source path ${oci.source} does not exist`,
            {
              hint: 'create the host directory first, or use a named volume',
            },
          );
        }
        await mkdir(oci.source, { recursive: true });
      }
    }
    out.push(oci);
  }
  const secrets = req.files.filter((f) => f.kind === 'secret');
  const configs = req.files.filter((f) => f.kind === 'config');
  if (secrets.length > 0) {
    const dir = join(req.runDir, 'secrets');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const total = secrets.reduce((n, s) => n + s.data.length, 0);
    const size = Math.max(1 << 20, total * 2);
    if (!(await isMountPoint(dir))) {
      await runCommand('mount', [
        '-t',
        'tmpfs',
        '-o',
        `nosuid,nodev,noexec,mode=0700,size=${size}`,
        'tmpfs',
        dir,
      ]);
    }
    out.push(...(await writeFiles(dir, secrets)));
  }
  if (configs.length > 0) {
    const dir = join(req.stateDir, 'configs');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    out.push(...(await writeFiles(dir, configs)));
  }
  return out;
}

/** Undoes prepareContainerMounts: unmounts the secrets tmpfs and drops volume references. Idempotent. */
export async function releaseContainerMounts(
  volumes: VolumeManager,
  req: { containerId: string; runDir: string },
): Promise<void> {
  const dir = join(req.runDir, 'secrets');
  if (await isMountPoint(dir)) await runCommand('umount', [dir]);
  await rm(dir, { recursive: true, force: true });
  await releaseSubpaths(req.runDir);
  await volumes.releaseAll(req.containerId);
}

async function writeFiles(dir: string, files: ContainerFile[]): Promise<OciMount[]> {
  const out: OciMount[] = [];
  let i = 0;
  for (const f of files) {
    const destination = fileTarget(f);
    const path = join(dir, `${i++}`);
    await writeFile(path, f.data, { mode: 0o600 });
    await chown(path, f.uid, f.gid);
    await chmod(path, f.mode);
    out.push({ destination, type: 'bind', source: path, options: ['bind', 'rprivate', 'ro'] });
  }
  return out;
}

async function copyUp(rootfs: string, target: string, volumeDir: string): Promise<void> {
  const src = await resolveInRoot(rootfs, target);
  let entries: string[];
  try {
    if (!(await stat(src)).isDirectory()) return;
    entries = await readdir(src);
  } catch {
    return;
  }
  if (entries.length === 0 || (await readdir(volumeDir)).length > 0) return;
  await runCommand('cp', ['-a', `${src}/.`, `${volumeDir}/`]);
}
