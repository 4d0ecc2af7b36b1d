// Placement through the REAL control plane over SIMULATED nodes: 3 managers in this
// process (3 RaftNodes over the real gRPC transport on loopback, fsync on, each with its
// own Store), the leader's real LeaderLoops (allocation, orchestration, scheduling) and
// real Dispatcher, and 1,000 FAKE agents (FakeAgent below: in-process, no containers)
// that register with the dispatcher, read their assignment streams and report each
// assigned task running. 1,000 services x 100 replicas = 100,000 tasks.
//
//   npx tsx bench/placement.ts                 # BENCH_SIZE=tiny: 20 nodes, 20 x 10 tasks
//   npx tsx bench/placement.ts --nodes 100 --services 100 --replicas 100
//   node --cpu-prof --import tsx bench/placement.ts   # where the time goes
//
// Figures: tasks/s from the first service create to every task assigned (and to every
// task reported running by the fake agents), the raft proposals that took, peak RSS.
// Target: >= 10,000 tasks/s to assigned.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AssignmentsMessage, DispatcherApi, Task, TaskStatusReport } from '../lib/index.js';
import { createLogger, taskStateRank } from '../lib/index.js';
import { Dispatcher, storeDispatcherPort } from '../manager/dispatcher/index.js';
import { LeaderLoops } from '../manager/leader/index.js';
import { RaftNode } from '../manager/raft/index.js';
import { createAesGcmCipher, RaftReplicator, Store } from '../manager/store/index.js';
import { freePort } from '../test/lab/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const { values: a } = parseArgs({
  options: {
    nodes: { type: 'string', default: tiny ? '20' : '1000' },
    services: { type: 'string', default: tiny ? '20' : '1000' },
    replicas: { type: 'string', default: tiny ? '10' : '100' },
    timeout: { type: 'string', default: tiny ? '60' : '600' },
  },
});
const NODES = Number(a.nodes);
const SERVICES = Number(a.services);
const REPLICAS = Number(a.replicas);
const TOTAL = SERVICES * REPLICAS;
const TIMEOUT_MS = Number(a.timeout) * 1000;

interface Manager {
  id: string;
  raft: RaftNode;
  store: Store;
}

/**
 * A FAKE agent: registers like a node agent, reads its assignment stream and reports
 * every newly assigned task as running, batched per tick, without running anything.
 */
class FakeAgent {
  private sessionId = '';
  private readonly abort = new AbortController();
  private readonly pending: TaskStatusReport[] = [];
  private flushing = false;
  private done: Promise<void> = Promise.resolve();

  constructor(
    readonly nodeId: string,
    private readonly dispatcher: DispatcherApi,
  ) {}

  async start(): Promise<void> {
    const r = await this.dispatcher.register({
      nodeId: this.nodeId,
      addr: '127.0.0.1',
      description: {
        Hostname: `fake-${this.nodeId}`,
        Platform: { OS: 'linux', Architecture: 'x86_64' },
        Resources: { NanoCPUs: 64e9, MemoryBytes: 256 * 2 ** 30 },
      },
    });
    this.sessionId = r.sessionId;
    const stream = this.dispatcher.assignments(
      { nodeId: this.nodeId, sessionId: this.sessionId },
      this.abort.signal,
    );
    this.done = (async () => {
      for await (const m of stream) this.onAssignments(m);
    })();
  }

  private onAssignments(m: AssignmentsMessage): void {
    for (const t of m.tasks) {
      if (t.DesiredState !== 'running' || t.Status.State !== 'assigned') continue;
      this.pending.push({
        taskId: t.ID,
        status: { State: 'running', Message: 'started (fake agent)', Timestamp: new Date().toISOString() },
      });
    }
    if (this.pending.length > 0 && !this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const updates = this.pending.splice(0);
      await this.dispatcher
        .updateTaskStatus({ nodeId: this.nodeId, sessionId: this.sessionId, updates })
        .catch((e: unknown) => process.stderr.write(`fake agent ${this.nodeId}: ${String(e)}\n`));
    }
    this.flushing = false;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done.catch(() => {});
  }
}

