// The project as a stack of Docker-API-shaped objects, the way `docker stack deploy`
// converts a compose file: names prefixed with the namespace, everything labelled
// com.docker.stack.namespace. Used by both `compose up` and `stack deploy`. Reads only the
// env_file and secret/config files the project names.

import { readFileSync } from 'node:fs';
import {
  type ConfigReference,
  type ConfigSpec,
  type ContainerSpec,
  type EndpointSpec,
  type HealthConfig,
  type Mount,
  type NetworkAttachmentConfig,
  type NetworkCreateRequest,
  type PortConfig,
  type Resources,
  type RestartPolicy,
  type SecretReference,
  type SecretSpec,
  type ServiceMode,
  type ServiceSpec,
  SkiffError,
  STACK_IMAGE_LABEL,
  STACK_NAMESPACE_LABEL,
  type StackDependency,
  type UpdateConfig,
} from '../lib/index.js';
import { parseDotenv, parseEnvFile } from './dotenv.js';
import type { ComposeProject, ComposeService, ResourceSpec, UpdateOrRollback } from './types.js';
import { parseSize } from './units.js';

export interface StackVolume {
  name: string;
  driver: string;
  driverOpts: Record<string, string>;
  labels: Record<string, string>;
}

export interface Stack {
  namespace: string;
  /** One per active compose service, sorted by name; Name is `<namespace>_<service>`. */
  services: ServiceSpec[];
  networks: { name: string; spec: NetworkCreateRequest }[];
  volumes: StackVolume[];
  secrets: { name: string; spec: SecretSpec }[];
  configs: { name: string; spec: ConfigSpec }[];
  /** Keyed by compose service name. */
  dependsOn: Record<string, StackDependency[]>;
  /** The normalized compose services, keyed by compose service name. Nothing runs from these:
   * `compose up` and `stack deploy` both deploy only the service specs above, which carry every
   * key skiff honours (the loader refuses the others). */
  compose: Record<string, ComposeService>;
}

export interface StackIO {
  readFile(path: string): Buffer;
}

const defaultIO: StackIO = { readFile: (p) => readFileSync(p) };

/** Converts a loaded project; throws SkiffError when a file it needs cannot be read. */
export function projectToStack(project: ComposeProject, io: StackIO = defaultIO): Stack {
  const ns = project.name;
  const stackLabels = (l?: Record<string, string>) => ({ ...(l ?? {}), [STACK_NAMESPACE_LABEL]: ns });
  const stack: Stack = {
    namespace: ns,
    services: [],
    networks: [],
    volumes: [],
    secrets: [],
    configs: [],
    dependsOn: {},
    compose: {},
  };

  // A project loaded without normalization has no names yet: the default applies.
  const nameOf = (r: { name?: string; external?: boolean }, key: string) =>
    r.name ?? (r.external ? key : `${project.name}_${key}`);
  for (const [key, n] of Object.entries(project.networks)) {
    if (n.external) continue;
    const spec: NetworkCreateRequest = {
      Name: nameOf(n, key),
      Driver: n.driver ?? 'overlay',
      Scope: 'swarm',
      Labels: stackLabels(n.labels),
    };
    if (n.driver_opts) spec.Options = { ...n.driver_opts };
    if (n.internal !== undefined) spec.Internal = n.internal;
    if (n.attachable !== undefined) spec.Attachable = n.attachable;
    if (n.enable_ipv6 !== undefined) spec.EnableIPv6 = n.enable_ipv6;
    if (n.ipam) {
      spec.IPAM = {};
      if (n.ipam.driver) spec.IPAM.Driver = n.ipam.driver;
      if (n.ipam.options) spec.IPAM.Options = n.ipam.options;
      if (n.ipam.config) {
        spec.IPAM.Config = n.ipam.config.map((c) => ({
          ...(c.subnet ? { Subnet: c.subnet } : {}),
          ...(c.ip_range ? { IPRange: c.ip_range } : {}),
          ...(c.gateway ? { Gateway: c.gateway } : {}),
          ...(c.aux_addresses ? { AuxiliaryAddresses: c.aux_addresses } : {}),
        }));
      }
    }
    stack.networks.push({ name: spec.Name, spec });
  }
  for (const [key, v] of Object.entries(project.volumes)) {
    if (v.external) continue;
    stack.volumes.push({
      name: nameOf(v, key),
      driver: v.driver ?? 'local',
      driverOpts: { ...(v.driver_opts ?? {}) },
      labels: stackLabels(v.labels),
    });
  }
  for (const kind of ['secrets', 'configs'] as const) {
    for (const [key, s] of Object.entries(project[kind])) {
      if (s.external) continue;
      let data: Buffer;
      if (s.file !== undefined) data = readOrThrow(io, s.file, `${kind.slice(0, -1)} "${key}"`);
      else if (s.environment !== undefined) {
        const v = project.environment[s.environment];
        if (v === undefined) {
          throw new SkiffError(
            'invalid_argument',
            `${kind.slice(0, -1)} "${key}" reads the variable ${s.environment}, which is not set`,
            {
              hint: `set ${s.environment} in the environment or in .env`,
            },
          );
        }
        data = Buffer.from(v);
      } else data = Buffer.from(s.content ?? '');
      const spec: SecretSpec & ConfigSpec = {
        Name: nameOf(s, key),
        Labels: stackLabels(s.labels),
        Data: data.toString('base64'),
      };
      if (s.template_driver) spec.Templating = { Name: s.template_driver };
      if (kind === 'secrets' && s.driver)
        (spec as SecretSpec).Driver = { Name: s.driver, Options: s.driver_opts ?? {} };
      (kind === 'secrets' ? stack.secrets : stack.configs).push({ name: nameOf(s, key), spec });
    }
  }

  for (const name of Object.keys(project.services).sort()) {
    const s = project.services[name]!;
    stack.compose[name] = s;
    stack.dependsOn[name] = Object.entries(s.depends_on ?? {}).map(([service, d]) => ({ service, ...d }));
    stack.services.push(serviceSpec(project, name, s, io, stackLabels));
  }
  return stack;
}

