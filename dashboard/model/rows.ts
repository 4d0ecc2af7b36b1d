// What the pages show of a service, derived from the API's object alone: pure, used by
// the browser bundle and unit-tested without one.
import { type Service, STACK_NAMESPACE_LABEL } from '../../lib/index.js';

export type ServiceModeName = 'replicated' | 'global' | 'replicated-job' | 'global-job';

export interface ServiceRow {
  id: string;
  name: string;
  /** The stack (compose project) it belongs to, if any. */
  stack: string | undefined;
  mode: ServiceModeName;
  running: number;
  desired: number;
  /** `running/desired`, as `docker service ls` prints it. */
  replicas: string;
  /** Fewer tasks run than are wanted. */
  short: boolean;
  /** The image without its digest. */
  image: string;
  /** `published:target/protocol` for each published port. */
  ports: string[];
  /** The networks it is attached to, by name (an ID when the name is unknown). */
  networks: string[];
  update: UpdateRow | undefined;
  version: number;
}

export interface UpdateRow {
  state: string;
  message: string;
  /** A rollout or rollback is under way. */
  active: boolean;
}

export function modeOf(s: Service): ServiceModeName {
  const m = s.Spec.Mode ?? {};
  if (m.Global) return 'global';
  if (m.ReplicatedJob) return 'replicated-job';
  if (m.GlobalJob) return 'global-job';
  return 'replicated';
}

/** Network names by ID, from the node's `/networks`. */
export type NetworkNames = ReadonlyMap<string, string>;

export function networkNames(networks: readonly { Id: string; Name: string }[]): NetworkNames {
  return new Map(networks.map((n) => [n.Id, n.Name]));
}

export function serviceRow(s: Service, networkNames: NetworkNames = new Map()): ServiceRow {
  const mode = modeOf(s);
  const running = s.ServiceStatus?.RunningTasks ?? 0;
  const desired =
    s.ServiceStatus?.DesiredTasks ?? (mode === 'replicated' ? (s.Spec.Mode?.Replicated?.Replicas ?? 1) : 0);
  const image = s.Spec.TaskTemplate?.ContainerSpec?.Image ?? '';
  const ports = (s.Endpoint?.Ports ?? s.Spec.EndpointSpec?.Ports ?? [])
    .filter((p) => p.PublishedPort !== undefined && p.PublishedPort !== 0)
    .map((p) => `${p.PublishedPort}:${p.TargetPort ?? p.PublishedPort}/${p.Protocol ?? 'tcp'}`);
  const nets = s.Spec.TaskTemplate?.Networks ?? s.Spec.Networks ?? [];
  const u = s.UpdateStatus;
  return {
    id: s.ID,
    name: s.Spec.Name ?? s.ID,
    stack: s.Spec.Labels?.[STACK_NAMESPACE_LABEL],
    mode,
    running,
    desired,
    replicas: `${running}/${desired}`,
    short: running < desired,
    image: image.replace(/@sha256:[0-9a-f]+$/, ''),
    ports,
    networks: nets.map((n) => networkNames.get(n.Target) ?? n.Target),
    update: u?.State
      ? {
          state: u.State,
          message: u.Message ?? '',
          active: u.State === 'updating' || u.State === 'rollback_started',
        }
      : undefined,
    version: s.Version.Index,
  };
}

/** Rows sorted by name, as the services page lists them. */
export function serviceRows(services: readonly Service[], networkNames?: NetworkNames): ServiceRow[] {
  return services
    .map((s) => serviceRow(s, networkNames))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The replica count a scale action may ask for: a whole number from 0 to 10,000. */
export function parseReplicas(raw: unknown): number | undefined {
  const n = typeof raw === 'string' && /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : raw;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 10_000 ? n : undefined;
}
