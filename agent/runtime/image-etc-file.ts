// Reads one of an image's account files (/etc/passwd, /etc/group) from the host, as
// untrusted input: the image (or, for exec, the running container) chose what sits at
// that path. Only a regular file of bounded size inside the rootfs is read; a FIFO would
// block a libuv thread forever, a device could be anything, a huge file costs memory.
import { constants } from 'node:fs';
import { open, readlink, realpath } from 'node:fs/promises';
import { SkiffError } from '../../lib/index.js';
import { resolveInRoot } from '../volume/index.js';

/** More than any real account database; what docker's libcontainer/user reads is unbounded. */
export const MAX_ETC_FILE_BYTES = 1 << 20;

/** The file's text, '' when the image has none. */
export async function readImageEtcFile(rootfs: string, path: string): Promise<string> {
  // Symlinks inside the image resolve inside the rootfs, never on the host's.
  const host = await resolveInRoot(rootfs, path);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: a link swapped in after resolving is refused, not followed.
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    fh = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return '';
    throw refused(path, code === 'ELOOP' ? 'it changed into a symbolic link while being read' : String(code));
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw refused(path, `it is ${kindOf(st)}, not a regular file`);
    // A directory of the path swapped for a link after resolving would lead out of the
    // rootfs: check where the opened file really is.
    const where = await readlink(`/proc/self/fd/${fh.fd}`);
    const root = await realpath(rootfs);
    if (!where.startsWith(`${root}/`)) throw refused(path, 'it resolves outside the container root');
    if (st.size > MAX_ETC_FILE_BYTES) throw refused(path, tooBig(st.size));
    // The size may grow after fstat (a running container writing it): read until the end,
    // at most one byte more than allowed to notice. The buffer starts at the file's size
    // (a 1 MiB one zero-filled twice per container was most of a start's garbage).
    let buf = Buffer.allocUnsafe(Math.min(st.size + 1, MAX_ETC_FILE_BYTES + 1));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (buf.length > MAX_ETC_FILE_BYTES) break;
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, MAX_ETC_FILE_BYTES + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > MAX_ETC_FILE_BYTES) throw refused(path, tooBig(n));
    return buf.subarray(0, n).toString('utf8');
  } finally {
    await fh.close();
  }
}

function tooBig(bytes: number): string {
  return `it is larger than ${MAX_ETC_FILE_BYTES} bytes (${bytes})`;
}

function refused(path: string, why: string): SkiffError {
  return new SkiffError('invalid_argument', `the image's ${path} cannot be read: ${why}`, {
    hint: `make ${path} a regular file of at most 1 MiB in the image, or give the user as a numeric uid[:gid]`,
  });
}

function kindOf(st: {
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  isDirectory(): boolean;
}): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}
