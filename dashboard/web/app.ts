// The dashboard's pages: a header with the node and the connection, and a page per route
// (#/ services, #/services/ID a service, #/cluster the nodes).
import { html } from 'htm/preact';
import { memo } from 'preact/compat';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  COMPOSE_SOURCE_MAX_BYTES,
  type Network,
  type Node,
  type SecretSpec,
  type Service,
  type Task,
} from '../../lib/index.js';
import {
  bytes,
  type NodeRow,
  networkNames,
  nodeRows,
  rolloutRows,
  type ServiceRow,
  serviceRow,
  serviceRows,
  stackRows,
  taskRows,
  type WrittenSpec,
  writtenSpec,
} from '../model/index.js';
import { action, node, own } from './api.js';
import { ServiceCharts } from './charts.js';
import { type ChangeNotice, useConnection, useLive, useRecentEvents } from './live.js';

interface Info {
  Name?: string;
  ServerVersion?: string;
}
interface Progress {
  done: number;
  total: number;
}

type Route =
  | { page: 'services' }
  | { page: 'service'; id: string }
  | { page: 'cluster' }
  | { page: 'stacks' }
  | { page: 'objects' }
  | { page: 'events' };

function parseRoute(hash: string): Route {
  const m = /^#\/services\/([^/]+)$/.exec(hash);
  if (m?.[1]) return { page: 'service', id: decodeURIComponent(m[1]) };
  if (hash === '#/cluster') return { page: 'cluster' };
  if (hash === '#/stacks') return { page: 'stacks' };
  if (hash === '#/objects') return { page: 'objects' };
  if (hash === '#/events') return { page: 'events' };
  return { page: 'services' };
}

export function App() {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => {
      const next = parseRoute(location.hash);
      setRoute((r) => (JSON.stringify(r) === JSON.stringify(next) ? r : next));
    };
    addEventListener('hashchange', onHash);
    // The hash may have changed between the first render and this effect (a link followed
    // as the page came up): that event is gone, so read the hash once more.
    onHash();
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const connection = useConnection();
  const info = useLive(() => node<Info>('/info'), []);
  const current = (page: Route['page']) => (route.page === page ? 'page' : undefined);
  return html`
    <header class="top">
      <a class="brand" href="#/">skiff</a>
      <span class="node" title="the node this dashboard talks to">
        <span class="label">node</span> <strong id="hostname">${info.data?.Name ?? '…'}</strong>
      </span>
      <nav aria-label="pages">
        <a href="#/" aria-current=${current('services') ?? current('service')}>Services</a>
        <a href="#/stacks" aria-current=${current('stacks')}>Stacks</a>
        <a href="#/cluster" aria-current=${current('cluster')}>Cluster</a>
        <a href="#/objects" aria-current=${current('objects')} title="networks, volumes, secrets and configs">Objects</a>
        <a href="#/events" aria-current=${current('events')}>Events</a>
      </nav>
      <span class=${`conn ${connection}`} role="status">${connection}</span>
    </header>
    <main>
      ${
        route.page === 'service'
          ? html`<${ServicePage} key=${route.id} id=${route.id} />`
          : html`<${PAGES[route.page]} />`
      }
    </main>
  `;
}

// ---------------------------------------------------------------- services

function ServicesPage() {
  const services = useLive(async () => {
    const [list, networks] = await Promise.all([
      node<Service[]>('/services?status=true'),
      node<Network[]>('/networks'),
    ]);
    return serviceRows(list, networkNames(networks));
  }, []);
  const rollouts = useLive(() => own<Record<string, Progress>>('/rollouts'), []);
  const [scaling, setScaling] = useState<ServiceRow | undefined>(undefined);
  const rows = useSliced(services.data);
  const shown = useProgressive(rows?.length ?? 0);
  return html`
    <h1>Services</h1>
    ${services.error ? html`<p class="error" role="alert">${services.error}</p>` : null}
    ${
      rows === undefined
        ? html`<p class="loading">Loading…</p>`
        : rows.length === 0
          ? html`<p class="empty">No services.</p>`
          : html`<div class="grid services" role="table" aria-label="services" aria-rowcount=${rows.length + 1}>
            <div class="grid-head" role="row">
              <span role="columnheader">Name</span><span role="columnheader">Mode</span><span role="columnheader">Replicas</span><span role="columnheader">Image</span><span role="columnheader">Ports</span><span role="columnheader">Networks</span><span role="columnheader">Update</span><span role="columnheader"><span class="sr-only">Actions</span></span>
            </div>
            ${rows
              .slice(0, shown)
              .map(
                (r) =>
                  html`<${ServiceLine} key=${r.id} row=${r} progress=${rollouts.data?.[r.id]} onScale=${setScaling} />`,
              )}
          </div>`
    }
    ${scaling ? html`<${ScaleDialog} row=${scaling} onClose=${() => setScaling(undefined)} />` : null}
  `;
}

