// Resolves a path inside a container's root filesystem the way the kernel would after
// chroot: symlinks are followed but can never lead outside the root. Used before
// touching an image's files from the host (reading /etc/passwd, creating the working
// directory, copying a volume's initial content).
import { lstat, mkdir, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { SkiffError } from '../../lib/index.js';

const MAX_LINKS = 40;

/** The host path for `path` inside `root`; components that do not exist are kept as they are. */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = posix
    .normalize(`/${path}`)
    .split('/')
    .filter((p) => p !== '');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = posix.join(root, ...resolved, part);
    let isLink = false;
    try {
      isLink = (await lstat(host)).isSymbolicLink();
    } catch {
      // Missing: the rest cannot contain links yet.
      resolved.push(part, ...pending.filter((p) => p !== '.'));
      return posix.join(root, ...normalizeParts(resolved));
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_LINKS) {
      throw new SkiffError(
        'invalid_argument',
        `too many symbolic links resolving '${path}' in the container's root`,
      );
    }
    const target = await readlink(host);
    const targetParts = target.split('/').filter((p) => p !== '');
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...targetParts);
  }
  return posix.join(root, ...resolved);
}

function normalizeParts(parts: string[]): string[] {
  const out: string[] = [];
  for (const p of parts) {
    if (p === '..') out.pop();
    else if (p !== '.') out.push(p);
  }
  return out;
}

/** Creates `path` (and parents) inside the root, never outside it; returns the host path. */
export async function mkdirInRoot(root: string, path: string, mode = 0o755): Promise<string> {
  const host = await resolveInRoot(root, path);
  await mkdir(host, { recursive: true, mode });
  return host;
}
