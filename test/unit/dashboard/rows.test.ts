import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  nodeRows,
  parseReplicas,
  rolloutRows,
  serviceRow,
  serviceRows,
  stackRows,
  taskRows,
} from '../../../dashboard/model/index.js';
import { logLines } from '../../../dashboard/server/index.js';
import type { Node, Service, Task } from '../../../lib/index.js';

const base: Service = {
  ID: 'abc',
  Version: { Index: 4 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: {
    Name: 'shop_web',
    Labels: { 'com.docker.stack.namespace': 'shop' },
    Mode: { Replicated: { Replicas: 3 } },
    TaskTemplate: {
      ContainerSpec: { Image: 'localhost/web:1@sha256:0123abcd' },
      Networks: [{ Target: 'n1' }, { Target: 'n2' }],
    },
  },
  Endpoint: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 9000 }] },
  ServiceStatus: { RunningTasks: 2, DesiredTasks: 3, CompletedTasks: 0 },
  UpdateStatus: { State: 'updating', Message: 'update in progress' },
};

describe('service rows', () => {
  it('shows what `docker service ls` shows, its networks by name, and the rollout', () => {
    expect(serviceRow(base, new Map([['n1', 'shop_front']]))).toEqual({
      id: 'abc',
      name: 'shop_web',
      stack: 'shop',
      mode: 'replicated',
      running: 2,
      desired: 3,
      replicas: '2/3',
      short: true,
      image: 'localhost/web:1',
      ports: ['8080:80/tcp'],
      networks: ['shop_front', 'n2'],
      update: { state: 'updating', message: 'update in progress', active: true },
      version: 4,
    });
  });

  it('names global services and jobs, and sorts by name', () => {
    const global = {
      ...base,
      ID: 'g',
      Spec: { Name: 'a_agent', Mode: { Global: {} } },
      UpdateStatus: undefined,
    };
    const rows = serviceRows([base, global]);
    expect(rows.map((r) => [r.name, r.mode, r.update])).toEqual([
      ['a_agent', 'global', undefined],
      ['shop_web', 'replicated', { state: 'updating', message: 'update in progress', active: true }],
    ]);
  });

  it('lists the last rollouts with their outcome, newest first', () => {
    const s = {
      ...base,
      'x-skiff-rollouts': [
        {
          Kind: 'update',
          Outcome: 'in_progress',
          StartedAt: '2025-01-01T00:01:00Z',
          Image: 'web:3@sha256:00ff',
        },
        {
          Kind: 'update',
          Outcome: 'rolled_back',
          StartedAt: '2025-01-01T00:00:00Z',
          FinishedAt: '2025-01-01T00:00:42Z',
          Message: 'update in progress',
          Image: 'web:2',
        },
      ],
    } as Service;
    expect(rolloutRows(s, Date.parse('2025-01-01T00:01:05Z'))).toEqual([
      {
        kind: 'update',
        outcome: 'in progress',
        outcomeClass: 'in_progress',
        image: 'web:3',
        startedAt: '2025-01-01T00:01:00Z',
        finishedAt: '',
        took: '5s',
        message: '',
      },
      {
        kind: 'update',
        outcome: 'rolled back',
        outcomeClass: 'rolled_back',
        image: 'web:2',
        startedAt: '2025-01-01T00:00:00Z',
        finishedAt: '2025-01-01T00:00:42Z',
        took: '42s',
        message: 'update in progress',
      },
    ]);
    expect(rolloutRows(base, 0)).toEqual([]);
  });

  it('takes only whole replica counts from 0 to 10,000', () => {
    expect([3, '12', 0, '0'].map(parseReplicas)).toEqual([3, 12, 0, 0]);
    expect([-1, 1.5, '1e3', 'x', 10_001, null, undefined].map(parseReplicas)).toEqual(
      Array(7).fill(undefined),
    );
  });
});