const FIRST_ROWS = 60;
const ROWS_PER_FRAME = 120;

/**
 * How many of `total` rows to render: a first screenful at once, the rest a slice per
 * frame, so a page of 1,000 services is usable at once and never blocks for long.
 */
function useProgressive(total: number): number {
  const [shown, setShown] = useState(FIRST_ROWS);
  useEffect(() => {
    if (shown >= total) return;
    const frame = requestAnimationFrame(() => setShown((n) => n + ROWS_PER_FRAME));
    return () => cancelAnimationFrame(frame);
  }, [shown, total]);
  return shown;
}

/**
 * New rows taken in a slice per frame: after a burst every one of 1,000 rows may have
 * changed, and re-rendering them all at once is one long task. Until its turn a row keeps
 * its last version (rows that are new, or were not shown before, come at once), so each
 * frame re-renders at most ROWS_PER_FRAME rows.
 */
function useSliced(rows: ServiceRow[] | undefined): ServiceRow[] | undefined {
  const [shown, setShown] = useState(rows);
  const shownRef = useRef(shown);
  shownRef.current = shown;
  useEffect(() => {
    const prev = shownRef.current;
    if (rows === undefined || prev === undefined) {
      setShown(rows);
      return;
    }
    const before = new Map(prev.map((r) => [r.id, r]));
    let upTo = 0;
    let frame = 0;
    const step = () => {
      upTo += ROWS_PER_FRAME;
      setShown(upTo >= rows.length ? rows : rows.map((r, i) => (i < upTo ? r : (before.get(r.id) ?? r))));
      if (upTo < rows.length) frame = requestAnimationFrame(step);
    };
    step();
    return () => cancelAnimationFrame(frame);
  }, [rows]);
  return shown;
}

/** A row re-renders only when what it shows changed (a burst of events rebuilds every row object). */
const ServiceLine = memo(
  ServiceLineView,
  (a, b) => sameRow(a.row, b.row) && sameProgress(a.progress, b.progress),
);

function sameRow(a: ServiceRow, b: ServiceRow): boolean {
  return (
    a.id === b.id &&
    a.version === b.version &&
    a.replicas === b.replicas &&
    a.networks.join() === b.networks.join() &&
    a.update?.state === b.update?.state &&
    a.update?.message === b.update?.message
  );
}

function sameProgress(a: Progress | undefined, b: Progress | undefined): boolean {
  return a?.done === b?.done && a?.total === b?.total;
}

