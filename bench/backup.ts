// Backup and restore of a large cluster state: 1,000 services x 10 replicas = 10,000 tasks,
// made by the REAL control plane in this process (a one-voter RaftNode with fsync, its
// Store, the leader loops and the dispatcher) over 100 FAKE agents (bench/placement's
// FakeAgent: no containers; they report every task running). Then the manager's own
// `takeBackup` (what `GET /skiff/backup` and `skiff cluster backup` run) and
// `restoreBackup` (what `skiff cluster restore` runs), and a restored manager's first
// start: raft loads the seeded snapshot into a new Store.
//
//   npx tsx bench/backup.ts                      # BENCH_SIZE=tiny: 10 nodes, 20 x 5 tasks
//   npx tsx bench/backup.ts --services 1000 --replicas 10 --nodes 100
//
// Figures: backup time and file size, time to write the file, restore time (check the
// file, seed the raft directory), and restored start to the store holding every service
// and task.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Task } from '../lib/index.js';
import { createLogger, taskStateRank } from '../lib/index.js';
import { restoreBackup, takeBackup } from '../manager/backup/index.js';
import { Dispatcher, storeDispatcherPort } from '../manager/dispatcher/index.js';
import { LeaderLoops } from '../manager/leader/index.js';
import { RaftNode } from '../manager/raft/index.js';
import { legacyRaftDataKey as raftDataKey } from '../manager/raft-data-key.js';
import { createAesGcmCipher, loadOrCreateSecretKey, RaftReplicator, Store } from '../manager/store/index.js';
import { freePort, waitFor } from '../test/lab/index.js';
import { FakeAgent } from './placement/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const { values: a } = parseArgs({
  options: {
    nodes: { type: 'string', default: tiny ? '10' : '100' },
    services: { type: 'string', default: tiny ? '20' : '1000' },
    replicas: { type: 'string', default: tiny ? '5' : '10' },
    runs: { type: 'string', default: tiny ? '1' : '3' },
    timeout: { type: 'string', default: tiny ? '60' : '600' },
  },
});
const NODES = Number(a.nodes);
const SERVICES = Number(a.services);
const REPLICAS = Number(a.replicas);
const RUNS = Number(a.runs);
const TOTAL = SERVICES * REPLICAS;
const TIMEOUT_MS = Number(a.timeout) * 1000;
const NODE_ID = 'benchmgr';

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-backup-'));
  const source = join(dir, 'source');
  let raft: RaftNode | undefined;
  let loops: LeaderLoops | undefined;
  let dispatcher: Dispatcher | undefined;
  const agents: FakeAgent[] = [];
  try {
    // The manager's state directory as a real one holds it: secrets key, raft sealed under it.
    const secretsKey = await loadOrCreateSecretKey(source);
    const store = new Store({ cipher: createAesGcmCipher(secretsKey) });
    raft = await RaftNode.start({
      id: NODE_ID,
      dataDir: join(source, 'raft'),
      peers: [{ id: NODE_ID, addr: `127.0.0.1:${await freePort()}` }],
      stateMachine: store.stateMachine,
      dataKey: raftDataKey(secretsKey, NODE_ID),
    });
    const leader = raft;
    store.setReplicator(new RaftReplicator(raft, { timeoutMs: 60_000 }));
    await waitFor(() => leader.status().role === 'leader', {
      what: 'the manager to lead',
      timeoutMs: 30_000,
      intervalMs: 5,
    });

    dispatcher = new Dispatcher({ store: storeDispatcherPort(store), heartbeatPeriodMs: 600_000 });
    for (let i = 0; i < NODES; i++)
      agents.push(new FakeAgent(`fake${String(i).padStart(4, '0')}`, dispatcher));
    await store.update((tx) => {
      for (const g of agents)
        tx.createNode({
          ID: g.nodeId,
          Spec: { Role: 'worker', Availability: 'active' },
          Status: { State: 'unknown' },
        });
    });
    await Promise.all(agents.map((g) => g.start()));
    loops = new LeaderLoops(store, createLogger({ level: process.env.SKIFF_LOG_LEVEL ?? 'error' }));
    loops.start();
    await loops.settled();
    await Promise.all(
      Array.from({ length: SERVICES }, (_, i) =>
        store.update((tx) =>
          tx.createService({
            Spec: {
              Name: `svc${String(i).padStart(4, '0')}`,
              Labels: { 'com.docker.stack.namespace': 'bench' },
              Mode: { Replicated: { Replicas: REPLICAS } },
              TaskTemplate: {
                ContainerSpec: { Image: `registry.example/app${i}:v1`, Env: [`INDEX=${i}`] },
              },
            },
          }),
        ),
      ),
    );
    const rRunning = taskStateRank('running');
    await waitFor(
      () =>
        store.listTasks().filter((t: Task) => taskStateRank(t.Status.State ?? 'new') >= rRunning).length >=
        TOTAL,
      { what: `${TOTAL} tasks running (fake agents)`, timeoutMs: TIMEOUT_MS, intervalMs: 200 },
    );
    // The state to back up is complete: the loops and agents stop, the manager keeps serving.
    for (const g of agents) await g.stop();
    dispatcher.stop();
    await loops.stop();
    loops = undefined;

    const backupMs: number[] = [];
    const writeMs: number[] = [];
    const restoreMs: number[] = [];
    const startMs: number[] = [];
    let size = 0;
    for (let run = 0; run < RUNS; run++) {
      const t0 = performance.now();
      const { file } = await takeBackup({
        stateDir: source,
        nodeId: NODE_ID,
        store,
        term: () => leader.status().term,
      });
      backupMs.push(performance.now() - t0);
      size = file.length;
      const path = join(dir, `backup-${run}.skiff`);
      const t1 = performance.now();
      await writeFile(path, file, { mode: 0o600 });
      writeMs.push(performance.now() - t1);

      const target = join(dir, `restored-${run}`);
      const t2 = performance.now();
      await restoreBackup({ stateDir: target, file, name: path });
      restoreMs.push(performance.now() - t2);

      // A restored manager's first start: raft loads the seeded snapshot into a new store.
      const t3 = performance.now();
      const key = await loadOrCreateSecretKey(target);
      const restored = new Store({ cipher: createAesGcmCipher(key) });
      const node = await RaftNode.start({
        id: NODE_ID,
        dataDir: join(target, 'raft'),
        peers: [{ id: NODE_ID, addr: `127.0.0.1:${await freePort()}` }],
        stateMachine: restored.stateMachine,
        dataKey: raftDataKey(key, NODE_ID),
      });
      try {
        await waitFor(
          () => restored.listServices().length === SERVICES && restored.listTasks().length === TOTAL,
          { what: 'the restored store to hold every service and task', timeoutMs: 120_000, intervalMs: 5 },
        );
        startMs.push(performance.now() - t3);
      } finally {
        await node.stop();
      }
      await rm(target, { recursive: true, force: true });
    }

    const what = `${SERVICES} services / ${TOTAL} tasks / ${NODES} fake nodes`;
    const records = [
      { metric: `${what}: backup (consistent snapshot + encode)`, unit: 'ms', value: median(backupMs) },
      { metric: `${what}: backup file size`, unit: 'MiB', value: size / 2 ** 20 },
      { metric: `${what}: backup file write`, unit: 'ms', value: median(writeMs) },
      { metric: `${what}: restore (check file, seed raft dir)`, unit: 'ms', value: median(restoreMs) },
      { metric: `${what}: restored start to store loaded`, unit: 'ms', value: median(startMs) },
    ];
    for (const r of records) {
      const value = r.unit === 'MiB' ? Number(r.value.toFixed(2)) : Math.round(r.value);
      process.stdout.write(`${JSON.stringify({ name: 'backup', ...r, value })}\n`);
    }
  } finally {
    for (const g of agents) await g.stop();
    dispatcher?.stop();
    await loops?.stop();
    await raft?.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
