// Placement benchmark over SIMULATED nodes: the pure scheduler and orchestrator
// driven in-process with 1,000 fake nodes (plain Node objects, no agent, no store,
// no raft), 1,000 services and 100,000 tasks. It measures the decision logic alone;
// the through-the-real-store-and-raft figure is a separate benchmark.
//
//   npx tsx bench/scheduler.ts            # JSON records on stdout, then a table on stderr
//
// Each record: { name, metric, unit, value }.

import type { Node, Service, Task } from '../lib/index.js';
import { reconcileService } from '../manager/orchestrator/index.js';
import { schedule } from '../manager/scheduler/index.js';

interface BenchRecord {
  name: string;
  metric: string;
  unit: string;
  value: number;
}

const NODES = 1000;
const SERVICES = 1000;
const REPLICAS = 100;
const T0 = '2026-01-01T00:00:00.000Z';
const ZONES = ['a', 'b', 'c'];

function fakeNode(i: number): Node {
  return {
    ID: `node${String(i).padStart(4, '0')}`,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    Spec: {
      Role: 'worker',
      Availability: 'active',
      Labels: { zone: ZONES[i % ZONES.length]!, rack: String(i % 10) },
    },
    Description: {
      Hostname: `fake-${i}`,
      Platform: { OS: 'linux', Architecture: 'x86_64' },
      Resources: { NanoCPUs: 64e9, MemoryBytes: 256 * 2 ** 30 },
    },
    Status: { State: 'ready' },
  };
}

type Variant = 'plain' | 'constraint+spread' | 'reservations';