function ServiceLineView({
  row,
  progress,
  onScale,
}: {
  row: ServiceRow;
  progress: Progress | undefined;
  onScale: (r: ServiceRow) => void;
}) {
  return html`<div class="grid-row" role="row" data-service=${row.name}>
    <span role="cell" class="name" data-label="Name"><a href=${`#/services/${encodeURIComponent(row.id)}`}>${row.name}</a></span>
    <span role="cell" class="mode" data-label="Mode">${row.mode}</span>
    <span role="cell" class=${`replicas${row.short ? ' short' : ''}`} data-label="Replicas">${row.replicas}</span>
    <span role="cell" class="image" data-label="Image">${row.image}</span>
    <span role="cell" class="ports" data-label="Ports">${row.ports.join(', ')}</span>
    <span role="cell" class="networks" data-label="Networks">${row.networks.join(', ')}</span>
    <span role="cell" class="update" data-label="Update"><${UpdateState} row=${row} progress=${progress} /></span>
    <span role="cell" class="actions">
      ${row.mode === 'replicated' ? html`<button type="button" class="scale" onClick=${() => onScale(row)}>Scale</button>` : null}
    </span>
  </div>`;
}

function UpdateState({ row, progress }: { row: ServiceRow; progress: Progress | undefined }) {
  const u = row.update;
  if (!u) return null;
  return html`<span class="rollout">
    <span class=${`state ${u.state}`} title=${u.message}>${u.state.replace('_', ' ')}</span>
    ${
      u.active && progress
        ? html` <progress max=${progress.total} value=${progress.done} aria-label="rollout progress"></progress>
          <span class="progress-text">${progress.done}/${progress.total}</span>`
        : null
    }
  </span>`;
}

function ScaleDialog({ row, onClose }: { row: ServiceRow; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [value, setValue] = useState(String(row.desired));
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await action(`/services/${encodeURIComponent(row.id)}/scale`, { replicas: Number(value) });
      onClose();
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return html`<dialog ref=${ref} class="confirm" onClose=${onClose} aria-labelledby="scale-title">
    <form onSubmit=${submit}>
      <h2 id="scale-title">Scale ${row.name}</h2>
      <p>It runs ${row.replicas} now.</p>
      <label>Replicas <input name="replicas" type="number" min="0" max="10000" required value=${value}
        onInput=${(e: Event) => setValue((e.target as HTMLInputElement).value)} /></label>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <div class="buttons">
        <button type="button" class="cancel" onClick=${() => ref.current?.close()}>Cancel</button>
        <button type="submit" class="confirm" disabled=${busy}>Scale to ${value}</button>
      </div>
    </form>
  </dialog>`;
}

interface Confirmation {
  title: string;
  text: string;
  label: string;
  run: () => Promise<void>;
}

/** An action's "are you sure?": nothing happens until its button is pressed. */
function ConfirmDialog({ c, onClose }: { c: Confirmation; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await c.run();
      onClose();
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return html`<dialog ref=${ref} class="confirm" onClose=${onClose} aria-labelledby="confirm-title">
    <form onSubmit=${submit}>
      <h2 id="confirm-title">${c.title}</h2>
      <p>${c.text}</p>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <div class="buttons">
        <button type="button" class="cancel" onClick=${() => ref.current?.close()}>Cancel</button>
        <button type="submit" class="confirm" disabled=${busy}>${c.label}</button>
      </div>
    </form>
  </dialog>`;
}

// ---------------------------------------------------------------- a service

function ServicePage({ id }: { id: string }) {
  const data = useLive(async () => {
    const filters = encodeURIComponent(JSON.stringify({ service: [id] }));
    const [services, tasks, nodes, networks, rollouts] = await Promise.all([
      node<Service[]>(`/services?status=true&filters=${encodeURIComponent(JSON.stringify({ id: [id] }))}`),
      node<Task[]>(`/tasks?filters=${filters}`),
      node<Node[]>('/nodes'),
      node<Network[]>('/networks'),
      own<Record<string, Progress>>(`/rollouts?service=${encodeURIComponent(id)}`),
    ]);
    const service = services.find((s) => s.ID === id) ?? services[0];
    return {
      service,
      tasks,
      nodes,
      networks: networkNames(networks),
      progress: service ? rollouts[service.ID] : undefined,
    };
  }, [id]);
  const [scaling, setScaling] = useState<ServiceRow | undefined>(undefined);
  const [confirm, setConfirm] = useState<Confirmation | undefined>(undefined);
  const s = data.data?.service;
  if (data.data && !s) return html`<p><a href="#/">← Services</a></p><p class="empty">No service ${id}.</p>`;
  if (!s || !data.data) return html`<p class="loading">Loading…</p>`;
  const row = serviceRow(s, data.data.networks);
  const now = Date.now();
  const tasks = taskRows(s, data.data.tasks, data.data.nodes, now);
  const rollouts = rolloutRows(s, now);
  const sid = encodeURIComponent(s.ID);
  return html`
    <p><a href="#/">← Services</a></p>
    <h1 class="service-name">${row.name}</h1>
    ${data.error ? html`<p class="error" role="alert">${data.error}</p>` : null}
    <dl class="facts" data-service=${row.name}>
      <div><dt>Mode</dt><dd>${row.mode}</dd></div>
      <div><dt>Replicas</dt><dd class=${`replicas${row.short ? ' short' : ''}`}>${row.replicas}</dd></div>
      <div><dt>Image</dt><dd class="image">${row.image}</dd></div>
      <div><dt>Ports</dt><dd>${row.ports.join(', ') || '—'}</dd></div>
      <div><dt>Networks</dt><dd class="networks">${row.networks.join(', ') || '—'}</dd></div>
      <div><dt>Update</dt><dd class="update"><${UpdateState} row=${row} progress=${data.data.progress} />${row.update ? '' : '—'}</dd></div>
    </dl>
    <div class="toolbar">
      ${row.mode === 'replicated' ? html`<button type="button" class="scale" onClick=${() => setScaling(row)}>Scale</button>` : null}
      <button type="button" class="force-update" onClick=${() =>
        setConfirm({
          title: `Force an update of ${row.name}`,
          text: 'Every task is replaced, following the service’s update settings.',
          label: 'Force update',
          run: () => action(`/services/${sid}/force-update`, {}),
        })}>Force update</button>
      ${
        s.PreviousSpec
          ? html`<button type="button" class="rollback" onClick=${() =>
              setConfirm({
                title: `Roll ${row.name} back`,
                text: 'The service returns to its previous spec.',
                label: 'Roll back',
                run: () => action(`/services/${sid}/rollback`, {}),
              })}>Roll back</button>`
          : null
      }
      <button type="button" class="remove danger" onClick=${() =>
        setConfirm({
          title: `Remove ${row.name}`,
          text: 'Its tasks are stopped and the service is deleted.',
          label: 'Remove',
          run: async () => {
            await action(`/services/${sid}/remove`, {});
            location.hash = '#/';
          },
        })}>Remove</button>
    </div>
    <h2>Usage</h2>
    <${ServiceCharts} id=${s.ID} />
    <h2>Tasks</h2>
    <table class="tasks">
      <thead><tr><th>Task</th><th>State</th><th>Desired</th><th>Node</th><th>Error</th><th>Age</th></tr></thead>
      <tbody>
        ${tasks.map(
          (t) => html`<tr key=${t.id} data-task=${t.id} class=${t.current ? 'current' : 'old'}>
            <td data-label="Task">${t.name}</td>
            <td data-label="State" class=${`task-state ${t.state}`}>${t.state}</td>
            <td data-label="Desired">${t.desired}</td>
            <td data-label="Node">${t.node}</td>
            <td data-label="Error" class="error">${t.error}</td>
            <td data-label="Age">${t.age}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    <h2>Task events</h2>
    <${TaskEvents} service=${s.ID} />
    <h2>Rollouts</h2>
    ${
      rollouts.length === 0
        ? html`<p class="empty">No rollout yet.</p>`
        : html`<table class="rollouts">
      <thead><tr><th>Kind</th><th>Outcome</th><th>Image</th><th>Started</th><th>Finished</th><th>Took</th><th>Message</th></tr></thead>
      <tbody>
        ${rollouts.map(
          (r) => html`<tr key=${r.startedAt}>
            <td data-label="Kind">${r.kind}</td>
            <td data-label="Outcome" class=${`outcome ${r.outcomeClass}`}>${r.outcome}</td>
            <td data-label="Image" class="image">${r.image}</td>
            <td data-label="Started"><time datetime=${r.startedAt}>${new Date(r.startedAt).toLocaleString()}</time></td>
            <td data-label="Finished">${r.finishedAt ? html`<time datetime=${r.finishedAt}>${new Date(r.finishedAt).toLocaleString()}</time>` : '—'}</td>
            <td data-label="Took">${r.took}</td>
            <td data-label="Message">${r.message}</td>
          </tr>`,
        )}
      </tbody>
    </table>`
    }
    <h2>Logs</h2>
    <${Logs} id=${s.ID} />
    <h2>Spec</h2>
    <${SpecAsWritten} spec=${writtenSpec(s, data.data.networks)} />
    <details class="spec">
      <summary>As the node keeps it</summary>
      <p class="muted">The spec as last submitted, with the defaults the node filled in, networks, secrets and configs named by ID, and skiff’s own labels.</p>
      <pre>${JSON.stringify(s.Spec, null, 2)}</pre>
    </details>
    ${scaling ? html`<${ScaleDialog} row=${scaling} onClose=${() => setScaling(undefined)} />` : null}
    ${confirm ? html`<${ConfirmDialog} c=${confirm} onClose=${() => setConfirm(undefined)} />` : null}
  `;
}

/** The spec as its user wrote it: the compose file's sections, or the fields set through the API. */
function SpecAsWritten({ spec }: { spec: WrittenSpec }) {
  if (spec.kind === 'fields') {
    return html`<section class="spec-written" data-kind="fields">
      <p class="muted">As submitted through the API (<code>service create</code>/<code>update</code>), without Docker’s defaults and empty fields; networks by name.</p>
      ${spec.problem ? html`<p class="warn">The compose text of this service cannot be shown: ${spec.problem}</p>` : null}
      <pre>${spec.text}</pre>
    </section>`;
  }
  return html`<section class="spec-written" data-kind="compose">
    <p class="muted">As written in the compose ${spec.parts.length > 1 ? 'files (merged in this order)' : 'file'} at the deploy that last changed it: comments kept, <code>\${VAR}</code> not replaced.</p>
    ${spec.parts.map(
      (p) => html`<figure class="source" key=${`${p.file}:${p.line}`}>
        <figcaption><code class="file">${p.file}</code>, line ${p.line}</figcaption>
        <pre>${p.text}</pre>
      </figure>`,
    )}
    ${
      spec.truncatedFrom !== undefined
        ? html`<p class="warn truncated">Cut at ${bytes(COMPOSE_SOURCE_MAX_BYTES)}: the sections hold ${bytes(spec.truncatedFrom)}; the rest is in the file.</p>`
        : null
    }
  </section>`;
}

const MAX_TASK_EVENTS = 20;

/** What the node's own containers of this service did since the page opened, newest first. */
function TaskEvents({ service }: { service: string }) {
  const events = useRecentEvents()
    .filter((e) => e.type === 'task' && e.service === service)
    .slice(0, MAX_TASK_EVENTS);
  if (events.length === 0)
    return html`<p class="empty">None since this page opened (only the node this dashboard talks to reports its tasks’ containers).</p>`;
  return html`<table class="task-events">
    <thead><tr><th>Time</th><th>Task</th><th>Event</th></tr></thead>
    <tbody>${events.map(
      (
        e,
        i,
      ) => html`<tr key=${events.length - i}><td data-label="Time">${new Date(e.at).toLocaleTimeString()}</td>
        <td data-label="Task">${e.name ?? e.id.slice(0, 12)}</td><td data-label="Event" class="event">${eventAction(e)}</td></tr>`,
    )}</tbody>
  </table>`;
}

function eventAction(e: ChangeNotice): string {
  return e.exitCode === undefined ? e.action : `${e.action} (exit ${e.exitCode})`;
}

interface LogLine {
  stream: 'stdout' | 'stderr';
  time: string;
  task: string;
  text: string;
}
const MAX_LOG_LINES = 1000;

/** The service's log lines from every node, as they come. */
function Logs({ id }: { id: string }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const es = new EventSource(`/api/services/${encodeURIComponent(id)}/logs?tail=200`);
    let pending: LogLine[] = [];
    let frame = 0;
    // The server sends the tail again on each (re)connection.
    es.addEventListener('hello', () => {
      pending = [];
      setLines([]);
    });
    es.addEventListener('line', (e) => {
      pending.push(JSON.parse((e as MessageEvent<string>).data) as LogLine);
      if (frame === 0)
        frame = requestAnimationFrame(() => {
          frame = 0;
          const add = pending;
          pending = [];
          setLines((old) => [...old, ...add].slice(-MAX_LOG_LINES));
        });
    });
    return () => {
      es.close();
      if (frame !== 0) cancelAnimationFrame(frame);
    };
  }, [id]);
  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return html`<pre class="logs" ref=${box} tabindex="0" aria-label="log lines" aria-live="off">${
    lines.length === 0
      ? html`<span class="muted">No log lines yet.</span>`
      : lines.map(
          (l) =>
            html`<span class=${`line ${l.stream}`}><span class="task">${l.task.slice(0, 8)}</span> ${l.text}</span>`,
        )
  }</pre>`;
}

