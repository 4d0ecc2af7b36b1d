// A busybox root filesystem as a plain directory (the snapshotter's output stands in
// for it in these tests): the fixture image's base layer written to disk.
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { busyboxRootfsEntries } from '../../fixtures/index.js';

/** Writes a busybox rootfs into a new temp directory; returns its path. */
export async function makeBusyboxRootfs(
  extra: { path: string; content: string; mode?: number }[] = [],
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-rootfs-'));
  // mkdtemp makes it 0700; a non-root container user must be able to walk it.
  await chmod(dir, 0o755);
  for (const e of busyboxRootfsEntries()) {
    const p = join(dir, e.path);
    switch (e.type) {
      case 'dir':
        await mkdir(p, { recursive: true, mode: e.mode ?? 0o755 });
        if (e.uid !== undefined) await chown(p, e.uid, e.gid ?? 0);
        break;
      case 'file':
        await mkdir(dirname(p), { recursive: true });
        await writeFile(p, e.content, { mode: e.mode ?? 0o644 });
        break;
      case 'symlink':
        await symlink(e.target, p);
        break;
      default:
        break;
    }
  }
  for (const f of extra) {
    await mkdir(dirname(join(dir, f.path)), { recursive: true });
    await writeFile(join(dir, f.path), f.content, { mode: f.mode ?? 0o644 });
  }
  return dir;
}

export async function removeRootfs(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
