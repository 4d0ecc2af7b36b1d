// daemon.log kept to a bounded size: the background node writes its log (and whatever
// else reaches its stdout and stderr: Node's warnings, a crash's stack) to a descriptor
// the starting command opened in append mode. A rotating stream library (pino-roll,
// rotating-file-stream) would own the file and miss what is not pino's, so the node
// rotates as logrotate's copytruncate does: once the file passes its size, daemon.log.N
// shift up (the oldest goes), daemon.log is copied to daemon.log.1 and truncated; the
// append-mode descriptor carries on at the start. Lines written between the copy and the
// truncation (a few milliseconds) are lost, as with copytruncate.
import { chmod, copyFile, rename, rm, stat, truncate } from 'node:fs/promises';
import type { Logger } from '../../lib/index.js';

export interface LogRotation {
  /** Rotate once daemon.log is this large. */
  maxBytes: number;
  /** Rotated files kept (daemon.log.1 … daemon.log.N). */
  keep: number;
  /** How often to look at the size (default 2 s: a stat costs next to nothing). */
  checkMs?: number;
}

/** Keeps `file` private (0600) and rotated by size until the returned stop is called. */
export function keepLogRotated(file: string, o: LogRotation, log: Logger): () => void {
  let busy = false;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      await chmod(file, 0o600);
      if ((await stat(file)).size >= o.maxBytes) await rotate(file, o.keep);
    } catch (e) {
      log.warn({ err: String(e), file }, 'could not rotate the log');
    } finally {
      busy = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), o.checkMs ?? 2000);
  timer.unref();
  return () => clearInterval(timer);
}

async function rotate(file: string, keep: number): Promise<void> {
  await rm(`${file}.${keep}`, { force: true });
  for (let i = keep - 1; i >= 1; i--) {
    await rename(`${file}.${i}`, `${file}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
  if (keep >= 1) {
    await copyFile(file, `${file}.1`);
    await chmod(`${file}.1`, 0o600);
  }
  await truncate(file, 0);
}