function readOrThrow(io: StackIO, path: string, what: string): Buffer {
  try {
    return io.readFile(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new SkiffError(
      'invalid_argument',
      `cannot read ${path} for ${what}: ${code === 'ENOENT' ? 'no such file' : String(e)}`,
    );
  }
}

function serviceSpec(
  project: ComposeProject,
  name: string,
  s: ComposeService,
  io: StackIO,
  stackLabels: (l?: Record<string, string>) => Record<string, string>,
): ServiceSpec {
  const ns = project.name;
  const image = s.image ?? `${ns}-${name}`;
  const cs: ContainerSpec = { Image: image, Labels: stackLabels({ ...labelFiles(s, io), ...s.labels }) };
  if (s.entrypoint) cs.Command = s.entrypoint;
  if (s.command) cs.Args = s.command;
  if (s.hostname) cs.Hostname = s.hostname;
  const env = serviceEnv(project, name, s, io);
  if (env.length) cs.Env = env;
  if (s.working_dir) cs.Dir = s.working_dir;
  if (s.user) cs.User = s.user;
  if (s.group_add) cs.Groups = (s.group_add as string[]).map(String);
  if (s.tty !== undefined) cs.TTY = s.tty;
  if (s.stdin_open !== undefined) cs.OpenStdin = s.stdin_open;
  if (s.read_only !== undefined) cs.ReadOnly = s.read_only;
  if (s.init !== undefined) cs.Init = s.init;
  if (s.stop_signal) cs.StopSignal = s.stop_signal;
  if (s.stop_grace_period !== undefined) cs.StopGracePeriod = s.stop_grace_period;
  if (s.isolation) cs.Isolation = String(s.isolation);
  if (s.sysctls) cs.Sysctls = s.sysctls;
  if (s.cap_add) cs.CapabilityAdd = s.cap_add;
  if (s.cap_drop) cs.CapabilityDrop = s.cap_drop;
  if (s.privileges) cs.Privileges = s.privileges;
  if (s.privileged) cs.Privileged = true;
  if (s.devices?.length) {
    cs.Devices = s.devices.map((d) => ({
      PathOnHost: d.source,
      PathInContainer: d.target ?? d.source,
      CgroupPermissions: d.permissions ?? 'rwm',
    }));
  }
  if (s.ulimits) {
    cs.Ulimits = Object.entries(s.ulimits)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([n, u]) => ({ Name: n, Soft: u.single ?? u.soft ?? 0, Hard: u.single ?? u.hard ?? 0 }));
  }
  if (s.extra_hosts) {
    cs.Hosts = Object.entries(s.extra_hosts).flatMap(([host, ips]) => ips.map((ip) => `${ip} ${host}`));
  }
  if (s.dns || s.dns_search || s.dns_opt) {
    cs.DNSConfig = {
      ...(s.dns ? { Nameservers: s.dns } : {}),
      ...(s.dns_search ? { Search: s.dns_search } : {}),
      ...(s.dns_opt ? { Options: s.dns_opt } : {}),
    };
  }
  const hc = healthConfig(s);
  if (hc) cs.HealthCheck = hc;
  const mounts = (s.volumes ?? []).map((v): Mount => {
    const m: Mount = { Type: v.type === 'image' ? 'volume' : v.type, Target: v.target };
    if (v.read_only) m.ReadOnly = true;
    if (v.consistency) m.Consistency = v.consistency;
    if (v.type === 'volume' && v.source) {
      const decl = project.volumes[v.source];
      m.Source = decl?.name ?? `${ns}_${v.source}`;
      const vo: NonNullable<Mount['VolumeOptions']> = {};
      if (v.volume?.nocopy) vo.NoCopy = true;
      if (v.volume?.subpath) vo.Subpath = v.volume.subpath;
      if (decl && !decl.external) {
        vo.Labels = stackLabels(decl.labels);
        if (decl.driver) vo.DriverConfig = { Name: decl.driver, Options: decl.driver_opts ?? {} };
      }
      if (Object.keys(vo).length) m.VolumeOptions = vo;
    } else if (v.source) m.Source = v.source;
    if (v.type === 'bind' && v.bind?.propagation) {
      m.BindOptions = { Propagation: v.bind.propagation as NonNullable<Mount['BindOptions']>['Propagation'] };
    }
    if (v.type === 'tmpfs' && v.tmpfs) {
      m.TmpfsOptions = {
        ...(v.tmpfs.size !== undefined ? { SizeBytes: v.tmpfs.size } : {}),
        ...(v.tmpfs.mode !== undefined ? { Mode: v.tmpfs.mode } : {}),
      };
    }
    return m;
  });
  for (const t of s.tmpfs ?? []) {
    const [target, opts] = t.split(':');
    const m: Mount = { Type: 'tmpfs', Target: target! };
    const sizeOpt = /(?:^|,)size=([^,]+)/.exec(opts ?? '');
    const size = sizeOpt ? parseSize(sizeOpt[1]) : undefined;
    if (size !== undefined) m.TmpfsOptions = { SizeBytes: size };
    mounts.push(m);
  }
  if (mounts.length) cs.Mounts = mounts;
  if (s.secrets?.length) {
    cs.Secrets = s.secrets.map(
      (r): SecretReference => ({
        File: { Name: r.target ?? r.source, UID: r.uid ?? '0', GID: r.gid ?? '0', Mode: r.mode ?? 0o444 },
        SecretID: '',
        SecretName: project.secrets[r.source]?.name ?? `${ns}_${r.source}`,
      }),
    );
  }
  if (s.configs?.length) {
    cs.Configs = s.configs.map(
      (r): ConfigReference => ({
        File: {
          Name: r.target ?? `/${r.source}`,
          UID: r.uid ?? '0',
          GID: r.gid ?? '0',
          Mode: r.mode ?? 0o444,
        },
        ConfigID: '',
        ConfigName: project.configs[r.source]?.name ?? `${ns}_${r.source}`,
      }),
    );
  }

  const spec: ServiceSpec = {
    Name: `${ns}_${name}`,
    Labels: { ...stackLabels(s.deploy?.labels), [STACK_IMAGE_LABEL]: image },
    TaskTemplate: { ContainerSpec: cs },
    Mode: serviceMode(s),
  };
  const task = spec.TaskTemplate!;
  const resources = toResources(s);
  if (resources) task.Resources = resources;
  const restart = restartPolicy(s);
  if (restart) task.RestartPolicy = restart;
  const pl = s.deploy?.placement;
  if (pl) {
    task.Placement = {
      ...(pl.constraints ? { Constraints: pl.constraints } : {}),
      ...(pl.preferences
        ? { Preferences: pl.preferences.map((p) => ({ Spread: { SpreadDescriptor: p.spread } })) }
        : {}),
      ...(pl.max_replicas_per_node !== undefined ? { MaxReplicas: pl.max_replicas_per_node } : {}),
    };
  }
  if (typeof s.platform === 'string')
    task.Placement = { ...(task.Placement ?? {}), Platforms: [platformOf(String(s.platform))] };
  if (s.networks && !s.network_mode) {
    task.Networks = Object.entries(s.networks)
      .map(([key, n]): NetworkAttachmentConfig => {
        const aliases = [name, ...(n?.aliases ?? [])];
        const att: NetworkAttachmentConfig = {
          Target: project.networks[key]?.name ?? `${ns}_${key}`,
          Aliases: aliases,
        };
        if (n?.driver_opts) att.DriverOpts = n.driver_opts;
        return att;
      })
      .sort((a, b) => a.Target.localeCompare(b.Target));
  }
  if (s.logging?.driver) {
    const opts: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.logging.options ?? {})) if (v !== null) opts[k] = v;
    task.LogDriver = { Name: s.logging.driver, Options: opts };
  }
  if (s.deploy?.update_config) spec.UpdateConfig = updateConfig(s.deploy.update_config);
  if (s.deploy?.rollback_config) spec.RollbackConfig = updateConfig(s.deploy.rollback_config);
  const endpoint: EndpointSpec = { Mode: s.deploy?.endpoint_mode ?? 'vip' };
  const ports = (s.ports ?? []).flatMap(portConfigs);
  if (ports.length) endpoint.Ports = ports;
  spec.EndpointSpec = endpoint;
  return spec;
}

