// A service's CPU and memory over the last minutes, for its page's charts. The server
// reads the node's `/skiff/services/{id}/stats` every few seconds, but only while a page
// of that service asks (a page polls; a service nobody asked about for `idleMs` is no
// longer read), and keeps a bounded history per service for a bounded number of services.
import type { Logger, ServiceStats } from '../../lib/index.js';
import { StatsHistory, type StatsPoint } from '../model/index.js';
import { getJson, type Upstream } from './upstream.js';

export interface StatsView {
  /** Oldest first, within the window. */
  points: StatsPoint[];
  /** Nodes that did not answer the last read: their tasks are missing from it. */
  unreachable: { nodeId: string; message: string }[];
  /** Why the last read failed, if it did. */
  error?: string;
  intervalMs: number;
  windowMs: number;
}

export interface StatsSamplerOptions {
  /** Between two reads of a watched service (default 3 s). */
  intervalMs?: number;
  /** How far back the charts go (default 5 min). */
  windowMs?: number;
  /** A service no page asked about for this long is no longer read (default 15 s). */
  idleMs?: number;
  /** Services with a history; past it the least recently watched is forgotten (default 32). */
  maxServices?: number;
  now?: () => number;
}

interface Watched {
  history: StatsHistory;
  lastWatched: number;
  timer: NodeJS.Timeout | undefined;
  reading: Promise<void> | undefined;
  unreachable: StatsView['unreachable'];
  error: string | undefined;
}

export class StatsSampler {
  private readonly watched = new Map<string, Watched>();
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private readonly idleMs: number;
  private readonly maxServices: number;
  private readonly now: () => number;

  constructor(
    private readonly upstream: Upstream,
    private readonly log: Logger,
    o: StatsSamplerOptions = {},
  ) {
    this.intervalMs = o.intervalMs ?? 3000;
    this.windowMs = o.windowMs ?? 5 * 60_000;
    this.idleMs = o.idleMs ?? 15_000;
    this.maxServices = o.maxServices ?? 32;
    this.now = o.now ?? Date.now;
  }

  /** The service's points so far; reading it (again) for as long as it is asked for. */
  async watch(id: string): Promise<StatsView> {
    let w = this.watched.get(id);
    if (!w) {
      w = {
        // A little more than the window: the read interval drifts under load.
        history: new StatsHistory(Math.ceil((this.windowMs / this.intervalMs) * 1.2) + 1),
        lastWatched: 0,
        timer: undefined,
        reading: undefined,
        unreachable: [],
        error: undefined,
      };
      this.watched.set(id, w);
    }
    w.lastWatched = this.now();
    this.forgetBeyondBound();
    if (!w.timer) {
      const entry = w;
      entry.timer = setInterval(() => this.tick(id, entry), this.intervalMs);
      entry.timer.unref();
      // A page that opens gets its first point now rather than after an interval.
      await this.read(id, entry);
    } else if (w.reading) {
      await w.reading;
    }
    const since = this.now() - this.windowMs;
    return {
      points: w.history.points.filter((p) => p.t >= since),
      unreachable: w.unreachable,
      ...(w.error !== undefined ? { error: w.error } : {}),
      intervalMs: this.intervalMs,
      windowMs: this.windowMs,
    };
  }

  /** Services read now (tests). */
  get reading(): string[] {
    return [...this.watched].filter(([, w]) => w.timer !== undefined).map(([id]) => id);
  }

  close(): void {
    for (const w of this.watched.values()) if (w.timer) clearInterval(w.timer);
    this.watched.clear();
  }

  private tick(id: string, w: Watched): void {
    if (this.now() - w.lastWatched > this.idleMs) {
      // No page asks any more: stop reading; the history stays for a page that comes back.
      clearInterval(w.timer);
      w.timer = undefined;
      return;
    }
    void this.read(id, w);
  }

  private read(id: string, w: Watched): Promise<void> {
    // A slow node answer is not stacked up behind another read.
    w.reading ??= (async () => {
      try {
        const s = await getJson<ServiceStats>(
          this.upstream,
          `/skiff/services/${encodeURIComponent(id)}/stats`,
        );
        w.history.add(s);
        w.unreachable = s.unreachable;
        w.error = undefined;
      } catch (e) {
        w.error = e instanceof Error ? e.message : String(e);
        this.log.debug({ serviceId: id, err: w.error }, 'service stats read failed');
      } finally {
        w.reading = undefined;
      }
    })();
    return w.reading;
  }

  private forgetBeyondBound(): void {
    while (this.watched.size > this.maxServices) {
      let oldest: [string, Watched] | undefined;
      for (const e of this.watched) if (!oldest || e[1].lastWatched < oldest[1].lastWatched) oldest = e;
      if (!oldest) return;
      if (oldest[1].timer) clearInterval(oldest[1].timer);
      this.watched.delete(oldest[0]);
    }
  }
}