// ---------------------------------------------------------------- cluster

function ClusterPage() {
  const nodes = useLive(async () => {
    const [ns, tasks] = await Promise.all([
      node<Node[]>('/nodes'),
      node<Task[]>(`/tasks?filters=${encodeURIComponent(JSON.stringify({ 'desired-state': ['running'] }))}`),
    ]);
    return nodeRows(ns, tasks);
  }, []);
  const [confirm, setConfirm] = useState<Confirmation | undefined>(undefined);
  const availability = (n: NodeRow, to: 'active' | 'drain') =>
    setConfirm({
      title: `${to === 'drain' ? 'Drain' : 'Activate'} ${n.hostname}`,
      text:
        to === 'drain'
          ? 'Its tasks move to other nodes and no new task is placed on it.'
          : 'New tasks may be placed on it again.',
      label: to === 'drain' ? 'Drain' : 'Activate',
      run: () => action(`/nodes/${encodeURIComponent(n.id)}/availability`, { availability: to }),
    });
  return html`
    <h1>Cluster</h1>
    ${nodes.error ? html`<p class="error" role="alert">${nodes.error}</p>` : null}
    ${
      nodes.data === undefined
        ? html`<p class="loading">Loading…</p>`
        : html`<table class="nodes">
          <thead><tr><th>Node</th><th>Role</th><th>State</th><th>Availability</th><th>Address</th><th>Engine</th><th>CPUs</th><th>Memory</th><th>Tasks</th><th>Labels</th><th><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            ${nodes.data.map(
              (n) => html`<tr key=${n.id} data-node=${n.hostname}>
                <td data-label="Node"><strong>${n.hostname}</strong></td>
                <td data-label="Role">${n.role}${n.leader ? html` <span class="badge">leader</span>` : null}</td>
                <td data-label="State" class=${`node-state ${n.state}`}>${n.state}</td>
                <td data-label="Availability">${n.availability}</td>
                <td data-label="Address">${n.address}</td>
                <td data-label="Engine">${n.engine}</td>
                <td data-label="CPUs">${n.cpus}</td>
                <td data-label="Memory">${n.memory}</td>
                <td data-label="Tasks" class="task-count">${n.tasks}</td>
                <td data-label="Labels">${n.labels.join(', ')}</td>
                <td class="actions">
                  ${
                    n.availability === 'active'
                      ? html`<button type="button" class="drain" onClick=${() => availability(n, 'drain')}>Drain</button>`
                      : html`<button type="button" class="activate" onClick=${() => availability(n, 'active')}>Activate</button>`
                  }
                </td>
              </tr>`,
            )}
          </tbody>
        </table>`
    }
    ${confirm ? html`<${ConfirmDialog} c=${confirm} onClose=${() => setConfirm(undefined)} />` : null}
  `;
}

