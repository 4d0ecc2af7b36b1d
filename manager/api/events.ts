import type { Store, StoreEvent } from '../store/index.js';
import type { Filters } from './filters.js';
import { anyOf, labelsMatch } from './filters.js';

/** An event as `GET /events` streams it (the Docker engine's events message). */
export interface DockerEvent {
  Type: 'service' | 'node' | 'network' | 'secret' | 'config' | 'container';
  /** Cluster objects: create, update, remove; containers: create, start, die, destroy, `health_status: …`. */
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  /** `swarm` for the cluster's objects, `local` for this node's containers. */
  scope: 'swarm' | 'local';
  time: number;
  timeNano: number;
}

const TYPE_OF: Partial<Record<StoreEvent['table'], DockerEvent['Type']>> = {
  services: 'service',
  nodes: 'node',
  networks: 'network',
  secrets: 'secret',
  configs: 'config',
};

/**
 * A client that stops reading `/events` is dropped once this much is waiting for it: a
 * healthy reader never gets near it, and the daemon's memory does not follow a stuck one.
 */
export const MAX_EVENTS_BUFFERED_BYTES = 4 << 20;

/**
 * Turns store changes into Docker events and keeps the recent ones so `since` can
 * replay them. Times are this manager's clock when the change was applied here.
 */
export class EventLog {
  private readonly recent: DockerEvent[] = [];
  private readonly listeners = new Set<(e: DockerEvent) => void>();
  private readonly unsubscribe: () => void;

  private readonly unsubscribeLocal: () => void;

  /**
   * `local`: this node's own events (its containers), added to the same stream and
   * ring as the store's changes.
   */
  constructor(
    store: Store,
    private readonly clock: () => Date,
    private readonly keep = 2048,
    /** Unread bytes an `/events` client may leave buffered before it is dropped. */
    readonly maxBufferedBytes = MAX_EVENTS_BUFFERED_BYTES,
    local?: LocalEventSource,
  ) {
    this.unsubscribe = store.subscribe((e) => this.onChange(e));
    this.unsubscribeLocal = local ? local((e) => this.add(e)) : () => {};
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Recent events at or after `sinceNano` (oldest first). */
  since(sinceNano: number): DockerEvent[] {
    return this.recent.filter((e) => e.timeNano >= sinceNano);
  }

  listen(fn: (e: DockerEvent) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  close(): void {
    this.unsubscribe();
    this.unsubscribeLocal();
    this.listeners.clear();
  }

  private onChange(e: StoreEvent): void {
    const type = TYPE_OF[e.table];
    if (!type) return;
    const ms = this.clock().getTime();
    const attrs: Record<string, string> = {};
    const spec = (e.object as { Spec?: { Name?: string; Labels?: Record<string, string> } }).Spec;
    if (e.table === 'nodes') {
      const n = e.object as { Description?: { Hostname?: string }; Spec: { Name?: string } };
      attrs.name = n.Spec.Name || n.Description?.Hostname || '';
    } else if (spec?.Name) attrs.name = spec.Name;
    for (const [k, v] of Object.entries(spec?.Labels ?? {})) if (!(k in attrs)) attrs[k] = v;
    if (e.table === 'services' && e.kind === 'update' && e.old) {
      const r = (s: unknown) =>
        (s as { Spec: { Mode?: { Replicated?: { Replicas?: number } } } }).Spec.Mode?.Replicated?.Replicas;
      const before = r(e.old);
      const after = r(e.object);
      if (before !== after && before !== undefined && after !== undefined) {
        attrs['replicas.old'] = String(before);
        attrs['replicas.new'] = String(after);
      }
    }
    const ev: DockerEvent = {
      Type: type,
      Action: e.kind === 'delete' ? 'remove' : e.kind,
      Actor: { ID: e.object.ID, Attributes: attrs },
      scope: 'swarm',
      time: Math.floor(ms / 1000),
      timeNano: ms * 1e6,
    };
    this.add(ev);
  }

  private add(ev: DockerEvent): void {
    this.recent.push(ev);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
    for (const l of [...this.listeners]) l(ev);
  }
}

/** A source of node-local events: subscribes `emit`, returns the unsubscribe. */
export type LocalEventSource = (emit: (e: DockerEvent) => void) => () => void;

export const EVENT_FILTERS = [
  'container',
  'type',
  'event',
  'service',
  'node',
  'network',
  'secret',
  'config',
  'label',
  'scope',
] as const;

/** Docker's event filter semantics: each given key must match, any of its values. */
export function eventMatches(e: DockerEvent, f: Filters): boolean {
  const actor = (v: string) => e.Actor.ID === v || e.Actor.ID.startsWith(v) || e.Actor.Attributes.name === v;
  return (
    anyOf(f, 'type', (v) => v === e.Type) &&
    anyOf(f, 'event', (v) => v === e.Action) &&
    anyOf(f, 'scope', (v) => v === e.scope) &&
    (e.Type !== 'service' || anyOf(f, 'service', actor)) &&
    (!f.has('service') || e.Type === 'service') &&
    (e.Type !== 'node' || anyOf(f, 'node', actor)) &&
    (!f.has('node') || e.Type === 'node') &&
    (e.Type !== 'network' || anyOf(f, 'network', actor)) &&
    (!f.has('network') || e.Type === 'network') &&
    (e.Type !== 'secret' || anyOf(f, 'secret', actor)) &&
    (!f.has('secret') || e.Type === 'secret') &&
    (e.Type !== 'config' || anyOf(f, 'config', actor)) &&
    (!f.has('config') || e.Type === 'config') &&
    (e.Type !== 'container' || anyOf(f, 'container', actor)) &&
    (!f.has('container') || e.Type === 'container') &&
    labelsMatch(f, 'label', e.Actor.Attributes)
  );
}

/** Docker's `since`/`until`: unix seconds with an optional fraction ("1700000000.5"); returns nanoseconds. */
export function parseEventTime(raw: unknown): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !/^\d{1,12}(\.\d{1,9})?$/.test(raw)) return Number.NaN;
  const [sec, frac = ''] = raw.split('.');
  return Number(sec) * 1e9 + Number(frac.padEnd(9, '0'));
}
