// Placement through the REAL control plane over SIMULATED nodes: 3 managers in this
// process (3 RaftNodes over the real gRPC transport on loopback, fsync on, each with its
// own Store; the two followers inline or each in a worker thread, --followers), the
// leader's real LeaderLoops (allocation, orchestration, scheduling) and real Dispatcher,
// and 1,000 FAKE agents (FakeAgent below: in-process, no containers) that register with
// the dispatcher, read their assignment streams and report each assigned task running.
// 1,000 services x 100 replicas = 100,000 tasks.
//
//   npx tsx bench/placement.ts                 # BENCH_SIZE=tiny: 20 nodes, 20 x 10 tasks
//   npx tsx bench/placement.ts --nodes 100 --services 100 --replicas 100 --followers threads
//   node --cpu-prof --import tsx bench/placement.ts   # where the time goes
//   npx tsx bench/placement.ts --nodes 10000 --services 10000 --replicas 100 --followers threads
//
// Figures: tasks/s from the first service create to every task assigned (and to every
// task reported running by the fake agents), the raft entries that took, CPU, peak RSS;
// live heap per node and per task (after a full GC; per manager with --followers threads,
// where each follower is an isolate of its own); a follower snapshotted and restarted from
// it; and the dispatcher's share of a core for the agents' heartbeats (--heartbeat-ms).
// Progress every 2 s on stderr; BENCH_RAFT_LOG=1 adds the leader's raft log.
// CPU per task (whole process, main thread, each follower's thread) and the load average
// go beside the wall figures: on a shared machine the wall figures alone say little.
// Target (issue #25): >= 15,000 tasks/s to assigned.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { Task } from '../lib/index.js';
import { createLogger, taskStateRank } from '../lib/index.js';
import { Dispatcher, storeDispatcherPort } from '../manager/dispatcher/index.js';
import { LeaderLoops } from '../manager/leader/index.js';
import { RaftNode } from '../manager/raft/index.js';
import { createAesGcmCipher, RaftReplicator, Store } from '../manager/store/index.js';
import { freePort, waitFor } from '../test/lab/index.js';
import type { FollowerReply } from './placement/index.js';
import {
  collectGarbage,
  FakeAgent,
  type FollowerData,
  type RestartFigures,
  restartFromSnapshot,
  startFollowerManager,
  threadCpuMs,
} from './placement/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const { values: a } = parseArgs({
  options: {
    nodes: { type: 'string', default: tiny ? '20' : '1000' },
    services: { type: 'string', default: tiny ? '20' : '1000' },
    replicas: { type: 'string', default: tiny ? '10' : '100' },
    timeout: { type: 'string', default: tiny ? '60' : '600' },
    followers: { type: 'string', default: 'inline' },
    'heartbeat-ms': { type: 'string', default: '5000' },
  },
});
const NODES = Number(a.nodes);
const SERVICES = Number(a.services);
const REPLICAS = Number(a.replicas);
const TOTAL = SERVICES * REPLICAS;
const TIMEOUT_MS = Number(a.timeout) * 1000;
/** Where the two follower managers run: in this thread, or each in a worker thread of its own. */
const FOLLOWERS = a.followers === 'threads' ? 'threads' : 'inline';
const HEARTBEAT_MS = Number(a['heartbeat-ms']);

interface Follower {
  /** heapBytes, cpuMs: this follower's own isolate and thread (threads), else undefined. */
  status(): Promise<{ appliedIndex: number; tasks: number; heapBytes?: number; cpuMs?: number }>;
  /** Snapshots it, stops it and starts it again from its data directory. */
  restart(): Promise<RestartFigures>;
  stop(): Promise<void>;
}

/** A follower manager in this thread (--followers inline). */
async function inlineFollower(data: FollowerData): Promise<Follower> {
  let m = await startFollowerManager(data);
  return {
    status: async () => ({ appliedIndex: m.store.appliedIndex, tasks: m.store.listTasks().length }),
    restart: async () => {
      const r = await restartFromSnapshot(m, data);
      m = r.manager;
      return r.figures;
    },
    stop: () => m.raft.stop(),
  };
}

/** A follower manager in a worker thread (bench/placement/follower.ts; --followers threads). */
class FollowerThread implements Follower {
  private readonly worker: Worker;
  private readonly replies: ((m: FollowerReply) => void)[] = [];

