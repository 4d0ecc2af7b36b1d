// Reads a container's k8s-file log: all of it, the tail, from a time on, and — with
// follow — what conmon appends next, across conmon's size rotation (it replaces the
// file with a fresh one), until the container stops or the caller aborts.
import { type FileHandle, open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineAssembler, parseLogRecord, parseLogText } from './k8s-log.js';
import type { LogEntry, LogOptions } from './types.js';

const POLL_MS = 100;

/**
 * `wake`, when given, resolves when the container may have stopped (its exit event), so
 * a follower ends with it rather than at its next poll: `docker run`'s attached output
 * ends there.
 */
export async function* readLogs(
  path: string,
  opts: LogOptions,
  isRunning: () => Promise<boolean>,
  wake?: () => Promise<void>,
): AsyncGenerator<LogEntry> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
  } catch {
    fh = undefined;
  }
  let ino = fh ? (await fh.stat()).ino : -1;
  let offset = 0;
  const asm = new LineAssembler();
  const since = opts.since;
  if (fh) {
    const whole = await fh.readFile();
    // Only complete lines now; a torn last line is read again while following.
    const lastNl = whole.lastIndexOf(0x0a);
    offset = lastNl + 1;
    const entries = parseLogText(whole.subarray(0, offset).toString('utf8'), {
      ...(since ? { since } : {}),
      ...(opts.tail !== undefined ? { tail: opts.tail } : {}),
    });
    for (const e of entries) yield e;
  }
  if (!opts.follow) {
    await fh?.close();
    return;
  }
  let pending = '';
  try {
    for (;;) {
      if (opts.signal?.aborted) return;
      let grew = false;
      if (fh) {
        const { bytesRead, buffer } = await fh.read({ buffer: Buffer.alloc(64 * 1024), position: offset });
        if (bytesRead > 0) {
          grew = true;
          offset += bytesRead;
          pending += buffer.subarray(0, bytesRead).toString('utf8');
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const line of lines) {
            const r = parseLogRecord(line);
            if (!r) continue;
            const e = asm.push(r);
            if (e && (!since || e.time >= since)) yield e;
          }
        }
      }
      if (grew) continue;
      // Rotated or created since we opened it?
      const now = await stat(path).catch(() => undefined);
      if (now && now.ino !== ino) {
        await fh?.close();
        fh = await open(path, 'r');
        ino = (await fh.stat()).ino;
        offset = 0;
        pending = '';
        continue;
      }
      if (!(await isRunning())) {
        // One last read after the exit, then stop.
        if (fh) {
          const { bytesRead } = await fh.read({ buffer: Buffer.alloc(1), position: offset });
          if (bytesRead > 0) continue;
        }
        return;
      }
      const poll = new AbortController();
      const stop = () => poll.abort();
      opts.signal?.addEventListener('abort', stop, { once: true });
      await Promise.race([
        sleep(POLL_MS, undefined, { signal: poll.signal }).catch(() => undefined),
        ...(wake ? [wake()] : []),
      ]);
      poll.abort();
      opts.signal?.removeEventListener('abort', stop);
    }
  } finally {
    await fh?.close();
  }
}