function serviceEnv(project: ComposeProject, name: string, s: ComposeService, io: StackIO): string[] {
  const env: Record<string, string> = {};
  for (const ef of s.env_file ?? []) {
    let text: string;
    try {
      text = io.readFile(ef.path).toString('utf8');
    } catch (e) {
      if (!ef.required && (e as { code?: string }).code === 'ENOENT') continue;
      throw new SkiffError(
        'invalid_argument',
        `service "${name}": cannot read env_file ${ef.path}: no such file`,
        {
          hint: 'create the file or mark it `required: false`',
        },
      );
    }
    const r = parseEnvFile(text, ef.format, (n) => env[n] ?? project.environment[n]);
    if (r.errors.length) {
      const e = r.errors[0]!;
      throw new SkiffError('invalid_argument', `${ef.path}:${e.line}: ${e.message}`);
    }
    Object.assign(env, r.vars);
  }
  // A name whose value is still unknown (null) is left out, as docker does.
  for (const [k, v] of Object.entries(s.environment ?? {})) if (v !== null) env[k] = v;
  return Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]}`);
}

/** Labels from label_file files (KEY=VALUE lines); `labels:` win over them. */
function labelFiles(s: ComposeService, io: StackIO): Record<string, string> {
  const out: Record<string, string> = {};
  const files = Array.isArray(s.label_file) ? (s.label_file as string[]) : [];
  for (const f of files) {
    const r = parseDotenv(readOrThrow(io, f, `service "${s.name}" label_file`).toString('utf8'));
    if (r.errors.length)
      throw new SkiffError('invalid_argument', `${f}:${r.errors[0]!.line}: ${r.errors[0]!.message}`);
    Object.assign(out, r.vars);
  }
  return out;
}

function healthConfig(s: ComposeService): HealthConfig | undefined {
  const h = s.healthcheck;
  if (!h) return undefined;
  if (h.disable) return { Test: ['NONE'] };
  const hc: HealthConfig = {};
  if (h.test) hc.Test = h.test;
  if (h.interval !== undefined) hc.Interval = h.interval;
  if (h.timeout !== undefined) hc.Timeout = h.timeout;
  if (h.retries !== undefined) hc.Retries = h.retries;
  if (h.start_period !== undefined) hc.StartPeriod = h.start_period;
  if (h.start_interval !== undefined) hc.StartInterval = h.start_interval;
  return hc;
}

function serviceMode(s: ComposeService): ServiceMode {
  const replicas = s.deploy?.replicas ?? s.scale ?? 1;
  switch (s.deploy?.mode) {
    case 'global':
      return { Global: {} };
    case 'global-job':
      return { GlobalJob: {} };
    case 'replicated-job':
      return { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: replicas } };
    default:
      return { Replicated: { Replicas: replicas } };
  }
}

function resourceObject(
  r: ResourceSpec | undefined,
): { NanoCPUs?: number; MemoryBytes?: number } | undefined {
  if (!r) return undefined;
  const o: { NanoCPUs?: number; MemoryBytes?: number } = {};
  if (r.cpus !== undefined) o.NanoCPUs = Math.round(r.cpus * 1e9);
  if (r.memory !== undefined) o.MemoryBytes = r.memory;
  return o;
}

function toResources(s: ComposeService): Resources | undefined {
  const limits: NonNullable<Resources['Limits']> = resourceObject(s.deploy?.resources?.limits) ?? {};
  if (s.deploy?.resources?.limits?.pids !== undefined) limits.Pids = s.deploy.resources.limits.pids;
  // Service-level cpus / mem_limit / pids_limit count when deploy does not say (-1 and 0: no limit).
  if (limits.Pids === undefined && s.pids_limit !== undefined && s.pids_limit > 0) limits.Pids = s.pids_limit;
  if (limits.NanoCPUs === undefined && s.cpus !== undefined) limits.NanoCPUs = Math.round(s.cpus * 1e9);
  if (limits.MemoryBytes === undefined && s.mem_limit !== undefined) limits.MemoryBytes = s.mem_limit;
  const reservations = resourceObject(s.deploy?.resources?.reservations) ?? {};
  if (reservations.MemoryBytes === undefined && s.mem_reservation !== undefined)
    reservations.MemoryBytes = s.mem_reservation;
  const out: Resources = {};
  if (Object.keys(limits).length) out.Limits = limits;
  if (Object.keys(reservations).length) out.Reservations = reservations;
  return Object.keys(out).length ? out : undefined;
}

/** deploy.restart_policy, else `restart:` mapped as docker does. */
export function restartPolicy(s: ComposeService): RestartPolicy | undefined {
  const rp = s.deploy?.restart_policy;
  if (rp) {
    const out: RestartPolicy = {};
    if (rp.condition) out.Condition = rp.condition;
    if (rp.delay !== undefined) out.Delay = rp.delay;
    if (rp.max_attempts !== undefined) out.MaxAttempts = rp.max_attempts;
    if (rp.window !== undefined) out.Window = rp.window;
    return out;
  }
  const r = s.restart;
  if (r === undefined) return undefined;
  if (r === 'no') return { Condition: 'none' };
  if (r === 'always' || r === 'unless-stopped') return { Condition: 'any' };
  const m = /^on-failure(?::(\d+))?$/.exec(r);
  if (m) return m[1] ? { Condition: 'on-failure', MaxAttempts: Number(m[1]) } : { Condition: 'on-failure' };
  return undefined;
}

function updateConfig(u: UpdateOrRollback): UpdateConfig {
  const out: UpdateConfig = { Parallelism: u.parallelism ?? 1 };
  if (u.delay !== undefined) out.Delay = u.delay;
  if (u.failure_action) out.FailureAction = u.failure_action as UpdateConfig['FailureAction'];
  if (u.monitor !== undefined) out.Monitor = u.monitor;
  if (u.max_failure_ratio !== undefined) out.MaxFailureRatio = u.max_failure_ratio;
  if (u.order) out.Order = u.order;
  return out;
}

function portConfigs(p: NonNullable<ComposeService['ports']>[number]): PortConfig[] {
  const base: PortConfig = { Protocol: p.protocol, TargetPort: p.target, PublishMode: p.mode };
  if (p.name) base.Name = p.name;
  if (!p.published) return [base];
  const [a, b] = p.published.split('-').map(Number);
  const from = a ?? 0;
  const to = b ?? from;
  const out: PortConfig[] = [];
  for (let n = from; n <= to; n++) out.push({ ...base, PublishedPort: n });
  return out;
}

function platformOf(p: string): { OS?: string; Architecture?: string } {
  const [os, arch] = p.split('/');
  return { ...(os ? { OS: os } : {}), ...(arch ? { Architecture: arch } : {}) };
}