  constructor(data: FollowerData) {
    // The follower is TypeScript too: the worker registers tsx before importing it.
    const entry = new URL('./placement/follower.ts', import.meta.url).href;
    this.worker = new Worker(
      `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`,
      { eval: true, workerData: data },
    );
    this.worker.on('message', (m: FollowerReply) => this.replies.shift()?.(m));
    this.worker.on('error', (e) => process.stderr.write(`follower ${data.id}: ${String(e)}\n`));
  }

  private next(): Promise<FollowerReply> {
    return new Promise((resolve) => this.replies.push(resolve));
  }

  ready(): Promise<FollowerReply> {
    return this.next();
  }

  async status(): Promise<{ appliedIndex: number; tasks: number; heapBytes?: number; cpuMs?: number }> {
    const r = this.next();
    this.worker.postMessage({ type: 'status' });
    const m = await r;
    if (m.type !== 'status') throw new Error(`follower answered ${m.type} to status`);
    return m;
  }

  async restart(): Promise<RestartFigures> {
    const r = this.next();
    this.worker.postMessage({ type: 'restart' });
    const m = await r;
    if (m.type !== 'restarted') throw new Error(`follower answered ${m.type} to restart`);
    return m.figures;
  }

  async stop(): Promise<void> {
    const r = this.next();
    this.worker.postMessage({ type: 'stop' });
    await Promise.race([r, new Promise((res) => setTimeout(res, 10_000))]);
    await this.worker.terminate();
  }
}

/**
 * The leader in this thread, two followers in worker threads: all three over the real
 * gRPC transport on loopback, fsync on. The followers' longer election timeout makes
 * the manager here the leader.
 */
