// A blob's bytes as its download receives them, for a consumer that works on them while
// they land (the snapshotter unpacks a layer during its download instead of reading the
// blob back from the store afterwards). Nothing here is verified: the consumer must not
// use its result before the blob's download has committed it under its digest.
//
// Until a consumer attaches, up to `BUFFER_BEFORE_ATTACH` bytes are kept; past that the
// download waits for it at most `ATTACH_WAIT_MS` (downloads of several pulls share slots:
// the wait is bounded so none can hold another's for good), then the live copy is
// abandoned, as it is when the download resumes from an offset, is retried, or finds the
// blob already stored: the consumer then reads the stored blob. Once a consumer reads, the
// download is paced by it (backpressure), and a consumer that stops releases the download.
import { Readable } from 'node:stream';
import { SkiffError } from '../../lib/index.js';

/** The live copy ended before the blob's last byte: read the stored blob once it is in. */
export class LiveBlobGone extends SkiffError {
  constructor(digest: string, why: string) {
    super('unavailable', `the live copy of blob ${digest} is not available: ${why}`);
  }
}

const BUFFER_BEFORE_ATTACH = 8 << 20;
const ATTACH_WAIT_MS = 2_000;
const HIGH_WATER_MARK = 2 << 20;

export class LiveBlob {
  private queue: Buffer[] = [];
  private queued = 0;
  private state: 'open' | 'ended' | 'gone' = 'open';
  private why = '';
  private stream: Readable | undefined;
  private resume: (() => void) | undefined;
  private attachTimer: NodeJS.Timeout | undefined;

  constructor(readonly digest: string) {}

  /**
   * The next bytes of the blob, in order from its first byte. A promise when the consumer
   * is behind: the download waits for it before it reads more.
   */
  push(chunk: Buffer): Promise<void> | undefined {
    if (this.state !== 'open') return undefined;
    const s = this.stream;
    if (!s) {
      this.queue.push(chunk);
      this.queued += chunk.length;
      if (this.queued <= BUFFER_BEFORE_ATTACH) return undefined;
      return new Promise<void>((resolve) => {
        this.resume = resolve;
        this.attachTimer = setTimeout(() => this.abandon('no consumer read it in time'), ATTACH_WAIT_MS);
      });
    }
    if (s.push(chunk)) return undefined;
    return new Promise<void>((resolve) => {
      this.resume = resolve;
    });
  }

  /** The download received the last byte (not verified yet). */
  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    this.stream?.push(null);
  }

  /** The live copy stops here (a resumed, retried or failed download): the consumer reads the store. */
  abandon(why: string): void {
    if (this.state === 'gone' || this.state === 'ended') return;
    this.state = 'gone';
    this.why = why;
    this.queue = [];
    this.queued = 0;
    this.stream?.destroy(new LiveBlobGone(this.digest, why));
    this.release();
  }

  /** The blob's bytes from the first, or undefined when the live copy is gone. */
  open(): Readable | undefined {
    if (this.stream || this.state === 'gone') return undefined;
    // Attached: from now on the download waits for this reader, however long it takes.
    clearTimeout(this.attachTimer);
    this.attachTimer = undefined;
    const stream = new Readable({
      highWaterMark: HIGH_WATER_MARK,
      read: () => this.release(),
    });
    // The consumer attaches to the stream after some awaits of its own (a directory to
    // make): an abandon meanwhile must not be an 'error' with no listener, which ends the
    // process. The error stays on the stream (`errored`): the consumer's read fails with it.
    stream.on('error', () => {});
    // A consumer that stops (its unpack failed) lets the download go on without it.
    stream.on('close', () => {
      if (this.state === 'open') this.abandon('its reader stopped');
    });
    this.stream = stream;
    for (const c of this.queue) stream.push(c);
    this.queue = [];
    this.queued = 0;
    if (this.state === 'ended') stream.push(null);
    return stream;
  }

  /** Why the live copy is gone ('' while it is not). */
  get goneWhy(): string {
    return this.state === 'gone' ? this.why : '';
  }

  private release(): void {
    clearTimeout(this.attachTimer);
    this.attachTimer = undefined;
    const r = this.resume;
    this.resume = undefined;
    r?.();
  }
}