// ---------------------------------------------------------------- stacks, objects, events

function StacksPage() {
  const stacks = useLive(
    async () => stackRows(serviceRows(await node<Service[]>('/services?status=true'))),
    [],
  );
  return html`
    <h1>Stacks</h1>
    ${stacks.error ? html`<p class="error" role="alert">${stacks.error}</p>` : null}
    ${
      stacks.data === undefined
        ? html`<p class="loading">Loading…</p>`
        : stacks.data.length === 0
          ? html`<p class="empty">No stacks.</p>`
          : html`<table class="stacks">
          <thead><tr><th>Stack</th><th>Services</th><th>Replicas</th><th>Short</th><th>Updating</th></tr></thead>
          <tbody>
            ${stacks.data.map(
              (s) => html`<tr key=${s.name} data-stack=${s.name}>
                <td data-label="Stack"><strong>${s.name}</strong></td>
                <td data-label="Services">${s.services}</td>
                <td data-label="Replicas" class="replicas">${s.running}/${s.desired}</td>
                <td data-label="Short">${s.short}</td>
                <td data-label="Updating">${s.updating}</td>
              </tr>`,
            )}
          </tbody>
        </table>`
    }
  `;
}

interface NamedObject {
  ID: string;
  Spec: SecretSpec;
  CreatedAt?: string;
}

