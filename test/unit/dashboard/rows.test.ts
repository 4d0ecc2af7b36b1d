import { describe, expect, it } from 'vitest';
import { parseReplicas, serviceRow, serviceRows } from '../../../dashboard/model/index.js';
import type { Service } from '../../../lib/index.js';

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
  it('shows what `docker service ls` shows, and the rollout', () => {
    expect(serviceRow(base)).toEqual({
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
      networks: 2,
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

  it('takes only whole replica counts from 0 to 10,000', () => {
    expect([3, '12', 0, '0'].map(parseReplicas)).toEqual([3, 12, 0, 0]);
    expect([-1, 1.5, '1e3', 'x', 10_001, null, undefined].map(parseReplicas)).toEqual(
      Array(7).fill(undefined),
    );
  });
});
