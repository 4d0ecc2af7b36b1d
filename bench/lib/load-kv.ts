// N concurrent clients writing to a key-value store for a fixed time: commits per
// second and latency percentiles. The store is behind `put`, so the same load drives
// etcd (HTTP/JSON gateway) and skiff's raft KV alike.
import { percentile } from './stats.js';

export interface LoadKvOptions {
  /** Endpoints; client i writes to urls[i % urls.length] (handed to `put` as `target`). */
  urls?: readonly string[];
  /** Concurrent clients, each with one write in flight (default 100). */
  clients?: number;
  /** Bytes per value (default 128). */
  valueBytes?: number;
  durationMs: number;
  /** Key prefix (default `bench`); keys are `<prefix>/<client>/<seq>`. */
  keyPrefix?: string;
  /** Stop early after this many failed writes (default 100): a broken store is not a slow one. */
  maxErrors?: number;
}

export interface LoadKvResult {
  clients: number;
  commits: number;
  errors: number;
  seconds: number;
  commitsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** The first error a put threw, for the report. */
  firstError: string | undefined;
}

export type KvPut = (key: string, value: string, target: string | undefined) => Promise<void>;

export async function loadKv(opts: LoadKvOptions, put: KvPut): Promise<LoadKvResult> {
  const clients = opts.clients ?? 100;
  const valueBytes = opts.valueBytes ?? 128;
  const prefix = opts.keyPrefix ?? 'bench';
  const maxErrors = opts.maxErrors ?? 100;
  if (!Number.isInteger(clients) || clients < 1)
    throw new Error(`loadKv: clients must be >= 1, got ${clients}`);
  if (!(opts.durationMs > 0)) throw new Error(`loadKv: durationMs must be > 0, got ${opts.durationMs}`);
  const value = 'v'.repeat(valueBytes);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + opts.durationMs;
  const client = async (c: number) => {
    const target = opts.urls && opts.urls.length > 0 ? opts.urls[c % opts.urls.length] : undefined;
    for (let seq = 0; performance.now() < deadline && errors < maxErrors; seq++) {
      const t0 = performance.now();
      try {
        await put(`${prefix}/${c}/${seq}`, value, target);
        latencies.push(performance.now() - t0);
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  const seconds = (performance.now() - start) / 1000;
  return {
    clients,
    commits: latencies.length,
    errors,
    seconds,
    commitsPerSec: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    firstError,
  };
}
