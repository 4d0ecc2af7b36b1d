// Unpacks one layer tarball into an empty directory, hardened: every path is checked
// before anything is written, writes never follow a symlink (parents are only ever
// directories this extraction made, final components are created with O_EXCL), and
// OCI whiteouts become overlay whiteouts. The caller extracts into a temporary
// directory and removes it if this throws, so a bad layer leaves nothing behind.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import {
  chmod,
  type FileHandle,
  lchown,
  link,
  lutimes,
  mkdir,
  open,
  rm,
  symlink,
  utimes,
} from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError } from '../../lib/index.js';
import { mknod, restoreXattrs } from './host-tools.js';
import {
  ancestors,
  attrDumpBlock,
  checkSymlinkTarget,
  classifyWhiteout,
  cleanEntryPath,
  cleanHardlinkTarget,
  escapes,
} from './layer-paths.js';
import { readTar, type TarEntry } from './tar-reader.js';

type Kind = 'dir' | 'file' | 'symlink' | 'other';

export interface ExtractOptions {
  /** The layer's name in messages (its digest). */
  layer: string;
  /** Expected digest of the uncompressed tar; checked after the last byte. */
  diffId?: string;
  /** Directory on the same file system for the shared whiteout device. */
  scratchDir: string;
  /** Limits on what the layer writes (none when absent). */
  budget?: ExtractBudget;
}

/**
 * What layers may write: `left` bytes of file content shared by the layers of one unpack
 * (taken from as they are written), and per-layer caps on bytes and entries.
 */
export interface ExtractBudget {
  left: number;
  layerBytes: number;
  layerEntries: number;
  /** The error when `left` runs out (it says whether the limit or the disk ran out). */
  exceeded(layer: string): SkiffError;
}

