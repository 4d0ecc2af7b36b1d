// What `skiff service update`'s flags do to a service's spec, as `docker service update`
// does it: a pure function, so the CLI only fetches, applies and writes.
import type { PortConfig, ServiceSpec } from '../lib/index.js';
import { CliUsageError } from './output.js';

export interface ServiceUpdateFlags {
  image?: string;
  replicas?: number;
  envAdd: string[];
  envRm: string[];
  publishAdd: string[];
  publishRm: string[];
  labelAdd: string[];
  labelRm: string[];
  constraintAdd: string[];
  constraintRm: string[];
  force?: boolean;
}

/** The spec after the flags; the input is left as it was. */
export function applyServiceUpdate(current: ServiceSpec, o: ServiceUpdateFlags): ServiceSpec {
  const spec = structuredClone(current);
  const cs = spec.TaskTemplate?.ContainerSpec ?? { Image: '' };
  spec.TaskTemplate = { ...spec.TaskTemplate, ContainerSpec: cs };
  if (o.image) cs.Image = o.image;
  if (o.replicas !== undefined) {
    if (!spec.Mode?.Replicated && spec.Mode !== undefined)
      throw new CliUsageError('--replicas applies to replicated services only');
    spec.Mode = { Replicated: { Replicas: o.replicas } };
  }
  if (o.envAdd.length || o.envRm.length) {
    const drop = new Set([...o.envRm, ...o.envAdd.map((e) => e.split('=')[0])]);
    cs.Env = [...(cs.Env ?? []).filter((e) => !drop.has(e.split('=')[0] ?? '')), ...o.envAdd];
  }
  if (o.labelAdd.length || o.labelRm.length) {
    const labels = { ...spec.Labels };
    for (const key of o.labelRm) delete labels[key];
    for (const pair of o.labelAdd) {
      const i = pair.indexOf('=');
      labels[i < 0 ? pair : pair.slice(0, i)] = i < 0 ? '' : pair.slice(i + 1);
    }
    spec.Labels = labels;
  }
  if (o.constraintAdd.length || o.constraintRm.length) {
    const drop = new Set([...o.constraintRm, ...o.constraintAdd].map(normalizeConstraint));
    const kept = (spec.TaskTemplate.Placement?.Constraints ?? []).filter(
      (c) => !drop.has(normalizeConstraint(c)),
    );
    spec.TaskTemplate.Placement = {
      ...spec.TaskTemplate.Placement,
      Constraints: [...kept, ...o.constraintAdd],
    };
  }
  if (o.publishAdd.length || o.publishRm.length) {
    const added = o.publishAdd.map(parsePublish);
    // docker's --publish-rm names the target port (80, 80/udp) or the whole mapping.
    const removed = o.publishRm.map(parsePublishRm);
    const ports = (spec.EndpointSpec?.Ports ?? []).filter(
      (p) =>
        !removed.some(
          (r) =>
            r.target === p.TargetPort &&
            r.protocol === (p.Protocol ?? 'tcp') &&
            (r.published === undefined || r.published === p.PublishedPort),
        ) && !added.some((a) => a.PublishedPort === p.PublishedPort && a.Protocol === (p.Protocol ?? 'tcp')),
    );
    spec.EndpointSpec = { ...spec.EndpointSpec, Ports: [...ports, ...added] };
  }
  if (o.force) spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
  return spec;
}

/** `--publish 8080:80[/udp]` as the API's port config (ingress mode, as docker's default). */
export function parsePublish(p: string): PortConfig & { Protocol: 'tcp' | 'udp' } {
  const m = /^(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(p);
  const published = Number(m?.[1]);
  const target = Number(m?.[2]);
  if (!m || published < 1 || published > 65535 || target < 1 || target > 65535)
    throw new CliUsageError(`invalid --publish "${p}": use PUBLISHED:TARGET[/tcp|udp], e.g. 8080:80`);
  return {
    PublishedPort: published,
    TargetPort: target,
    Protocol: (m[3] ?? 'tcp') as 'tcp' | 'udp',
    PublishMode: 'ingress',
  };
}

function parsePublishRm(p: string): { target: number; published?: number; protocol: string } {
  const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(p);
  if (!m)
    throw new CliUsageError(
      `invalid --publish-rm "${p}": use TARGET[/tcp|udp] or PUBLISHED:TARGET[/tcp|udp], e.g. 80`,
    );
  return {
    target: Number(m[2]),
    ...(m[1] !== undefined ? { published: Number(m[1]) } : {}),
    protocol: m[3] ?? 'tcp',
  };
}

/** `node.role == worker` and `node.role==worker` are the same constraint. */
function normalizeConstraint(c: string): string {
  return c.replace(/\s+/g, '');
}