function fakeService(i: number, variant: Variant): Service {
  const placement =
    variant === 'constraint+spread'
      ? {
          Constraints: ['node.labels.zone!=c', 'node.role==worker'],
          Preferences: [
            { Spread: { SpreadDescriptor: 'node.labels.zone' } },
            { Spread: { SpreadDescriptor: 'node.labels.rack' } },
          ],
        }
      : undefined;
  const resources =
    variant === 'reservations' ? { Reservations: { NanoCPUs: 0.5e9, MemoryBytes: 2 ** 30 } } : undefined;
  return {
    ID: `svc${String(i).padStart(4, '0')}`,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    Spec: {
      Name: `svc${i}`,
      Mode: { Replicated: { Replicas: REPLICAS } },
      TaskTemplate: { ContainerSpec: { Image: `app${i}:v1` }, Placement: placement, Resources: resources },
    },
  };
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

function time<T>(fn: () => T): { result: T; wallMs: number; cpuMs: number } {
  const c = process.cpuUsage();
  const w = performance.now();
  const result = fn();
  return { result, wallMs: performance.now() - w, cpuMs: cpuMs(c) };
}

function main(): void {
  const records: BenchRecord[] = [];
  const nodes = Array.from({ length: NODES }, (_, i) => fakeNode(i));
  let seq = 0;
  const deps = { now: Date.parse(T0), newId: () => `task${++seq}` };

  for (const variant of ['plain', 'constraint+spread', 'reservations'] as const) {
    const services = Array.from({ length: SERVICES }, (_, i) => fakeService(i, variant));
    const byId = new Map(services.map((s) => [s.ID, s]));

    // Orchestrator: desired state → 100,000 new tasks.
    const orch = time(() =>
      services.flatMap((s) => reconcileService({ service: s, tasks: [], nodes }, deps).create),
    );
    const tasks = orch.result;
    // The allocator's step, faked: new → pending.
    for (const t of tasks) t.Status = { State: 'pending' };
    records.push({
      name: `orchestrator.create[${variant}]`,
      metric: 'tasks',
      unit: 'count',
      value: tasks.length,
    });
    records.push({
      name: `orchestrator.create[${variant}]`,
      metric: 'cpu',
      unit: 'ms',
      value: round(orch.cpuMs),
    });
    records.push({
      name: `orchestrator.create[${variant}]`,
      metric: 'rate',
      unit: 'tasks/s',
      value: Math.round(tasks.length / (orch.wallMs / 1000)),
    });

    // Scheduler: one pass placing all of them on empty fake nodes.
    const first = time(() => schedule({ pending: tasks, nodes, tasksByNode: new Map(), services: byId }));
    const r = first.result;
    records.push({
      name: `scheduler.place[${variant}]`,
      metric: 'assigned',
      unit: 'count',
      value: r.assignments.length,
    });
    records.push({
      name: `scheduler.place[${variant}]`,
      metric: 'cpu',
      unit: 'ms',
      value: round(first.cpuMs),
    });
    records.push({
      name: `scheduler.place[${variant}]`,
      metric: 'rate',
      unit: 'tasks/s',
      value: Math.round(r.assignments.length / (first.wallMs / 1000)),
    });
    records.push({
      name: `pipeline.create-to-assigned[${variant}]`,
      metric: 'rate (orchestrator + scheduler, no store)',
      unit: 'tasks/s',
      value: Math.round(r.assignments.length / ((orch.wallMs + first.wallMs) / 1000)),
    });
    const perNode = new Map<string, number>();
    for (const a of r.assignments) perNode.set(a.nodeId, (perNode.get(a.nodeId) ?? 0) + 1);
    const counts = [...perNode.values()];
    records.push({
      name: `scheduler.place[${variant}]`,
      metric: 'spread(max-min tasks per used node)',
      unit: 'count',
      value: counts.length ? Math.max(...counts) - Math.min(...counts) : 0,
    });

    // A second wave of 10,000 tasks onto nodes already holding the first 100,000.
    const byTask = new Map(tasks.map((t) => [t.ID, t]));
    const tasksByNode = new Map<string, Task[]>();
    for (const a of r.assignments) {
      const t = byTask.get(a.taskId)!;
      t.NodeID = a.nodeId;
      t.Status = { State: 'running' };
      const list = tasksByNode.get(a.nodeId);
      if (list) list.push(t);
      else tasksByNode.set(a.nodeId, [t]);
    }
    const wave = services.slice(0, 100).flatMap(
      (s) =>
        reconcileService(
          {
            service: { ...s, Spec: { ...s.Spec, Mode: { Replicated: { Replicas: REPLICAS * 2 } } } },
            tasks: tasks.filter((t) => t.ServiceID === s.ID),
            nodes,
          },
          deps,
        ).create,
    );
    for (const t of wave) t.Status = { State: 'pending' };
    const second = time(() => schedule({ pending: wave, nodes, tasksByNode, services: byId }));
    records.push({
      name: `scheduler.place-onto-busy-cluster[${variant}]`,
      metric: 'rate',
      unit: 'tasks/s',
      value: Math.round(second.result.assignments.length / (second.wallMs / 1000)),
    });
    records.push({
      name: `scheduler.place-onto-busy-cluster[${variant}]`,
      metric: 'cpu',
      unit: 'ms',
      value: round(second.cpuMs),
    });
  }

  // One reconcile pass over a steady 1,000-replica service (what the driver pays per task event).
  const big: Service = {
    ...fakeService(0, 'plain'),
    Spec: { ...fakeService(0, 'plain').Spec, Mode: { Replicated: { Replicas: 1000 } } },
  };
  const bigTasks = reconcileService({ service: big, tasks: [], nodes }, deps).create.map((t, i) => ({
    ...t,
    NodeID: nodes[i % NODES]!.ID,
    Status: { State: 'running' as const, Timestamp: T0 },
  }));
  const pass = (): number => reconcileService({ service: big, tasks: bigTasks, nodes }, deps).update.length;
  for (let i = 0; i < 5; i++) pass(); // warm up the JIT
  const steady = time(() => {
    let n = 0;
    for (let i = 0; i < 50; i++) n += pass();
    return n;
  });
  records.push({
    name: 'orchestrator.steady-pass[1000 replicas]',
    metric: 'per pass',
    unit: 'ms',
    value: round(steady.wallMs / 50),
  });

  for (const rec of records) process.stdout.write(`${JSON.stringify(rec)}\n`);
  const w = Math.max(...records.map((r) => r.name.length));
  const mw = Math.max(...records.map((r) => r.metric.length));
  process.stderr.write(
    `\nsimulated nodes (fake, in-process; no store, no raft): ${NODES} nodes, ${SERVICES} services x ${REPLICAS} replicas\n`,
  );
  for (const rec of records) {
    process.stderr.write(
      `${rec.name.padEnd(w)}  ${rec.metric.padEnd(mw)}  ${String(rec.value).padStart(10)} ${rec.unit}\n`,
    );
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

main();