export interface ExtractStats {
  entries: number;
  bytes: number;
  whiteouts: number;
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Extracts the uncompressed tar `stream` into `dest` (an existing empty directory). */
export async function extractLayer(
  stream: Readable,
  dest: string,
  opts: ExtractOptions,
): Promise<ExtractStats> {
  const { layer } = opts;
  const kinds = new Map<string, Kind>([['', 'dir']]);
  const dirTimes: { path: string; mtime: number }[] = [];
  const xattrs = new Map<string, Record<string, Buffer>>();
  const stats: ExtractStats = { entries: 0, bytes: 0, whiteouts: 0 };
  let whiteoutDevice: string | undefined;
  let file: FileHandle | undefined;
  let pendingFile: { abs: string; entry: TarEntry } | undefined;
  const hash = createHash('sha256');

  const setXattr = (path: string, name: string, value: Buffer) => {
    const abs = join(dest, path);
    const attrs = xattrs.get(abs) ?? {};
    attrs[name] = value;
    xattrs.set(abs, attrs);
  };

  // Makes the parents of `path`; refuses to pass through anything but directories.
  const ensureParents = async (path: string, raw: string) => {
    for (const dir of ancestors(path)) {
      const kind = kinds.get(dir);
      if (kind === 'dir') continue;
      if (kind === 'symlink') throw escapes(layer, `${raw} (through the symlink ${dir})`);
      if (kind !== undefined) {
        throw new SkiffError(
          'invalid_argument',
          `layer ${layer} puts ${raw} below ${dir}, which is not a directory`,
        );
      }
      await mkdir(join(dest, dir), { mode: 0o755 });
      kinds.set(dir, 'dir');
    }
  };

  // Removes what an earlier entry of this layer put at `path` (later entries win).
  const clearPath = async (path: string, keepDir: boolean) => {
    const kind = kinds.get(path);
    if (kind === undefined || (keepDir && kind === 'dir')) return;
    await rm(join(dest, path), { recursive: true, force: true });
    for (const k of [...kinds.keys()]) {
      if (k === path || k.startsWith(`${path}/`)) {
        kinds.delete(k);
        xattrs.delete(join(dest, k));
      }
    }
  };

  const owner = async (abs: string, e: TarEntry) => {
    await lchown(abs, e.uid, e.gid);
  };

  const { budget } = opts;
  const handleEntry = async (e: TarEntry) => {
    stats.entries++;
    if (budget && stats.entries > budget.layerEntries) {
      throw new SkiffError(
        'invalid_argument',
        `layer ${layer} has more than ${budget.layerEntries} entries, the limit`,
        {
          hint: 'raise the daemon setting max-layer-entries if the image is genuine',
        },
      );
    }
    const path = cleanEntryPath(e.path, layer);
    if (path === '') return; // the `./` entry: the layer root keeps the snapshot's own metadata
    const wh = classifyWhiteout(path);
    if (wh.kind === 'meta') return;
    if (wh.kind === 'opaque') {
      await ensureParents(`${wh.dir}/x`.replace(/^\//, ''), e.path);
      if (wh.dir !== '' && !kinds.has(wh.dir)) {
        await mkdir(join(dest, wh.dir), { mode: 0o755 });
        kinds.set(wh.dir, 'dir');
      }
      if (kinds.get(wh.dir) !== 'dir')
        throw new SkiffError(
          'invalid_argument',
          `layer ${layer} marks ${wh.dir} opaque but it is not a directory`,
        );
      setXattr(wh.dir, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    if (wh.kind === 'whiteout') {
      await ensureParents(wh.target, e.path);
      await clearPath(wh.target, false);
      if (!whiteoutDevice) {
        whiteoutDevice = join(
          opts.scratchDir,
          `whiteout-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
        );
        await mknod(whiteoutDevice, 'c', 0, 0, 0o000);
      }
      await link(whiteoutDevice, join(dest, wh.target));
      kinds.set(wh.target, 'other');
      stats.whiteouts++;
      return;
    }

    await ensureParents(path, e.path);
    const abs = join(dest, path);
    await createEntry(e, path, abs);
    for (const [name, value] of Object.entries(e.xattrs)) {
      // overlay's own attributes in a layer would confuse the mount: never take them from input.
      if (!name.startsWith('trusted.overlay.')) setXattr(path, name, value);
    }
  };

  const createEntry = async (e: TarEntry, path: string, abs: string) => {
    switch (e.type) {
      case 'dir': {
        await clearPath(path, true);
        if (kinds.get(path) !== 'dir') await mkdir(abs, { mode: 0o700 });
        kinds.set(path, 'dir');
        await owner(abs, e);
        await chmod(abs, e.mode);
        dirTimes.push({ path: abs, mtime: e.mtime });
        return;
      }
      case 'file': {
        await clearPath(path, false);
        file = await open(abs, WRITE_FLAGS, 0o600);
        pendingFile = { abs, entry: e };
        kinds.set(path, 'file');
        return;
      }
      case 'symlink': {
        checkSymlinkTarget(path, e.linkpath, layer);
        await clearPath(path, false);
        await symlink(e.linkpath, abs);
        kinds.set(path, 'symlink');
        await owner(abs, e);
        await lutimes(abs, e.mtime, e.mtime);
        return;
      }
      case 'hardlink': {
        const target = cleanHardlinkTarget(path, e.linkpath, layer);
        const targetKind = kinds.get(target);
        if (targetKind === undefined || targetKind === 'dir') {
          throw new SkiffError(
            'invalid_argument',
            `layer ${layer} hard-links ${path} to ${e.linkpath}, which is not a file earlier in the layer`,
          );
        }
        for (const dir of ancestors(target))
          if (kinds.get(dir) !== 'dir') throw escapes(layer, `${path} => ${e.linkpath}`);
        if (target === path) return;
        await clearPath(path, false);
        await link(join(dest, target), abs);
        kinds.set(path, targetKind);
        return;
      }
      case 'chardev':
      case 'blockdev':
      case 'fifo': {
        await clearPath(path, false);
        await mknod(
          abs,
          e.type === 'fifo' ? 'p' : e.type === 'chardev' ? 'c' : 'b',
          e.devmajor,
          e.devminor,
          0o600,
        );
        kinds.set(path, 'other');
        await owner(abs, e);
        await chmod(abs, e.mode);
        await utimes(abs, e.mtime, e.mtime);
        return;
      }
    }
  };

  const source = (async function* () {
    for await (const chunk of stream) {
      hash.update(chunk as Buffer);
      yield chunk as Buffer;
    }
  })();

  try {
    await readTar(source, {
      entry: handleEntry,
      data: async (chunk) => {
        stats.bytes += chunk.length;
        if (budget) {
          if (stats.bytes > budget.layerBytes) {
            throw new SkiffError(
              'invalid_argument',
              `layer ${layer} unpacks to more than ${budget.layerBytes} bytes, the layer size limit`,
              { hint: 'raise the daemon setting max-layer-size if the image is genuine' },
            );
          }
          budget.left -= chunk.length;
          if (budget.left < 0) throw budget.exceeded(layer);
        }
        if (file) await file.write(chunk);
      },
      end: async () => {
        if (!file || !pendingFile) return;
        const { abs, entry } = pendingFile;
        await file.chown(entry.uid, entry.gid);
        await file.chmod(entry.mode); // after chown, which clears set-id bits
        await file.utimes(entry.mtime, entry.mtime);
        await file.close();
        file = undefined;
        pendingFile = undefined;
        void abs;
      },
    });
  } finally {
    await file?.close().catch(() => undefined);
    if (whiteoutDevice) await rm(whiteoutDevice, { force: true });
  }
  if (opts.diffId) {
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== opts.diffId) {
      throw new SkiffError(
        'corrupt',
        `layer ${layer} does not match its diff ID: expected ${opts.diffId}, got ${got}`,
        {
          hint: 'the stored blob is damaged or the image config is wrong; remove the image and pull it again',
        },
      );
    }
  }
  let dump = '';
  for (const [abs, attrs] of xattrs) dump += attrDumpBlock(abs, attrs);
  await restoreXattrs(dump);
  // Directory times last: creating entries inside a directory changes its mtime.
  for (const { path, mtime } of dirTimes.reverse()) await utimes(path, mtime, mtime);
  return stats;
}
