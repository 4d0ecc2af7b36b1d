// A path inside a container, found on the host for `docker cp`. The container's files
// are the container's to write: any component may be a symlink it planted (`ln -s /
// x`), and an absolute one means the container's `/`, never the host's. So the path is
// walked here one component at a time with lstat: a symlink is read and resolved
// inside the container's root (`..` stops at that root), as the kernel would resolve it
// inside the container, never followed by the host's kernel. As with volume subpaths
// (agent/volume/subpath.ts), what the walk found is then checked where the kernel
// really put it (the open file's /proc/self/fd link) when the root is a plain directory.
import { closeSync, constants, openSync, readlinkSync } from 'node:fs';
import { lstat, readlink, realpath } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { SkiffError } from '../../lib/index.js';

/** O_PATH (Linux); Node's fs.constants lacks it. */
const O_PATH = 0o10000000;
const MAX_LINKS = 40;

export interface ContainerPath {
  /** The host path of the directory holding the entry. */
  parent: string;
  /** The entry's name in it ('' for the container's root itself). */
  name: string;
}

/**
 * Where `path` (absolute, in the container) is under `root` (the container's root as the
 * host sees it). The last component is not followed when it is a symlink (docker cp
 * copies the link), unless the path ends with `/` or `/.`. Missing components are
 * Docker's 404.
 */
export async function resolveContainerPath(root: string, path: string, what: string): Promise<ContainerPath> {
  if (!path.startsWith('/'))
    throw new SkiffError('invalid_argument', `${what}: the path must be absolute: ${path.slice(0, 200)}`);
  const follow = path.endsWith('/') || path.endsWith('/.');
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  const last = follow ? undefined : parts.pop();
  const dir = await walk(root, parts, path);
  if (last === undefined || last === '..') {
    // The directory itself: named by its own last component, under its parent.
    const resolved = last === '..' ? dir.slice(0, -1) : dir;
    const name = resolved.at(-1) ?? '';
    const parent = join(root, ...resolved.slice(0, -1));
    await pinned(root, parent, path);
    return { parent, name };
  }
  const parent = join(root, ...dir);
  await pinned(root, parent, path);
  try {
    await lstat(join(parent, last));
  } catch {
    throw notFound(path);
  }
  return { parent, name: last };
}

/** The components, below root, of the directory `parts` leads to. */
async function walk(root: string, parts: string[], whole: string): Promise<string[]> {
  const cur: string[] = [];
  const todo = [...parts];
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift() as string;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      cur.pop();
      continue;
    }
    const p = join(root, ...cur, c);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(p);
    } catch {
      throw notFound(whole);
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS)
        throw new SkiffError(
          'invalid_argument',
          `too many levels of symbolic links in ${whole.slice(0, 200)}`,
        );
      const target = await readlink(p);
      if (target.startsWith('/')) cur.length = 0;
      todo.unshift(...target.split('/'));
      continue;
    }
    if (!st.isDirectory()) throw notFound(whole);
    cur.push(c);
  }
  return cur;
}

/**
 * The directory the walk found is where the kernel finds it now (a swap to a symlink
 * meanwhile is refused). Through /proc/PID/root the open file's link names the
 * container's mount namespace, so there the walk's lstat checks stand alone.
 */
async function pinned(root: string, dir: string, whole: string): Promise<void> {
  if (root.startsWith('/proc/')) return;
  const realRoot = await realpath(root);
  let fd: number;
  try {
    fd = openSync(dir, O_PATH | constants.O_NOCTTY | constants.O_DIRECTORY);
  } catch {
    throw notFound(whole);
  }
  try {
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (real !== realRoot && !real.startsWith(`${realRoot}/`))
      throw new SkiffError('invalid_argument', `${whole.slice(0, 200)} resolves outside the container`);
  } finally {
    closeSync(fd);
  }
}

function notFound(path: string): SkiffError {
  return new SkiffError('not_found', `Could not find the file ${posix.normalize(path)} in container`);
}