async function startManagers(dir: string): Promise<{ raft: RaftNode; store: Store; followers: Follower[] }> {
  const ids = ['m1', 'm2', 'm3'];
  const peers = await Promise.all(ids.map(async (id) => ({ id, addr: `127.0.0.1:${await freePort()}` })));
  const key = randomBytes(32);
  const data = ids.slice(1).map((id) => ({ id, dataDir: join(dir, id), peers, key, electionTicks: 100 }));
  let followers: Follower[];
  if (FOLLOWERS === 'threads') {
    const threads = data.map((d) => new FollowerThread(d));
    await Promise.all(threads.map((f) => f.ready()));
    followers = threads;
  } else followers = await Promise.all(data.map(inlineFollower));
  const store = new Store({ cipher: createAesGcmCipher(key) });
  const raft = await RaftNode.start({
    id: 'm1',
    dataDir: join(dir, 'm1'),
    peers,
    stateMachine: store.stateMachine,
    ...(process.env.BENCH_RAFT_LOG ? { logger: raftLogger() } : {}),
  });
  store.setReplicator(new RaftReplicator(raft, { timeoutMs: 60_000 }));
  return { raft, store, followers };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-placement-'));
  let managers: Awaited<ReturnType<typeof startManagers>> | undefined;
  let loops: LeaderLoops | undefined;
  let dispatcher: Dispatcher | undefined;
  const agents: FakeAgent[] = [];
  try {
    managers = await startManagers(dir);
    const leader = managers;
    await waitFor(() => leader.raft.status().role === 'leader', {
      what: 'the main thread manager to lead',
      timeoutMs: 30_000,
      intervalMs: 5,
    });
    const store = leader.store;

    /** Live bytes in this thread (the leader, the dispatcher, the FAKE agents; the followers too when inline). */
    const liveHeap = () => {
      collectGarbage();
      return getHeapStatistics().used_heap_size;
    };
    const heapEmpty = liveHeap();
    // No heartbeats while placing: on this shared machine a stall of the process longer than
    // the grace would mark nodes down and move their tasks. Measured on their own below.
    dispatcher = new Dispatcher({ store: storeDispatcherPort(store), heartbeatPeriodMs: 600_000 });
    const width = Math.max(4, String(NODES - 1).length);
    for (let i = 0; i < NODES; i++)
      agents.push(new FakeAgent(`fake${String(i).padStart(width, '0')}`, dispatcher));
    // The node objects, as joining creates them: the dispatcher only registers known nodes.
    await store.update((tx) => {
      for (const a of agents)
        tx.createNode({
          ID: a.nodeId,
          Spec: { Role: 'worker', Availability: 'active' },
          Status: { State: 'unknown' },
        });
    });
    // Register in waves, as agents starting together would.
    for (let i = 0; i < agents.length; i += 100)
      await Promise.all(agents.slice(i, i + 100).map((g) => g.start()));
    loops = new LeaderLoops(store, quietLogger());
    loops.start();
    await loops.settled();
    const heapNodes = liveHeap();

    // Count assigned and running from the applied changes (no scans while timing).
    let assigned = 0;
    let running = 0;
    const seen = new Map<string, number>();
    const rAssigned = taskStateRank('assigned');
    const rRunning = taskStateRank('running');
    const unsubscribe = store.subscribe(
      (e) => {
        const t = e.object as Task;
        const before = seen.get(t.ID) ?? 0;
        const now = e.kind === 'delete' ? 0 : taskStateRank(t.Status.State ?? 'new');
        if (before < rAssigned && now >= rAssigned) assigned++;
        if (before < rRunning && now >= rRunning) running++;
        seen.set(t.ID, now);
      },
      { tables: ['tasks'] },
    );
    const index0 = leader.raft.status().commitIndex;
    const followerCpu0 = (await Promise.all(leader.followers.map((f) => f.status()))).map((st) => st.cpuMs);
    const cpu0 = process.cpuUsage();
    const threadCpu0 = threadCpuMs();
    // The machine is shared: wall figures mean little without the load beside them.
    const load0 = loadavg()[0] ?? 0;
    const t0 = performance.now();
    // Progress on stderr: where a slow run stalls.
    const progress = setInterval(() => {
      const st = leader.raft.status();
      process.stderr.write(
        `  ${((performance.now() - t0) / 1000).toFixed(1)} s: ${assigned} assigned, ${running} running, raft index ${st.commitIndex}\n`,
      );
    }, 2000);
    progress.unref();
    // One proposal per service, all in flight at once, as 1,000 API requests would be.
    await Promise.all(
      Array.from({ length: SERVICES }, (_, i) =>
        store.update((tx) =>
          tx.createService({
            Spec: {
              Name: `svc${String(i).padStart(4, '0')}`,
              Mode: { Replicated: { Replicas: REPLICAS } },
              TaskTemplate: { ContainerSpec: { Image: `app${i}:v1` } },
            },
          }),
        ),
      ),
    );
    const createdMs = performance.now() - t0;
    await waitFor(() => assigned >= TOTAL, {
      what: `${TOTAL} tasks assigned`,
      timeoutMs: TIMEOUT_MS,
      intervalMs: 5,
    });
    const assignedMs = performance.now() - t0;
    const cpuAssigned = process.cpuUsage(cpu0);
    const threadCpuAssigned = threadCpuMs() - threadCpu0;
    const assignedIndex = leader.raft.status().commitIndex;
    await waitFor(() => running >= TOTAL, {
      what: `${TOTAL} tasks running`,
      timeoutMs: TIMEOUT_MS,
      intervalMs: 5,
    });
    const runningMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const threadCpuRunning = threadCpuMs() - threadCpu0;
    const loadRunning = loadavg()[0] ?? 0;
    const runningIndex = leader.raft.status().commitIndex;
    clearInterval(progress);
    unsubscribe();
    // Every manager holds the same tasks.
    const followers = leader.followers;
    const allStatuses = () => Promise.all(followers.map((f) => f.status()));
    // A follower still behind after a minute shows in the counts check below.
    const statuses = await waitFor(
      async () => {
        const all = await allStatuses();
        return all.every((st) => st.appliedIndex >= runningIndex) && all;
      },
      { what: `every follower to apply index ${runningIndex}`, timeoutMs: 60_000, intervalMs: 100 },
    ).catch(allStatuses);
    const counts = [store.listTasks().length, ...statuses.map((st) => st.tasks)];
    if (counts.some((c) => c !== TOTAL)) throw new Error(`task counts per manager: ${counts.join(', ')}`);
    const perNode = new Map<string, number>();
    for (const t of store.listTasks()) perNode.set(t.NodeID ?? '', (perNode.get(t.NodeID ?? '') ?? 0) + 1);
    let spreadMax = 0;
    let spreadMin = Number.POSITIVE_INFINITY;
    for (const c of perNode.values()) {
      spreadMax = Math.max(spreadMax, c);
      spreadMin = Math.min(spreadMin, c);
    }
    const spread = spreadMax - spreadMin;
    const rssRun = process.resourceUsage().maxRSS / 1024;
    perNode.clear();
    seen.clear();
    const heapTasks = liveHeap();
    const followerHeaps = statuses.map((st) => st.heapBytes);
    // A follower's thread CPU from the first create to having applied everything.
    const followerCpu = statuses.map((st, i) => {
      const c0 = followerCpu0[i];
      return st.cpuMs === undefined || c0 === undefined ? undefined : st.cpuMs - c0;
    });
    const msPerTask = (ms: number) => Math.round((ms * 1000) / TOTAL);

    // Heartbeats only: every agent heartbeats once per period; nothing else is going on.
    for (const g of agents) g.startHeartbeats(HEARTBEAT_MS);
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
    const hbWindowMs = 2 * HEARTBEAT_MS;
    const hb0 = {
      ms: FakeAgent.heartbeatMs,
      n: FakeAgent.heartbeats,
      cpu: process.cpuUsage(),
      t: performance.now(),
    };
    await new Promise((r) => setTimeout(r, hbWindowMs));
    const hbWall = performance.now() - hb0.t;
    const hbCpu = process.cpuUsage(hb0.cpu);
    const hbCalls = FakeAgent.heartbeats - hb0.n;
    const hbDispatcherShare = (FakeAgent.heartbeatMs - hb0.ms) / hbWall;
    const hbProcessShare = (hbCpu.user + hbCpu.system) / 1000 / hbWall;

    // A follower snapshotted now and restarted from it.
    const restartCpu0 = process.cpuUsage();
    const restart = await followers[followers.length - 1]!.restart();
    const restartCpu = process.cpuUsage(restartCpu0);
    if (restart.tasks !== TOTAL) throw new Error(`restarted follower holds ${restart.tasks} tasks`);

    const what = `${NODES} fake nodes, ${SERVICES} services x ${REPLICAS}`;
    const rss = process.resourceUsage().maxRSS / 1024;
    const records = [
      {
        metric: `${what}: create to all assigned`,
        unit: 'tasks/s',
        value: Math.round(TOTAL / (assignedMs / 1000)),
      },
      {
        metric: `${what}: create to all running (fake agents)`,
        unit: 'tasks/s',
        value: Math.round(TOTAL / (runningMs / 1000)),
      },
      { metric: `${what}: create to all assigned`, unit: 'ms', value: Math.round(assignedMs) },
      { metric: `${what}: create to all running`, unit: 'ms', value: Math.round(runningMs) },
      { metric: `${what}: service creates committed`, unit: 'ms', value: Math.round(createdMs) },
      { metric: `${what}: raft entries to all assigned`, unit: 'count', value: assignedIndex - index0 },
      { metric: `${what}: raft entries to all running`, unit: 'count', value: runningIndex - index0 },
      {
        metric: `${what}: cpu (3 managers + agents, one process, followers ${FOLLOWERS})`,
        unit: 'ms',
        value: Math.round((cpu.user + cpu.system) / 1000),
      },
      {
        metric: `${what}: cpu per task to all assigned (whole process)`,
        unit: 'us',
        value: msPerTask((cpuAssigned.user + cpuAssigned.system) / 1000),
      },
      {
        metric: `${what}: cpu per task to all running (whole process)`,
        unit: 'us',
        value: msPerTask((cpu.user + cpu.system) / 1000),
      },
      {
        metric: `${what}: cpu per task to all assigned (main thread: leader + dispatcher + agents${FOLLOWERS === 'inline' ? ' + followers' : ''})`,
        unit: 'us',
        value: msPerTask(threadCpuAssigned),
      },
      {
        metric: `${what}: cpu per task to all running (main thread: leader + dispatcher + agents${FOLLOWERS === 'inline' ? ' + followers' : ''})`,
        unit: 'us',
        value: msPerTask(threadCpuRunning),
      },
      ...followerCpu.flatMap((c, i) =>
        c === undefined
          ? []
          : [
              {
                metric: `${what}: cpu per task, follower ${i + 1} (its thread, to all applied)`,
                unit: 'us',
                value: msPerTask(c),
              },
            ],
      ),
      { metric: `${what}: load average (1 min) at the first create`, unit: 'load', value: load0 },
      { metric: `${what}: load average (1 min) at all running`, unit: 'load', value: loadRunning },
      { metric: `${what}: spread (max-min tasks per node)`, unit: 'count', value: spread },
      { metric: `${what}: peak RSS (3 managers + agents)`, unit: 'MiB', value: Math.round(rss) },
      { metric: `${what}: peak RSS to all running`, unit: 'MiB', value: Math.round(rssRun) },
      {
        metric: `${what}: live heap per node (this thread${FOLLOWERS === 'inline' ? ', 3 managers' : ': leader + dispatcher + agents'})`,
        unit: 'bytes',
        value: Math.round((heapNodes - heapEmpty) / NODES),
      },
      {
        metric: `${what}: live heap per task (this thread${FOLLOWERS === 'inline' ? ', 3 managers' : ': leader + dispatcher + agents'})`,
        unit: 'bytes',
        value: Math.round((heapTasks - heapNodes) / TOTAL),
      },
      ...followerHeaps.flatMap((h, i) =>
        h === undefined
          ? []
          : [
              {
                metric: `${what}: follower ${i + 1} live heap (its isolate)`,
                unit: 'MiB',
                value: Math.round(h / 2 ** 20),
              },
            ],
      ),
      {
        metric: `${what}: snapshot of that state`,
        unit: 'MiB',
        value: Math.round(restart.snapshotBytes / 2 ** 20),
      },
      {
        metric: `${what}: snapshot taken and written (fsync)`,
        unit: 'ms',
        value: Math.round(restart.writeMs),
      },
      { metric: `${what}: follower restarted from it`, unit: 'ms', value: Math.round(restart.restartMs) },
      {
        metric: `${what}: snapshot written + restart`,
        unit: 'ms',
        value: Math.round(restart.writeMs + restart.restartMs),
      },
      {
        metric: `${what}: snapshot written + restart, cpu (whole process)`,
        unit: 'ms',
        value: Math.round((restartCpu.user + restartCpu.system) / 1000),
      },
      {
        metric: `${what}: heartbeats every ${HEARTBEAT_MS} ms, dispatcher share of one core`,
        unit: '%',
        value: Math.round(hbDispatcherShare * 1000) / 10,
      },
      {
        metric: `${what}: heartbeats, whole process (3 managers idle + agents) share of one core`,
        unit: '%',
        value: Math.round(hbProcessShare * 1000) / 10,
      },
      { metric: `${what}: heartbeats per second`, unit: '/s', value: Math.round(hbCalls / (hbWall / 1000)) },
    ];
    const fig = (part: string) => records.find((r) => r.metric.includes(part))?.value;
    for (const r of records) process.stdout.write(`${JSON.stringify({ name: 'placement', ...r })}\n`);
    process.stderr.write(
      `placement (3 managers over gRPC raft, real leader loops + dispatcher, FAKE agents): ${what}\n` +
        `  all assigned in ${Math.round(assignedMs)} ms (${records[0]!.value} tasks/s, target >= 15000), ` +
        `all running in ${Math.round(runningMs)} ms, peak RSS ${Math.round(rss)} MiB, ` +
        `cpu ${fig('cpu')} ms (per task to assigned: ${fig('cpu per task to all assigned (whole')} us process, ${fig('cpu per task to all assigned (main')} us main thread; followers ${followerCpu.map((c) => (c === undefined ? '-' : msPerTask(c))).join('/')} us), load ${load0.toFixed(1)}→${loadRunning.toFixed(1)}, heap ${fig('live heap per task')} B/task, ${fig('live heap per node')} B/node\n` +
        `  snapshot ${fig('snapshot of that state')} MiB written in ${Math.round(restart.writeMs)} ms, ` +
        `restart from it ${Math.round(restart.restartMs)} ms; heartbeats: dispatcher ${fig('dispatcher share')} % of a core, process ${fig('heartbeats, whole process')} %\n`,
    );
  } finally {
    for (const g of agents) await g.stop();
    dispatcher?.stop();
    await loops?.stop();
    await managers?.raft.stop().catch(() => {});
    await Promise.all(managers?.followers.map((f) => f.stop()) ?? []);
    await rm(dir, { recursive: true, force: true });
  }
}

/** BENCH_RAFT_LOG=1: the leader's raft log lines on stderr, with the time since start. */
function raftLogger() {
  const t0 = performance.now();
  const line = (level: string) => (obj: object, msg?: string) =>
    process.stderr.write(
      `  raft ${level} +${Math.round(performance.now() - t0)} ms ${msg ?? ''} ${JSON.stringify(obj)}\n`,
    );
  return { info: line('info'), warn: line('warn'), error: line('error'), debug: line('debug') };
}

/** Errors only: the loops' info logs would cost more than the work at this rate. */
function quietLogger() {
  return createLogger({ level: process.env.SKIFF_LOG_LEVEL ?? 'error' });
}

await main();
