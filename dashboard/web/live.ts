// Keeps a page's data current: loads it, reloads it (coalesced) when the server's event
// stream says something changed, and reloads everything when the stream reconnects,
// since changes may have been missed meanwhile.
import { useEffect, useRef, useState } from 'preact/hooks';

export type Connection = 'connecting' | 'live' | 'reconnecting';

type Listener = (kind: 'change' | 'resync') => void;
const listeners = new Set<Listener>();
let source: EventSource | undefined;
let connection: Connection = 'connecting';
const connectionListeners = new Set<(c: Connection) => void>();

function setConnection(c: Connection): void {
  connection = c;
  for (const l of [...connectionListeners]) l(c);
}

function ensureSource(): void {
  if (source) return;
  source = new EventSource('/api/events');
  source.onopen = () => {
    setConnection('live');
    for (const l of [...listeners]) l('resync');
  };
  source.onerror = () => setConnection('reconnecting');
  source.addEventListener('change', (e) => {
    recordEvent((e as MessageEvent<string>).data);
    for (const l of [...listeners]) l('change');
  });
  source.addEventListener('resync', () => {
    for (const l of [...listeners]) l('resync');
  });
}

export interface ChangeNotice {
  at: number;
  type: string;
  action: string;
  id: string;
  name?: string;
  /** A task event's service (ID, name) and, on `die`, its exit code. */
  service?: string;
  serviceName?: string;
  exitCode?: string;
}
const MAX_EVENTS = 500;
const recent: ChangeNotice[] = [];
const eventListeners = new Set<() => void>();

function recordEvent(data: string): void {
  try {
    const e = JSON.parse(data) as Omit<ChangeNotice, 'at'>;
    recent.push({ at: Date.now(), ...e });
    if (recent.length > MAX_EVENTS) recent.splice(0, recent.length - MAX_EVENTS);
    for (const l of [...eventListeners]) l();
  } catch {
    // not ours
  }
}

/** The change notices received since the page opened, newest first (at most MAX_EVENTS). */
export function useRecentEvents(): ChangeNotice[] {
  const [events, setEvents] = useState<ChangeNotice[]>(() => [...recent].reverse());
  useEffect(() => {
    ensureSource();
    let frame = 0;
    const update = () => {
      if (frame === 0)
        frame = requestAnimationFrame(() => {
          frame = 0;
          setEvents([...recent].reverse());
        });
    };
    eventListeners.add(update);
    return () => {
      eventListeners.delete(update);
      if (frame !== 0) cancelAnimationFrame(frame);
    };
  }, []);
  return events;
}

export function useConnection(): Connection {
  const [c, setC] = useState(connection);
  useEffect(() => {
    ensureSource();
    connectionListeners.add(setC);
    return () => {
      connectionListeners.delete(setC);
    };
  }, []);
  return c;
}

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
}

/** `load()`'s result, loaded again after changes (at most one load at a time, bursts coalesced). */
export function useLive<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ data: undefined, error: undefined });
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let alive = true;
    let running = false;
    let again = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          try {
            const data = await loadRef.current();
            if (alive) setState({ data, error: undefined });
          } catch (e) {
            if (alive) setState((s) => ({ data: s.data, error: (e as Error).message }));
          }
        } while (again && alive);
      } finally {
        running = false;
      }
    };
    const onEvent: Listener = (kind) => {
      if (kind === 'resync') {
        void run();
        return;
      }
      // A burst of changes becomes one reload.
      if (timer === undefined)
        timer = setTimeout(() => {
          timer = undefined;
          void run();
        }, 50);
    };
    ensureSource();
    listeners.add(onEvent);
    // Loads start once the change stream is open (its opening says "resync" to every
    // listener), so no change falls between a load and the stream; a page opened later
    // loads at once.
    if (connection === 'live') void run();
    return () => {
      alive = false;
      listeners.delete(onEvent);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, deps);
  return state;
}
