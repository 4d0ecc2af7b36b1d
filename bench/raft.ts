// Raft benchmark: skiff's raft (3 kv-node processes on loopback, default timeouts, fsync on)
// next to a 3-member etcd cluster on the same machine, both driven by the same load: N
// concurrent clients, each with one 128-byte write in flight, to the leader over HTTP/JSON.
// Rounds alternate (etcd, skiff, etcd, skiff…) so background load hits both alike.
//
//   npx tsx bench/raft.ts            # BENCH_SIZE=tiny for a smoke run
//
// Records (JSON lines on stdout): { name: 'raft', metric, unit, value, peer, peerValue, ratio }.
// Targets: commits/s ratio >= 0.8, p99 ratio <= 2.

import { KvCluster } from '../test/support/raft-kv/index.js';
import { type LoadKvResult, loadKv, median, round } from './lib/index.js';
import { startEtcdCluster } from './peers/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const clients = tiny ? 4 : 100;
const durationMs = tiny ? 500 : 10_000;
const warmupMs = tiny ? 200 : 2000;
const rounds = tiny ? 1 : 2;

async function runEtcd(): Promise<{ label: string; result: LoadKvResult }> {
  const etcd = await startEtcdCluster({ log: (m) => process.stderr.write(`${m}\n`) });
  try {
    // Same pattern for both: every client writes to the leader (etcd forwards otherwise).
    const leaderUrl = await etcdLeaderUrl(etcd.urls);
    const put = (k: string, v: string) => etcd.put(leaderUrl, k, v);
    await loadKv({ clients, durationMs: warmupMs, keyPrefix: 'warm' }, put);
    const result = await loadKv({ clients, valueBytes: 128, durationMs }, put);
    return { label: etcd.label, result };
  } finally {
    await etcd.stop();
  }
}

async function etcdLeaderUrl(urls: string[]): Promise<string> {
  for (const url of urls) {
    const res = await fetch(`${url}/v3/maintenance/status`, { method: 'POST', body: '{}' });
    const s = (await res.json()) as { header?: { member_id?: string }; leader?: string };
    if (s.leader && s.header?.member_id === s.leader) return url;
  }
  return urls[0]!;
}

async function runSkiff(): Promise<{ load: LoadKvResult; failoverMs: number }> {
  const cluster = await KvCluster.start({ size: 3 });
  try {
    const leader = await cluster.waitLeader(15_000);
    const put = async (k: string, v: string) => {
      const r = await cluster.put(leader, k, v);
      if (r.status !== 200) throw new Error(`put failed with ${r.status}: ${r.error ?? ''}`);
    };
    await loadKv({ clients, durationMs: warmupMs, keyPrefix: 'warm' }, put);
    const load = await loadKv({ clients, valueBytes: 128, durationMs }, put);
    // Failover with the default timeouts: kill -9 the leader, time until a write is acknowledged.
    const killedAt = performance.now();
    await cluster.kill(leader);
    let failoverMs = Number.NaN;
    while (performance.now() - killedAt < 15_000 && Number.isNaN(failoverMs)) {
      for (let i = 0; i < cluster.procs.length; i++) {
        if (i === leader) continue;
        const r = await cluster.put(i, 'failover', 'x', 2000).catch(() => null);
        if (r?.status === 200) {
          failoverMs = performance.now() - killedAt;
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return { load, failoverMs };
  } finally {
    await cluster.stop();
  }
}

const etcdRuns: LoadKvResult[] = [];
const skiffRuns: LoadKvResult[] = [];
const failovers: number[] = [];
let peer = 'etcd';
for (let r = 0; r < rounds; r++) {
  const e = await runEtcd();
  peer = e.label;
  etcdRuns.push(e.result);
  const s = await runSkiff();
  skiffRuns.push(s.load);
  failovers.push(s.failoverMs);
}

const what = `3 nodes, ${clients} clients, 128 B`;
const pick = (runs: LoadKvResult[], f: (r: LoadKvResult) => number) => median(runs.map(f));
const figures = [
  { metric: `${what}: commits/s`, unit: 'ops/s', f: (r: LoadKvResult) => r.commitsPerSec, digits: 0 },
  { metric: `${what}: p50 commit latency`, unit: 'ms', f: (r: LoadKvResult) => r.p50Ms, digits: 2 },
  { metric: `${what}: p99 commit latency`, unit: 'ms', f: (r: LoadKvResult) => r.p99Ms, digits: 2 },
];
const rows: string[][] = [['metric', 'skiff raft', peer, 'ratio']];
for (const fig of figures) {
  const value = round(pick(skiffRuns, fig.f), fig.digits);
  const peerValue = round(pick(etcdRuns, fig.f), fig.digits);
  const ratio = peerValue ? round(value / peerValue, 2) : undefined;
  process.stdout.write(
    `${JSON.stringify({ name: 'raft', metric: fig.metric, unit: fig.unit, value, peer, peerValue, ratio })}\n`,
  );
  rows.push([
    fig.metric,
    `${value} ${fig.unit}`,
    `${peerValue} ${fig.unit}`,
    ratio === undefined ? '-' : String(ratio),
  ]);
}
const failover = round(median(failovers), 0);
process.stdout.write(
  `${JSON.stringify({ name: 'raft', metric: '3 nodes: a write is acknowledged again after kill -9 of the leader', unit: 'ms', value: failover })}\n`,
);
rows.push(['write available after kill -9 of the leader', `${failover} ms`, '-', '-']);
const errors = skiffRuns.reduce((n, r) => n + r.errors, 0);
if (errors > 0)
  process.stderr.write(
    `skiff: ${errors} writes failed, first: ${skiffRuns.find((r) => r.firstError)?.firstError}\n`,
  );
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const r of rows) process.stderr.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
