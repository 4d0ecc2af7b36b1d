// The dashboard's pages: a header with the node and the connection, and a page per route.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Service } from '../../lib/index.js';
import { type ServiceRow, serviceRows } from '../model/index.js';
import { action, node } from './api.js';
import { useConnection, useLive } from './live.js';

interface Info {
  Name?: string;
  ServerVersion?: string;
}

type Route = { page: 'services' } | { page: 'service'; id: string };

function parseRoute(hash: string): Route {
  const m = /^#\/services\/([^/]+)$/.exec(hash);
  if (m?.[1]) return { page: 'service', id: decodeURIComponent(m[1]) };
  return { page: 'services' };
}

export function App() {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const connection = useConnection();
  const info = useLive(() => node<Info>('/info'), []);
  return html`
    <header class="top">
      <a class="brand" href="#/">skiff</a>
      <span class="node" title="the node this dashboard talks to">
        <span class="label">node</span> <strong id="hostname">${info.data?.Name ?? '…'}</strong>
      </span>
      <nav><a href="#/" aria-current=${route.page === 'services' ? 'page' : undefined}>Services</a></nav>
      <span class=${`conn ${connection}`} role="status">${connection}</span>
    </header>
    <main>${route.page === 'services' ? html`<${ServicesPage} />` : html`<${ServicePage} id=${route.id} />`}</main>
  `;
}

function ServicesPage() {
  const services = useLive(async () => serviceRows(await node<Service[]>('/services?status=true')), []);
  const [scaling, setScaling] = useState<ServiceRow | undefined>(undefined);
  const rows = services.data;
  return html`
    <h1>Services</h1>
    ${services.error ? html`<p class="error" role="alert">${services.error}</p>` : null}
    ${
      rows === undefined
        ? html`<p class="loading">Loading…</p>`
        : rows.length === 0
          ? html`<p class="empty">No services.</p>`
          : html`<table class="services">
            <thead>
              <tr><th>Name</th><th>Mode</th><th>Replicas</th><th>Image</th><th>Ports</th><th>Update</th><th><span class="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              ${rows.map((r) => html`<${ServiceLine} key=${r.id} row=${r} onScale=${setScaling} />`)}
            </tbody>
          </table>`
    }
    ${scaling ? html`<${ScaleDialog} row=${scaling} onClose=${() => setScaling(undefined)} />` : null}
  `;
}

function ServiceLine({ row, onScale }: { row: ServiceRow; onScale: (r: ServiceRow) => void }) {
  return html`<tr data-service=${row.name}>
    <td class="name" data-label="Name"><a href=${`#/services/${encodeURIComponent(row.id)}`}>${row.name}</a></td>
    <td class="mode" data-label="Mode">${row.mode}</td>
    <td class=${`replicas${row.short ? ' short' : ''}`} data-label="Replicas">${row.replicas}</td>
    <td class="image" data-label="Image">${row.image}</td>
    <td class="ports" data-label="Ports">${row.ports.join(', ')}</td>
    <td class="update" data-label="Update">${row.update ? html`<span class=${`state ${row.update.state}`}>${row.update.state}</span>` : null}</td>
    <td class="actions">
      ${row.mode === 'replicated' ? html`<button type="button" class="scale" onClick=${() => onScale(row)}>Scale</button>` : null}
    </td>
  </tr>`;
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

function ServicePage({ id }: { id: string }) {
  const service = useLive(() => node<Service>(`/services/${encodeURIComponent(id)}`), [id]);
  const s = service.data;
  return html`
    <p><a href="#/">← Services</a></p>
    <h1>${s?.Spec.Name ?? id}</h1>
    ${service.error ? html`<p class="error" role="alert">${service.error}</p>` : null}
  `;
}
