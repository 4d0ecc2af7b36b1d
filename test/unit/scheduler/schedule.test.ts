import { describe, expect, it } from 'vitest';
import {
  ENCRYPTED_OVERLAY_PLUGIN,
  type Node,
  type Service,
  type Task,
  type TaskSpec,
} from '../../../lib/index.js';
import { parseConstraint } from '../../../manager/constraints/index.js';
import { schedule } from '../../../manager/scheduler/index.js';
import { makeNode, makeService, makeTask } from './fixtures.js';

function run(
  nodes: Node[],
  pending: Task[],
  opts: { existing?: Task[]; services?: Service[] } = {},
): { byNode: Map<string, string[]>; result: ReturnType<typeof schedule> } {
  const tasksByNode = new Map<string, Task[]>();
  for (const t of opts.existing ?? []) {
    const list = tasksByNode.get(t.NodeID!) ?? [];
    list.push(t);
    tasksByNode.set(t.NodeID!, list);
  }
  const services = new Map((opts.services ?? []).map((s) => [s.ID, s]));
  const result = schedule({ pending, nodes, tasksByNode, services });
  const byNode = new Map<string, string[]>();
  for (const a of result.assignments) byNode.set(a.nodeId, [...(byNode.get(a.nodeId) ?? []), a.taskId]);
  return { byNode, result };
}

function tasksOf(serviceId: string, n: number, spec: TaskSpec = {}): Task[] {
  return Array.from({ length: n }, (_, i) =>
    makeTask(`${serviceId}.${i + 1}`, serviceId, spec, { Slot: i + 1 }),
  );
}

describe('scheduler: spread', () => {
  it('a 10-service stack on 5 nodes spreads evenly, each service over distinct nodes', () => {
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'].map((id) => makeNode(id));
    const pending = Array.from({ length: 10 }, (_, s) => tasksOf(`svc${s}`, 2)).flat();
    const { byNode, result } = run(nodes, pending);
    expect(result.unschedulable).toEqual([]);
    expect(result.assignments).toHaveLength(20);
    for (const n of nodes) expect(byNode.get(n.ID)).toHaveLength(4);
    for (let s = 0; s < 10; s++) {
      const placed = result.assignments.filter((a) => a.taskId.startsWith(`svc${s}.`)).map((a) => a.nodeId);
      expect(new Set(placed).size).toBe(2);
    }
  });

  it('prefers the node with fewer tasks of the service, then fewer tasks overall', () => {
    const nodes = [makeNode('a'), makeNode('b'), makeNode('c')];
    const existing = [
      makeTask('x1', 'web', {}, { NodeID: 'a', Status: { State: 'running' } }),
      makeTask('y1', 'db', {}, { NodeID: 'b', Status: { State: 'running' } }),
      makeTask('y2', 'db', {}, { NodeID: 'b', Status: { State: 'running' } }),
    ];
    const { result } = run(nodes, tasksOf('web', 2), { existing });
    // c has nothing; b has no web task but two others; a already runs web.
    expect(result.assignments.map((a) => a.nodeId)).toEqual(['c', 'b']);
  });

  it('spreads over placement preference values, not over nodes', () => {
    const nodes = [
      makeNode('a1', { labels: { zone: 'a' } }),
      makeNode('b1', { labels: { zone: 'b' } }),
      makeNode('b2', { labels: { zone: 'b' } }),
      makeNode('c1', { labels: { zone: 'c' } }),
      makeNode('c2', { labels: { zone: 'c' } }),
      makeNode('c3', { labels: { zone: 'c' } }),
    ];
    const spec: TaskSpec = {
      Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] },
    };
    const { byNode, result } = run(nodes, tasksOf('web', 6, spec));
    const zoneOf = new Map(nodes.map((n) => [n.ID, n.Spec.Labels!.zone]));
    const perZone = new Map<string, number>();
    for (const a of result.assignments)
      perZone.set(zoneOf.get(a.nodeId)!, (perZone.get(zoneOf.get(a.nodeId)!) ?? 0) + 1);
    expect(Object.fromEntries(perZone)).toEqual({ a: 2, b: 2, c: 2 });
    expect(byNode.get('a1')).toHaveLength(2);
  });

  it('nests preferences: zone first, then rack within each zone', () => {
    const nodes = [
      makeNode('a-r1', { labels: { zone: 'a', rack: '1' } }),
      makeNode('a-r1b', { labels: { zone: 'a', rack: '1' } }),
      makeNode('a-r2', { labels: { zone: 'a', rack: '2' } }),
      makeNode('b-r1', { labels: { zone: 'b', rack: '1' } }),
    ];
    const spec: TaskSpec = {
      Placement: {
        Preferences: [
          { Spread: { SpreadDescriptor: 'node.labels.zone' } },
          { Spread: { SpreadDescriptor: 'node.labels.rack' } },
        ],
      },
    };
    const { byNode } = run(nodes, tasksOf('web', 4, spec));
    expect(byNode.get('b-r1')).toHaveLength(2);
    // Zone a's two tasks go one per rack, not both onto rack 1's two nodes.
    expect(byNode.get('a-r2')).toHaveLength(1);
    expect((byNode.get('a-r1')?.length ?? 0) + (byNode.get('a-r1b')?.length ?? 0)).toBe(1);
  });

  it('counts nodes without the preference label as a branch of their own', () => {
    const nodes = [makeNode('a1', { labels: { zone: 'a' } }), makeNode('x1'), makeNode('x2')];
    const spec: TaskSpec = {
      Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] },
    };
    const { byNode } = run(nodes, tasksOf('web', 4, spec));
    expect(byNode.get('a1')).toHaveLength(2);
    expect((byNode.get('x1')?.length ?? 0) + (byNode.get('x2')?.length ?? 0)).toBe(2);
  });
});