function ObjectsPage() {
  const data = useLive(async () => {
    const [networks, volumes, secrets, configs] = await Promise.all([
      node<Network[]>('/networks'),
      node<{ Volumes?: { Name: string; Driver: string }[] | null }>('/volumes'),
      node<NamedObject[]>('/secrets'),
      node<NamedObject[]>('/configs'),
    ]);
    return { networks, volumes: volumes.Volumes ?? [], secrets, configs };
  }, []);
  const d = data.data;
  const byName = <T>(xs: T[], name: (x: T) => string) =>
    [...xs].sort((a, b) => name(a).localeCompare(name(b)));
  return html`
    <h1>Networks, volumes, secrets and configs</h1>
    ${data.error ? html`<p class="error" role="alert">${data.error}</p>` : null}
    ${
      d === undefined
        ? html`<p class="loading">Loading…</p>`
        : html`
      <h2>Networks</h2>
      <table class="networks">
        <thead><tr><th>Name</th><th>Driver</th><th>Scope</th><th>Subnet</th></tr></thead>
        <tbody>${byName(d.networks, (n) => n.Name).map(
          (
            n,
          ) => html`<tr key=${n.Id}><td data-label="Name">${n.Name}${n.Ingress ? html` <span class="badge">ingress</span>` : null}</td>
            <td data-label="Driver">${n.Driver}</td><td data-label="Scope">${n.Scope}</td>
            <td data-label="Subnet">${(n.IPAM?.Config ?? []).map((c) => c.Subnet).join(', ')}</td></tr>`,
        )}</tbody>
      </table>
      <h2>Volumes</h2>
      ${
        d.volumes.length === 0
          ? html`<p class="empty">No volumes on this node.</p>`
          : html`<table class="volumes"><thead><tr><th>Name</th><th>Driver</th></tr></thead>
          <tbody>${byName(d.volumes, (v) => v.Name).map((v) => html`<tr key=${v.Name}><td data-label="Name">${v.Name}</td><td data-label="Driver">${v.Driver}</td></tr>`)}</tbody></table>`
      }
      <h2>Secrets</h2>
      ${objectTable('secrets', d.secrets)}
      <h2>Configs</h2>
      ${objectTable('configs', d.configs)}
    `
    }
  `;
}

