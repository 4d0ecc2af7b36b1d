// What one pull (or import) may bring onto the node. A registry, or an image, is
// untrusted input: a gzip bomb of a few KiB can unpack to terabytes, a layer can hold
// millions of empty files, a config blob can claim gigabytes. Each limit is a daemon
// setting; the defaults are far above real images (the largest public ones have layers of
// a few GiB and a few hundred thousand files) and far below a host's disk.
import { statfs } from 'node:fs/promises';
import { SkiffError } from '../../lib/index.js';

export interface PullLimits {
  /** Bytes of file content one layer may unpack to. */
  layerBytes: number;
  /** Bytes of file content the layers one pull unpacks may add up to. */
  imageBytes: number;
  /** Entries (files, directories, links, …) in one layer. */
  layerEntries: number;
  /** Size of the image config blob (a JSON document read into memory). */
  configBytes: number;
  /** Bytes left free on the file systems of the content store and the snapshots. */
  minFreeBytes: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const DEFAULT_PULL_LIMITS: PullLimits = {
  layerBytes: 32 * GiB,
  imageBytes: 64 * GiB,
  layerEntries: 1_000_000,
  configBytes: 8 * MiB,
  minFreeBytes: 256 * MiB,
};

/** The daemon setting each limit is configured by (for messages). */
export const PULL_LIMIT_SETTINGS: Record<keyof PullLimits, string> = {
  layerBytes: 'max-layer-size',
  imageBytes: 'max-image-size',
  layerEntries: 'max-layer-entries',
  configBytes: 'max-image-config-size',
  minFreeBytes: 'min-free-space',
};

/** Bytes an unprivileged writer may still use on the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/**
 * Refuses to start writing `needed` bytes into `dir` when that would leave less than
 * `minFree` free; answers how many bytes may be written.
 */
export async function checkFreeSpace(
  dir: string,
  needed: number,
  minFree: number,
  what: string,
): Promise<number> {
  const free = await freeBytes(dir);
  const usable = Math.max(0, free - minFree);
  if (needed > usable) {
    throw new SkiffError(
      'unavailable',
      `not enough free space to ${what}: it needs at least ${formatBytes(needed)}, ${formatBytes(free)} are free on the file system of ${dir} and ${formatBytes(minFree)} must stay free`,
      {
        hint: `free space there (skiff image prune), or lower the daemon setting ${PULL_LIMIT_SETTINGS.minFreeBytes}`,
      },
    );
  }
  return usable;
}

export function formatBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(1)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