async function startManagers(dir: string): Promise<Manager[]> {
  const ids = ['m1', 'm2', 'm3'];
  const peers = await Promise.all(ids.map(async (id) => ({ id, addr: `127.0.0.1:${await freePort()}` })));
  const key = randomBytes(32);
  return Promise.all(
    ids.map(async (id) => {
      const store = new Store({ cipher: createAesGcmCipher(key) });
      const raft = await RaftNode.start({
        id,
        dataDir: join(dir, id),
        peers,
        stateMachine: store.stateMachine,
      });
      store.setReplicator(new RaftReplicator(raft, { timeoutMs: 60_000 }));
      return { id, raft, store };
    }),
  );
}

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-placement-'));
  let managers: Manager[] = [];
  let loops: LeaderLoops | undefined;
  let dispatcher: Dispatcher | undefined;
  const agents: FakeAgent[] = [];
  try {
    managers = await startManagers(dir);
    await until('a raft leader', () => managers.some((m) => m.raft.status().role === 'leader'), 30_000);
    const leader = managers.find((m) => m.raft.status().role === 'leader')!;
    const store = leader.store;

    dispatcher = new Dispatcher({ store: storeDispatcherPort(store), heartbeatPeriodMs: 600_000 });
    for (let i = 0; i < NODES; i++)
      agents.push(new FakeAgent(`fake${String(i).padStart(4, '0')}`, dispatcher));
    // Register in waves, as agents starting together would.
    for (let i = 0; i < agents.length; i += 100)
      await Promise.all(agents.slice(i, i + 100).map((g) => g.start()));
    loops = new LeaderLoops(store, quietLogger());
    loops.start();
    await loops.settled();

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
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
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
    await until(`${TOTAL} tasks assigned`, () => assigned >= TOTAL, TIMEOUT_MS);
    const assignedMs = performance.now() - t0;
    const assignedIndex = leader.raft.status().commitIndex;
    await until(`${TOTAL} tasks running`, () => running >= TOTAL, TIMEOUT_MS);
    const runningMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const runningIndex = leader.raft.status().commitIndex;
    unsubscribe();
    // Every manager holds the same tasks.
    await until(
      'the followers to apply everything',
      () => managers.every((m) => m.store.appliedIndex >= runningIndex),
      60_000,
    );
    const counts = managers.map((m) => m.store.listTasks().length);
    if (counts.some((c) => c !== TOTAL)) throw new Error(`task counts per manager: ${counts.join(', ')}`);
    const perNode = new Map<string, number>();
    for (const t of store.listTasks()) perNode.set(t.NodeID ?? '', (perNode.get(t.NodeID ?? '') ?? 0) + 1);
    const spread = Math.max(...perNode.values()) - Math.min(...perNode.values());

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
        metric: `${what}: cpu (3 managers + agents, one process)`,
        unit: 'ms',
        value: Math.round((cpu.user + cpu.system) / 1000),
      },
      { metric: `${what}: spread (max-min tasks per node)`, unit: 'count', value: spread },
      { metric: `${what}: peak RSS (3 managers + agents)`, unit: 'MiB', value: Math.round(rss) },
    ];
    for (const r of records) process.stdout.write(`${JSON.stringify({ name: 'placement', ...r })}\n`);
    process.stderr.write(
      `placement (3 managers over gRPC raft, real leader loops + dispatcher, FAKE agents): ${what}\n` +
        `  all assigned in ${Math.round(assignedMs)} ms (${records[0]!.value} tasks/s, target >= 10000), ` +
        `all running in ${Math.round(runningMs)} ms, peak RSS ${Math.round(rss)} MiB\n`,
    );
  } finally {
    for (const g of agents) await g.stop();
    dispatcher?.stop();
    await loops?.stop();
    await Promise.all(managers.map((m) => m.raft.stop().catch(() => {})));
    await rm(dir, { recursive: true, force: true });
  }
}

/** Errors only: the loops' info logs would cost more than the work at this rate. */
function quietLogger() {
  return createLogger({ level: process.env.SKIFF_LOG_LEVEL ?? 'error' });
}

await main();
