import type { EventKind, StoreEvent, TableName } from './tables.js';

export interface WatchFilter {
  tables?: readonly TableName[];
  kinds?: readonly EventKind[];
}

export function matchesWatchFilter(e: StoreEvent, f: WatchFilter | undefined): boolean {
  if (!f) return true;
  if (f.tables && !f.tables.includes(e.table)) return false;
  if (f.kinds && !f.kinds.includes(e.kind)) return false;
  return true;
}

/**
 * A stream of store events as an async iterable. Events queue until read (a consumer
 * that stops reading must `close()`); iteration ends after `close()`.
 */
export class Watch implements AsyncIterable<StoreEvent> {
  private queue: StoreEvent[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(private readonly onClose: () => void) {}

  /** Called by the store for each matching event. */
  push(e: StoreEvent): void {
    if (this.closed) return;
    this.queue.push(e);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StoreEvent> {
    try {
      while (true) {
        const e = this.queue.shift();
        if (e) {
          yield e;
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      this.close();
    }
  }
}