describe('scheduler: filters', () => {
  it('constraint node.labels.zone==a keeps tasks on zone-a nodes', () => {
    const nodes = [
      makeNode('a1', { labels: { zone: 'a' } }),
      makeNode('a2', { labels: { zone: 'a' } }),
      makeNode('b1', { labels: { zone: 'b' } }),
    ];
    const spec: TaskSpec = { Placement: { Constraints: ['node.labels.zone==a'] } };
    const { result } = run(nodes, tasksOf('web', 5, spec));
    expect(result.assignments).toHaveLength(5);
    expect(new Set(result.assignments.map((a) => a.nodeId))).toEqual(new Set(['a1', 'a2']));
  });

  it('matches every supported constraint key with == and !=', () => {
    const node = makeNode('n1', {
      role: 'manager',
      labels: { zone: 'a' },
      engineLabels: { disk: 'ssd' },
      os: 'linux',
      arch: 'x86_64',
    });
    const other = makeNode('n2', { role: 'worker', labels: { zone: 'b' }, os: 'linux', arch: 'aarch64' });
    const cases: [string, string[]][] = [
      ['node.id==n1', ['n1']],
      ['node.id!=n1', ['n2']],
      ['node.hostname==host-n2', ['n2']],
      ['node.role==manager', ['n1']],
      ['node.role!=manager', ['n2']],
      ['node.platform.os==linux', ['n1', 'n2']],
      ['node.platform.arch==arm64', ['n2']],
      ['node.platform.arch==x86_64', ['n1']],
      ['node.labels.zone!=a', ['n2']],
      ['engine.labels.disk==SSD', ['n1']],
      // A node without the label differs from every value.
      ['engine.labels.disk!=ssd', ['n2']],
    ];
    for (const [constraint, expected] of cases) {
      const spec: TaskSpec = { Placement: { Constraints: [constraint] } };
      const { result } = run(
        [node, other],
        tasksOf('s', 2, { ...spec, Placement: { ...spec.Placement, MaxReplicas: 1 } }),
      );
      expect(new Set(result.assignments.map((a) => a.nodeId)), constraint).toEqual(new Set(expected));
    }
  });

  it('rejects malformed constraints with a clear error and leaves the task pending', () => {
    expect(() => parseConstraint('node.labels.zone=a')).toThrow(/expected KEY==VALUE/);
    expect(() => parseConstraint('node.colour==red')).toThrow(/unknown key "node.colour"/);
    const { result } = run([makeNode('n1')], tasksOf('s', 1, { Placement: { Constraints: ['zone=a'] } }));
    expect(result.assignments).toEqual([]);
    expect(result.unschedulable[0]?.reason).toMatch(/invalid placement constraint "zone=a"/);
  });

  it('places nothing on nodes that are down, paused or drained, and says why', () => {
    const nodes = [
      makeNode('down', { state: 'down' }),
      makeNode('paused', { availability: 'pause' }),
      makeNode('drained', { availability: 'drain' }),
    ];
    const { result } = run(nodes, tasksOf('s', 2));
    expect(result.assignments).toEqual([]);
    expect(result.unschedulable).toEqual([
      { taskId: 's.1', reason: 'no suitable node (3 nodes not available for new tasks)' },
      { taskId: 's.2', reason: 'no suitable node (3 nodes not available for new tasks)' },
    ]);
  });

  it('explains mixed failures, most common first, in Docker words', () => {
    const nodes = [
      makeNode('b1', { labels: { zone: 'b' } }),
      makeNode('b2', { labels: { zone: 'b' } }),
      makeNode('b3', { labels: { zone: 'b' } }),
      makeNode('a1', { labels: { zone: 'a' }, cpus: 1 }),
    ];
    const spec: TaskSpec = {
      Placement: { Constraints: ['node.labels.zone==a'] },
      Resources: { Reservations: { NanoCPUs: 2e9 } },
    };
    const { result } = run(nodes, tasksOf('s', 1, spec));
    expect(result.unschedulable[0]?.reason).toBe(
      'no suitable node (scheduling constraints not satisfied on 3 nodes; insufficient resources on 1 node)',
    );
  });

  it('subtracts the reservations of tasks already on a node and of tasks placed in the same pass', () => {
    const nodes = [makeNode('n1', { cpus: 2, memoryBytes: 4 * 2 ** 30 })];
    const res = { Resources: { Reservations: { NanoCPUs: 1e9, MemoryBytes: 2 ** 30 } } };
    const existing = [makeTask('old', 'other', res, { NodeID: 'n1', Status: { State: 'running' } })];
    // A task the agent reported dead holds nothing.
    existing.push(
      makeTask('dead', 'other', res, { NodeID: 'n1', Status: { State: 'failed' }, DesiredState: 'shutdown' }),
    );
    const { result } = run(nodes, tasksOf('s', 3, res), { existing });
    expect(result.assignments.map((a) => a.taskId)).toEqual(['s.1']);
    expect(result.unschedulable.map((u) => u.reason)).toEqual([
      'no suitable node (insufficient resources on 1 node)',
      'no suitable node (insufficient resources on 1 node)',
    ]);
  });

  it('never puts two tasks publishing the same host-mode port on one node', () => {
    const svc = makeService('web', {
      EndpointSpec: {
        Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }],
      },
    });
    const nodes = [makeNode('n1'), makeNode('n2')];
    const existing = [makeTask('w0', 'web', {}, { NodeID: 'n1', Status: { State: 'running' } })];
    const { result } = run(nodes, tasksOf('web', 2), { existing, services: [svc] });
    expect(result.assignments).toEqual([{ taskId: 'web.1', nodeId: 'n2' }]);
    expect(result.unschedulable[0]?.reason).toBe(
      'no suitable node (host-mode port already in use on 2 nodes)',
    );
  });

  it('honours max replicas per node', () => {
    const nodes = [makeNode('n1'), makeNode('n2')];
    const { result } = run(nodes, tasksOf('s', 3, { Placement: { MaxReplicas: 1 } }));
    expect(new Set(result.assignments.map((a) => a.nodeId))).toEqual(new Set(['n1', 'n2']));
    expect(result.unschedulable[0]?.reason).toBe('no suitable node (max replicas per node limit exceed)');
  });

  it("places an image only on nodes of one of the image's platforms", () => {
    const nodes = [makeNode('amd', { arch: 'x86_64' }), makeNode('arm', { arch: 'aarch64' })];
    const spec: TaskSpec = { Placement: { Platforms: [{ OS: 'linux', Architecture: 'arm64' }] } };
    const { result } = run(nodes, tasksOf('s', 2, spec));
    expect(result.assignments.map((a) => a.nodeId)).toEqual(['arm', 'arm']);
    const win: TaskSpec = { Placement: { Platforms: [{ OS: 'windows', Architecture: 'amd64' }] } };
    expect(run(nodes, tasksOf('w', 1, win)).result.unschedulable[0]?.reason).toBe(
      'no suitable node (unsupported platform on 2 nodes)',
    );
  });

  it('places a task that names its node (global services) only there', () => {
    const nodes = [makeNode('n1'), makeNode('n2')];
    const pinned = makeTask('g1', 'g', {}, { NodeID: 'n2' });
    const gone = makeTask('g2', 'g', {}, { NodeID: 'n9' });
    const { result } = run(nodes, [pinned, gone]);
    expect(result.assignments).toEqual([{ taskId: 'g1', nodeId: 'n2' }]);
    expect(result.unschedulable).toEqual([
      { taskId: 'g2', reason: 'no suitable node (node n9 is not in the cluster)' },
    ]);
  });

  it('ignores pending tasks that were asked to stop', () => {
    const stopped = makeTask('s1', 's', {}, { DesiredState: 'shutdown' });
    const { result } = run([makeNode('n1')], [stopped]);
    expect(result).toEqual({ assignments: [], unschedulable: [] });
  });

  it('says so when the cluster has no nodes', () => {
    expect(run([], tasksOf('s', 1)).result.unschedulable[0]?.reason).toBe(
      'no suitable node (no nodes in the cluster)',
    );
  });
});