describe('tasks, nodes and stacks', () => {
  const node = (id: string, host: string, extra: Partial<Node> = {}): Node => ({
    ID: id,
    Version: { Index: 3 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Role: 'manager', Availability: 'active', Labels: { zone: 'a', ssd: '' } },
    Description: {
      Hostname: host,
      Resources: { NanoCPUs: 2e9, MemoryBytes: 3.5 * 1024 ** 3 },
      Engine: { EngineVersion: '0.1.0' },
    },
    Status: { State: 'ready', Addr: '10.0.0.1' },
    ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '10.0.0.1:2377' },
    ...extra,
  });
  const task = (
    id: string,
    slot: number,
    desired: Task['DesiredState'],
    state: Task['DesiredState'],
    ts: string,
  ): Task => ({
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    ServiceID: 'abc',
    Slot: slot,
    NodeID: 'n1',
    Spec: {},
    Status: { State: state, Timestamp: ts, ...(state === 'failed' ? { Err: 'exit 1' } : {}) },
    DesiredState: desired,
  });

  it('lists current tasks first with their node, error and age', () => {
    const now = Date.parse('2025-01-01T01:00:00Z');
    const rows = taskRows(
      base,
      [
        task('t1', 2, 'shutdown', 'failed', '2025-01-01T00:59:30Z'),
        task('t2', 10, 'running', 'running', '2025-01-01T00:00:00Z'),
        task('t3', 2, 'running', 'starting', '2025-01-01T00:59:58Z'),
      ],
      [node('n1', 'host-1')],
      now,
    );
    expect(rows.map((r) => [r.name, r.state, r.node, r.error, r.age, r.current])).toEqual([
      ['shop_web.2', 'starting', 'host-1', '', '2s', true],
      ['shop_web.10', 'running', 'host-1', '', '1h', true],
      ['shop_web.2', 'failed', 'host-1', 'exit 1', '30s', false],
    ]);
  });

  it('shows nodes with role, leader, resources, labels and their running tasks', () => {
    const tasks = [task('t1', 1, 'running', 'running', ''), task('t2', 2, 'shutdown', 'complete', '')];
    expect(nodeRows([node('n1', 'host-1')], tasks)).toEqual([
      {
        id: 'n1',
        hostname: 'host-1',
        role: 'manager',
        leader: true,
        state: 'ready',
        availability: 'active',
        address: '10.0.0.1',
        engine: '0.1.0',
        cpus: '2',
        memory: '3.5 GiB',
        tasks: 1,
        labels: ['zone=a', 'ssd'],
        version: 3,
      },
    ]);
  });

  it('sums services into their stacks', () => {
    const web = serviceRow(base);
    const db = { ...web, id: 'db', name: 'shop_db', running: 1, desired: 1, short: false, update: undefined };
    const lone = { ...web, id: 'x', stack: undefined };
    expect(stackRows([web, db, lone])).toEqual([
      { name: 'shop', services: 2, running: 3, desired: 4, short: 1, updating: 1 },
    ]);
  });

  it("reads the node's multiplexed log frames into lines with their task", async () => {
    const frame = (stream: number, text: string) => {
      const head = Buffer.alloc(8);
      head[0] = stream;
      head.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([head, Buffer.from(text)]);
    };
    const attrs = 'com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1';
    const bytes = Buffer.concat([
      frame(1, `2025-01-01T00:00:00.000Z ${attrs} hello\n`),
      frame(2, `2025-01-01T00:00:01.000Z ${attrs} oops: a, b\n`),
    ]);
    // Split mid-frame, as a socket may.
    const lines = [];
    for await (const l of logLines(Readable.from([bytes.subarray(0, 20), bytes.subarray(20)]))) lines.push(l);
    expect(lines).toEqual([
      { stream: 'stdout', time: '2025-01-01T00:00:00.000Z', task: 't1', node: 'n1', text: 'hello' },
      { stream: 'stderr', time: '2025-01-01T00:00:01.000Z', task: 't1', node: 'n1', text: 'oops: a, b' },
    ]);
  });
});
