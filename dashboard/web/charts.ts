// A service's CPU and memory over the last minutes, drawn with uPlot: small (about 23 KB
// gzipped), fast on canvas with thousands of points, no dependencies, and it sets styles
// through the DOM only, so the page's strict CSP (no inline styles) holds. The dashboard
// server reads the node's stats while this page polls it (dashboard/server/stats.ts).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { bytes, type StatsPoint } from '../model/index.js';
import { own } from './api.js';

interface StatsView {
  points: StatsPoint[];
  unreachable: { nodeId: string; message: string }[];
  error?: string;
  intervalMs: number;
  windowMs: number;
}

const cores = (v: number) =>
  v === 0 ? '0' : v >= 10 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v >= 0.01 ? v.toFixed(2) : v.toFixed(3);

const clock = (s: number) => {
  const d = new Date(s * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

/** The service's charts, read every few seconds while the page is open. */
export function ServiceCharts({ id }: { id: string }) {
  const [view, setView] = useState<StatsView | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const poll = async () => {
      let next = 3000;
      try {
        const v = await own<StatsView>(`/services/${encodeURIComponent(id)}/stats`);
        if (stopped) return;
        setView(v);
        setError(v.error);
        next = v.intervalMs;
      } catch (e) {
        if (!stopped) setError(e instanceof Error ? e.message : String(e));
      }
      if (!stopped) timer = window.setTimeout(() => void poll(), next);
    };
    void poll();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [id]);
  const points = view?.points ?? [];
  const last = <K extends 'cpu' | 'memory'>(k: K) => {
    for (let i = points.length - 1; i >= 0; i--) {
      const v = points[i]?.[k];
      if (v !== null && v !== undefined) return v;
    }
    return undefined;
  };
  const cpuNow = last('cpu');
  const memNow = last('memory');
  const minutes = Math.round((view?.windowMs ?? 300_000) / 60_000);
  return html`<section class="charts" aria-label=${`CPU and memory over the last ${minutes} minutes`}>
    ${error ? html`<p class="error" role="status">Usage cannot be read: ${error}</p>` : null}
    ${
      view && view.unreachable.length > 0
        ? html`<p class="warn" role="status">Not counted (no answer): ${view.unreachable
            .map((u) => `${u.nodeId.slice(0, 12)} (${u.message})`)
            .join('; ')}</p>`
        : null
    }
    <${Chart}
      name="cpu"
      title=${`CPU ${cpuNow === undefined ? '—' : `${cores(cpuNow)} cores`}`}
      points=${points}
      pick=${(p: StatsPoint) => p.cpu}
      format=${cores}
      color="#1a5fb4"
      windowMs=${view?.windowMs ?? 300_000}
    />
    <${Chart}
      name="memory"
      title=${`Memory ${memNow === undefined ? '—' : bytes(memNow)}`}
      points=${points}
      pick=${(p: StatsPoint) => p.memory}
      format=${bytes}
      color="#1e7a3c"
      windowMs=${view?.windowMs ?? 300_000}
    />
  </section>`;
}

function Chart(props: {
  name: string;
  title: string;
  points: StatsPoint[];
  pick: (p: StatsPoint) => number | null;
  format: (v: number) => string;
  color: string;
  windowMs: number;
}) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const xs = props.points.map((p) => p.t / 1000);
  const ys = props.points.map(props.pick);
  const drawn = ys.filter((v) => v !== null).length;
  const data: uPlot.AlignedData = [xs, ys];
  // The x axis is the whole window, ending now: the line grows from the right.
  const range = (): [number, number] => {
    const end = Date.now() / 1000;
    return [end - props.windowMs / 1000, end];
  };
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const format = props.format;
    const u = new uPlot(
      {
        width: Math.max(el.clientWidth, 200),
        height: 150,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true, range }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
        series: [
          {},
          { label: props.name, stroke: props.color, width: 2, fill: `${props.color}22`, spanGaps: false },
        ],
        axes: [
          {
            stroke: '#5b6475',
            space: 70,
            grid: { stroke: '#dde1e8' },
            ticks: { stroke: '#dde1e8' },
            // Hours and minutes only: the window is a few minutes of today.
            values: (_u, splits) => splits.map((v) => clock(v)),
          },
          {
            stroke: '#5b6475',
            size: 64,
            grid: { stroke: '#dde1e8' },
            ticks: { stroke: '#dde1e8' },
            values: (_u, splits) => splits.map((v) => format(v)),
          },
        ],
      },
      data,
      el,
    );
    plot.current = u;
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height: 150 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      u.destroy();
      plot.current = undefined;
    };
  }, []);
  useEffect(() => {
    plot.current?.setData(data);
  }, [props.points]);
  const now = ys.at(-1);
  return html`<figure class=${`chart ${props.name}`} data-points=${drawn}>
    <figcaption>${props.title}</figcaption>
    <div
      class="plot"
      ref=${box}
      role="img"
      aria-label=${`${props.title}; ${drawn} readings${now !== null && now !== undefined ? `, last ${props.format(now)}` : ''}`}
    ></div>
  </figure>`;
}
