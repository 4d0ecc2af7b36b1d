// Keeps the browsers' pages current. The node's `/events` stream names every change to a
// service, node, network, secret or config, but not task progress (a replica starting
// or dying changes no service object): after an event, and while any service is short
// of replicas or mid-rollout, the services' status is re-read every POLL_BUSY_MS and a
// change is announced as a service event; otherwise every POLL_IDLE_MS as a safety net.
// Browsers get small "something changed" messages and refetch what they show. The node's
// own containers' events (with Swarm's task labels) become task events.
import type { Logger, Service } from '../../lib/index.js';
import { taskEvent } from '../model/index.js';
import { getJson, type Upstream } from './upstream.js';

export interface LiveChange {
  type: string;
  action: string;
  id: string;
  name?: string;
  /** A task event's service (ID and name) and, on `die`, its exit code. */
  service?: string;
  serviceName?: string;
  exitCode?: string;
}

export type LiveMessage =
  | { event: 'change'; data: LiveChange }
  | { event: 'resync'; data: { reason: string } };

const POLL_BUSY_MS = 500;
const POLL_IDLE_MS = 5_000;
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5_000;

export class LiveHub {
  private readonly listeners = new Set<(m: LiveMessage) => void>();
  private readonly stop = new AbortController();
  private digest = new Map<string, string>();
  private busy = true;
  /** Counts kicks, so that one arriving while a poll is under way is not lost. */
  private kicks = 0;
  private wake: (() => void) | undefined;
  private readonly loops: Promise<void>[] = [];

  constructor(
    private readonly upstream: Upstream,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.loops.push(this.followEvents(), this.pollStatus());
  }

  async close(): Promise<void> {
    this.stop.abort();
    this.wake?.();
    this.listeners.clear();
    await Promise.allSettled(this.loops);
  }

  listen(fn: (m: LiveMessage) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  private send(m: LiveMessage): void {
    for (const l of [...this.listeners]) l(m);
  }

  /** Reads the node's event stream, reconnecting; a reconnect tells browsers to refetch. */
  private async followEvents(): Promise<void> {
    let delay = RECONNECT_MIN_MS;
    let connectedBefore = false;
    const signal = this.stop.signal;
    while (!signal.aborted) {
      try {
        const res = await this.upstream.request({ method: 'GET', path: '/events', signal });
        if (res.statusCode !== 200) throw new Error(`GET /events: HTTP ${res.statusCode}`);
        if (connectedBefore) this.send({ event: 'resync', data: { reason: 'events stream reconnected' } });
        connectedBefore = true;
        delay = RECONNECT_MIN_MS;
        this.kick();
        let rest = '';
        for await (const chunk of res.body) {
          const lines = (rest + (chunk as Buffer).toString('utf8')).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) if (line.trim() !== '') this.onUpstreamEvent(line);
        }
        this.log.debug('the node closed its events stream');
      } catch (e) {
        if (signal.aborted) return;
        this.log.debug({ err: e }, 'events stream failed');
      }
      if (signal.aborted) return;
      await sleep(delay, signal);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    }
  }

  private onUpstreamEvent(line: string): void {
    let e: { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    // A task's container on this node: announced as the task's event.
    const task = taskEvent(e);
    if (task) {
      this.send({ event: 'change', data: task });
      this.kick();
      return;
    }
    const name = e.Actor?.Attributes?.name;
    this.send({
      event: 'change',
      data: {
        type: e.Type ?? 'unknown',
        action: e.Action ?? 'update',
        id: e.Actor?.ID ?? '',
        ...(name ? { name } : {}),
      },
    });
    this.kick();
  }

  /** Polls the services' status: fast right after a change and while anything converges. */
  private async pollStatus(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      if (this.listeners.size > 0 || this.busy) {
        const kicks = this.kicks;
        try {
          const services = await getJson<Service[]>(this.upstream, '/services?status=true', signal);
          this.compare(services);
          // A change announced while this poll was under way may not be in what it read
          // (a scale whose new task is not running yet): poll again soon, not after the idle pause.
          if (this.kicks !== kicks) this.busy = true;
        } catch (e) {
          if (signal.aborted) return;
          this.log.debug({ err: e }, 'polling the services failed');
        }
      }
      await this.pause(this.busy ? POLL_BUSY_MS : POLL_IDLE_MS);
    }
  }

  private compare(services: Service[]): void {
    const next = new Map<string, string>();
    let busy = false;
    for (const s of services) {
      const st = s.ServiceStatus;
      const u = s.UpdateStatus?.State;
      if ((st && st.RunningTasks !== st.DesiredTasks) || u === 'updating' || u === 'rollback_started')
        busy = true;
      next.set(s.ID, `${st?.RunningTasks}/${st?.DesiredTasks}/${u}/${s.Version.Index}`);
    }
    for (const [id, d] of next) {
      if (this.digest.get(id) !== d)
        this.send({ event: 'change', data: { type: 'service', action: 'status', id } });
    }
    for (const id of this.digest.keys()) {
      if (!next.has(id)) this.send({ event: 'change', data: { type: 'service', action: 'remove', id } });
    }
    this.digest = next;
    this.busy = busy;
  }

  /** Something changed: poll at once and keep polling fast until all is settled. */
  private kick(): void {
    this.kicks++;
    this.busy = true;
    this.wake?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((done) => {
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        done();
      }
      this.wake = finish;
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      done();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish, { once: true });
  });
}