function objectTable(kind: string, objects: NamedObject[]) {
  if (objects.length === 0) return html`<p class="empty">No ${kind}.</p>`;
  return html`<table class=${kind}><thead><tr><th>Name</th><th>ID</th><th>Created</th></tr></thead>
    <tbody>${[...objects]
      .sort((a, b) => (a.Spec.Name ?? '').localeCompare(b.Spec.Name ?? ''))
      .map(
        (
          o,
        ) => html`<tr key=${o.ID}><td data-label="Name">${o.Spec.Name}</td><td data-label="ID" class="id">${o.ID.slice(0, 12)}</td>
          <td data-label="Created">${o.CreatedAt ? new Date(o.CreatedAt).toLocaleString() : ''}</td></tr>`,
      )}</tbody></table>`;
}

function EventsPage() {
  const events = useRecentEvents();
  return html`
    <h1>Events</h1>
    <p class="muted">Changes since this page opened, newest first, as they arrive.</p>
    ${
      events.length === 0
        ? html`<p class="empty">No events yet.</p>`
        : html`<table class="events">
        <thead><tr><th>Time</th><th>Type</th><th>Action</th><th>Object</th></tr></thead>
        <tbody>${events.map(
          (
            e,
            i,
          ) => html`<tr key=${events.length - i}><td data-label="Time">${new Date(e.at).toLocaleTimeString()}</td>
            <td data-label="Type">${e.type}</td><td data-label="Action">${eventAction(e)}</td>
            <td data-label="Object">${e.name ?? e.id.slice(0, 12)}</td></tr>`,
        )}</tbody>
      </table>`
    }
  `;
}

const PAGES = {
  services: ServicesPage,
  cluster: ClusterPage,
  stacks: StacksPage,
  objects: ObjectsPage,
  events: EventsPage,
};
