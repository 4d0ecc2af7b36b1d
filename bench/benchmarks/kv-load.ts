// `kv-load`: the reference figure for skiff's raft — a 3-member etcd cluster under 100
// concurrent clients writing 128-byte values through its HTTP/JSON gateway. The raft
// benchmark (bench/raft.ts) drives skiff's KV with the same loadKv pattern.
import { type Benchmark, loadKv, round } from '../lib/index.js';
import { startEtcdCluster } from '../peers/index.js';

export const kvLoadBenchmark: Benchmark = {
  name: 'kv-load',
  description: 'etcd (3 members, loopback) under N concurrent writers: commits/s, p50/p99 latency',
  async run(ctx) {
    const tiny = ctx.size === 'tiny';
    const clients = tiny ? 4 : 100;
    const durationMs = tiny ? 500 : 10_000;
    const etcd = await startEtcdCluster({ log: (m) => ctx.log(m) });
    try {
      // Warm-up: connections open, leader settled.
      await loadKv(
        { urls: etcd.urls, clients, durationMs: tiny ? 200 : 2000, keyPrefix: 'warm' },
        (k, v, url) => etcd.put(url!, k, v),
      );
      const r = await loadKv({ urls: etcd.urls, clients, valueBytes: 128, durationMs }, (k, v, url) =>
        etcd.put(url!, k, v),
      );
      if (r.commits === 0) throw new Error(`no write committed: ${r.firstError ?? 'unknown error'}`);
      const name = 'kv-load';
      const what = `${etcd.label}, ${clients} clients, 128 B`;
      ctx.emit({ name, metric: `${what}: commits/s`, unit: 'ops/s', value: round(r.commitsPerSec, 0) });
      ctx.emit({ name, metric: `${what}: p50 latency`, unit: 'ms', value: round(r.p50Ms) });
      ctx.emit({ name, metric: `${what}: p99 latency`, unit: 'ms', value: round(r.p99Ms) });
      if (r.errors > 0) ctx.log(`${r.errors} writes failed, first: ${r.firstError}`);
    } finally {
      await etcd.stop();
    }
  },
};