describe('scheduler: scale', () => {
  it('places 20,000 tasks of 200 services on 200 nodes evenly', () => {
    const nodes = Array.from({ length: 200 }, (_, i) => makeNode(`n${String(i).padStart(3, '0')}`));
    const pending: Task[] = [];
    for (let s = 0; s < 200; s++) {
      const spec: TaskSpec = { ContainerSpec: { Image: 'busybox' } };
      for (let r = 0; r < 100; r++) pending.push(makeTask(`s${s}.${r}`, `s${s}`, spec));
    }
    const { byNode, result } = run(nodes, pending);
    expect(result.assignments).toHaveLength(20_000);
    const counts = [...byNode.values()].map((l) => l.length);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });
});

describe('scheduler: encrypted overlays', () => {
  const overlay = (id: string, options: Record<string, string>) => ({
    Network: { Name: id, Id: id, Driver: 'overlay', Options: options },
    Addresses: ['10.0.9.2/24'],
  });
  const onNetwork = (serviceId: string, n: number, options: Record<string, string>) =>
    tasksOf(serviceId, n).map(
      (t) => ({ ...t, NetworksAttachments: [overlay(`${serviceId}-net`, options)] }) as unknown as Task,
    );

  it('places a task on an encrypted overlay only on nodes that can encrypt, and says why when none can', () => {
    const nodes = [
      makeNode('clear1'),
      makeNode('esp', { plugins: [ENCRYPTED_OVERLAY_PLUGIN] }),
      makeNode('clear2'),
    ];
    const { result } = run(nodes, onNetwork('sealed', 2, { encrypted: '' }));
    expect(result.assignments.map((a) => a.nodeId)).toEqual(['esp', 'esp']);

    const none = run([makeNode('a'), makeNode('b')], onNetwork('sealed', 1, { encrypted: '' }));
    expect(none.result.assignments).toEqual([]);
    expect(none.result.unschedulable[0]?.reason).toBe(
      'no suitable node (no IPsec ESP for encrypted overlays on 2 nodes)',
    );
  });

  it('places tasks on a plain overlay anywhere', () => {
    const { result } = run([makeNode('a'), makeNode('b')], onNetwork('plain', 2, {}));
    expect(result.assignments.map((a) => a.nodeId).sort()).toEqual(['a', 'b']);
  });

  it('keeps apart tasks of one service that differ in whether they need encryption', () => {
    const nodes = [makeNode('clear'), makeNode('esp', { plugins: [ENCRYPTED_OVERLAY_PLUGIN] })];
    const pending = [
      ...onNetwork('s', 1, {}),
      ...onNetwork('s', 1, { encrypted: '' }).map((t) => ({ ...t, ID: 's.new' })),
    ];
    const { result } = run(nodes, pending, {});
    expect(result.assignments.find((a) => a.taskId === 's.new')?.nodeId).toBe('esp');
    expect(result.unschedulable).toEqual([]);
  });
});
