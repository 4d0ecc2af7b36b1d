// Builders for nodes, services and tasks in the Docker API shapes, for pure tests.

import type { Node, Service, ServiceSpec, Task, TaskSpec } from '../../../lib/index.js';

const T0 = '2026-01-01T00:00:00.000Z';

export function makeNode(
  id: string,
  opts: {
    labels?: Record<string, string>;
    engineLabels?: Record<string, string>;
    role?: 'worker' | 'manager';
    state?: Node['Status']['State'];
    availability?: 'active' | 'pause' | 'drain';
    cpus?: number;
    memoryBytes?: number;
    os?: string;
    arch?: string;
    /** Engine plugins the node reports (e.g. ENCRYPTED_OVERLAY_PLUGIN). */
    plugins?: { Type: string; Name: string }[];
  } = {},
): Node {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    Spec: {
      Role: opts.role ?? 'worker',
      Availability: opts.availability ?? 'active',
      Labels: opts.labels ?? {},
    },
    Description: {
      Hostname: `host-${id}`,
      Platform: { OS: opts.os ?? 'linux', Architecture: opts.arch ?? 'x86_64' },
      Resources: { NanoCPUs: (opts.cpus ?? 4) * 1e9, MemoryBytes: opts.memoryBytes ?? 8 * 2 ** 30 },
      Engine: { Labels: opts.engineLabels ?? {}, ...(opts.plugins ? { Plugins: opts.plugins } : {}) },
    },
    Status: { State: opts.state ?? 'ready' },
  };
}

export function makeService(id: string, spec: Partial<ServiceSpec> = {}): Service {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    Spec: {
      Name: id,
      TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
      Mode: { Replicated: { Replicas: 1 } },
      ...spec,
    },
  };
}

export function makeTask(
  id: string,
  serviceId: string,
  spec: TaskSpec = {},
  extra: Partial<Task> = {},
): Task {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    ServiceID: serviceId,
    Spec: { ContainerSpec: { Image: 'busybox' }, ...spec },
    Status: { State: 'pending' },
    DesiredState: 'running',
    ...extra,
  };
}
