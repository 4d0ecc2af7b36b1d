// How much of the disk a directory takes, as `du -sbx` counts it (apparent sizes of every
// entry, the directory itself included, a hard-linked file once, not descending into
// other filesystems): `skiff system df` and `system prune` report it. Mounted container
// root filesystems and volumes bound elsewhere are another filesystem and not counted.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes under `path` (0 when it does not exist). */
export async function diskUsage(path: string): Promise<number> {
  const seen = new Set<string>();
  let root: Awaited<ReturnType<typeof lstat>>;
  try {
    root = await lstat(path, { bigint: false });
  } catch (e) {
    if (isGone(e)) return 0;
    throw e;
  }
  const dev = root.dev;
  let total = 0;
  const walk = async (p: string, st: Awaited<ReturnType<typeof lstat>>): Promise<void> => {
    if (st.nlink > 1 && !st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    total += Number(st.size);
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = await readdir(p);
    } catch (e) {
      if (isGone(e)) return;
      throw e;
    }
    for (const name of names) {
      const child = join(p, name);
      let cst: Awaited<ReturnType<typeof lstat>>;
      try {
        cst = await lstat(child);
      } catch (e) {
        if (isGone(e)) continue; // removed while walking
        throw e;
      }
      // Another filesystem (a mounted rootfs): du -x leaves it out, mount point and all.
      if (cst.dev !== dev) continue;
      await walk(child, cst);
    }
  };
  await walk(path, root);
  return total;
}

function isGone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
