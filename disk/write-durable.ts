// The one way skiff replaces a state file that must survive a crash: written aside (with
// its final mode from the start: a key is never readable by others, not even briefly),
// fsynced, renamed over the old one, and the directory fsynced so that the rename itself
// is durable. A reader or a crash sees the old file or the new one, never a mix, never
// neither.
//
// Ours rather than write-file-atomic: that library fsyncs the file but not the directory
// after the rename, which is the step that makes the new name durable.
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface DurableWriteOptions {
  /** The file's mode (default 0600: state is private unless said otherwise). */
  mode?: number;
}

// The pid and a counter keep live writers apart, a random part a restarted process with the
// same pid from its predecessor's leftovers (opened with 'wx'). Math.random, not node:crypto:
// every CLI command reaches this module through node/index, and crypto costs it ms to load.
let written = 0;
function tmpName(file: string): string {
  const rand = Math.floor(Math.random() * 0x100000000).toString(16);
  return join(dirname(file), `.${basename(file)}.${process.pid}.${++written}.${rand}.tmp`);
}

/** Replaces `file` with `data` durably (see above). On failure the old file is left as it was. */
export function writeFileDurable(
  file: string,
  data: string | Uint8Array,
  opts: DurableWriteOptions = {},
): Promise<void> {
  return writeAside(file, data, opts.mode ?? 0o600, true);
}

/**
 * Replaces `file` with `data` written aside and renamed over it, without the fsyncs: a
 * reader or a crash of the process sees the old file or the new one, but a power loss may
 * bring back the old one. For state that a power loss makes moot anyway (a container's
 * start time: the container does not survive it).
 */
export function replaceFile(
  file: string,
  data: string | Uint8Array,
  opts: DurableWriteOptions = {},
): Promise<void> {
  return writeAside(file, data, opts.mode ?? 0o600, false);
}

/** Writes `data` to a temporary file beside `file` and renames it over `file`, with fsyncs when `durable`. */
async function writeAside(
  file: string,
  data: string | Uint8Array,
  mode: number,
  durable: boolean,
): Promise<void> {
  const tmp = tmpName(file);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.chmod(mode); // the umask may have narrowed it
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  if (durable) await syncDir(dirname(file));
}

/** The same, synchronously: for callers whose records are small and whose thread-pool round trips cost more. */
export function writeFileDurableSync(
  file: string,
  data: string | Uint8Array,
  opts: DurableWriteOptions = {},
): void {
  const mode = opts.mode ?? 0o600;
  const tmp = tmpName(file);
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      fchmodSync(fd, mode);
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let done = 0;
      while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = openSync(dirname(file), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** Makes the entries of `dir` (a file created, renamed or removed in it) durable. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
