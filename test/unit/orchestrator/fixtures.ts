// Builders for the orchestrator tests (Docker API shapes).

import type { Node, Service, ServiceSpec } from '../../../lib/index.js';

export const T0 = '2026-01-01T00:00:00.000Z';

export function node(
  id: string,
  opts: { labels?: Record<string, string>; state?: Node['Status']['State'] } = {},
): Node {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    Spec: { Role: 'worker', Availability: 'active', Labels: opts.labels ?? {} },
    Description: {
      Hostname: id,
      Platform: { OS: 'linux', Architecture: 'x86_64' },
      Resources: { NanoCPUs: 4e9, MemoryBytes: 8 * 2 ** 30 },
    },
    Status: { State: opts.state ?? 'ready' },
  };
}

export function service(id: string, spec: Partial<ServiceSpec> = {}, image = 'app:v1'): Service {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    Spec: {
      Name: id,
      TaskTemplate: { ContainerSpec: { Image: image }, RestartPolicy: { Condition: 'any', Delay: 0 } },
      Mode: { Replicated: { Replicas: 1 } },
      ...spec,
    },
  };
}

/** The service after `docker service update --image`. */
export function withImage(s: Service, image: string): ServiceSpec {
  const spec = structuredClone(s.Spec);
  spec.TaskTemplate = {
    ...spec.TaskTemplate,
    ContainerSpec: { ...spec.TaskTemplate?.ContainerSpec, Image: image },
  };
  return spec;
}
