// The merged long-form data → the typed ComposeProject: profiles applied, values
// converted to their types, defaults filled in (default network, resource names), and
// the semantic checks run. Problems are reported through Diagnostics with their path.

import { isIP } from 'node:net';
import { Converter } from './convert.js';
import type { PathSegment } from './positions.js';
import { checkServiceSecurity } from './security.js';
import { checkProject } from './semantic.js';
import type { Diagnostics } from './sources.js';
import type {
  ComposeNetwork,
  ComposeProject,
  ComposeSecretOrConfig,
  ComposeService,
  ComposeVolume,
  DeployConfig,
  ResourceSpec,
  ServiceDependency,
  ServiceFileRef,
  ServicePort,
  ServiceVolume,
  UpdateOrRollback,
} from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export interface BuildContext {
  name: string;
  workingDir: string;
  files: string[];
  profiles: string[];
  environment: Record<string, string>;
  diag: Diagnostics;
  resolvePath: (p: string) => string;
  /** Reads a file the project names (a seccomp profile); throws with `code` when it cannot. */
  readText: (path: string) => string;
  /** Implied defaults (default network, resource names, inferred depends_on); default true. */
  normalize?: boolean;
  /** Cross-reference checks; default true. */
  consistency?: boolean;
  /** Keep resources no active service uses; default false (what a deploy needs). */
  keepUnused?: boolean;
}

export function buildProject(merged: Obj, ctx: BuildContext): ComposeProject | undefined {
  const { diag } = ctx;
  const c = new Converter(diag);
  const rawServices = isObj(merged.services) ? merged.services : {};

  const active = new Set<string>();
  const all = ctx.profiles.includes('*');
  for (const [name, s] of Object.entries(rawServices)) {
    const profiles = isObj(s) && Array.isArray(s.profiles) ? (s.profiles as string[]) : [];
    if (profiles.length === 0 || all || profiles.some((p) => ctx.profiles.includes(p))) active.add(name);
  }
  const normalize = ctx.normalize !== false;
  const consistency = ctx.consistency !== false;
  if (consistency) checkProfileDependencies(rawServices, active, ctx);

  const services: Record<string, ComposeService> = {};
  for (const name of Object.keys(rawServices).sort()) {
    if (!active.has(name)) continue;
    const raw = rawServices[name];
    if (isObj(raw)) services[name] = convertService(name, raw, c, ctx);
  }

  const project: ComposeProject = {
    name: ctx.name,
    workingDir: ctx.workingDir,
    files: ctx.files,
    profiles: [...ctx.profiles].sort(),
    environment: ctx.environment,
    services,
    networks: {},
    volumes: {},
    secrets: {},
    configs: {},
    extensions: {},
  };
  for (const [k, v] of Object.entries(merged)) if (k.startsWith('x-')) project.extensions[k] = v;
  if (isObj(merged.models) && Object.keys(merged.models).length > 0) project.models = merged.models;

  const rawNetworks = isObj(merged.networks) ? merged.networks : {};
  const usesDefault = Object.values(services).some((s) => s.networks && 'default' in s.networks);
  const netNames = new Set(Object.keys(rawNetworks));
  if (usesDefault) netNames.add('default');
  for (const key of [...netNames].sort()) {
    project.networks[key] = convertNetwork(key, rawNetworks[key], c, ctx);
  }
  const rawVolumes = isObj(merged.volumes) ? merged.volumes : {};
  for (const key of Object.keys(rawVolumes).sort())
    project.volumes[key] = convertVolume(key, rawVolumes[key], c, ctx);
  for (const kind of ['secrets', 'configs'] as const) {
    const raw = isObj(merged[kind]) ? (merged[kind] as Obj) : {};
    for (const key of Object.keys(raw).sort())
      project[kind][key] = convertSecretOrConfig(kind, key, raw[key], c, ctx);
  }

  // Optional dependencies (required: false) on services that are absent or disabled are dropped.
  for (const [name, s] of Object.entries(services)) {
    for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
      if (d.required || services[dep] || !consistency) continue;
      delete s.depends_on![dep];
      if (!Object.hasOwn(rawServices, dep)) {
        diag.error(
          ['services', name, 'depends_on', dep],
          `optional dependency "${dep}" is not defined; ignoring it`,
          true,
        );
      }
    }
  }
  if (consistency) checkProject(project, rawServices, diag);
  if (normalize) for (const s of Object.values(services)) inferDependencies(s);
  if (!ctx.keepUnused) dropUnused(project);
  return project;
}

function checkProfileDependencies(raw: Obj, active: Set<string>, ctx: BuildContext): void {
  const needs = (name: string): string => {
    const s = raw[name];
    const p = isObj(s) && Array.isArray(s.profiles) ? (s.profiles as string[]) : [];
    return p.length
      ? ` (it needs profile ${p.map((x) => `"${x}"`).join(' or ')}; add --profile ${p[0]})`
      : '';
  };
  for (const name of active) {
    const s = raw[name];
    if (!isObj(s)) continue;
    const refs: { path: PathSegment[]; target: string }[] = [];
    if (isObj(s.depends_on)) {
      for (const [dep, d] of Object.entries(s.depends_on)) {
        if (isObj(d) && (d.required === false || d.required === 'false')) continue;
        refs.push({ path: ['services', name, 'depends_on', dep], target: dep });
      }
    }
    if (Array.isArray(s.links)) {
      s.links.forEach((l, i) => {
        refs.push({ path: ['services', name, 'links', i], target: String(l).split(':')[0]! });
      });
    }
    if (Array.isArray(s.volumes_from)) {
      s.volumes_from.forEach((v, i) => {
        const t = String(v);
        if (!t.startsWith('container:'))
          refs.push({
            path: ['services', name, 'volumes_from', i],
            target: t.replace(/^service:/, '').split(':')[0]!,
          });
      });
    }
    for (const key of ['network_mode', 'ipc', 'pid'] as const) {
      const v = s[key];
      if (typeof v === 'string' && v.startsWith('service:'))
        refs.push({ path: ['services', name, key], target: v.slice(8) });
    }
    for (const r of refs) {
      if (Object.hasOwn(raw, r.target) && !active.has(r.target)) {
        ctx.diag.error(
          r.path,
          `service "${name}" depends on service "${r.target}", which is not enabled by the active profiles${needs(r.target)}`,
        );
      }
    }
  }
}

function convertService(name: string, raw: Obj, c: Converter, ctx: BuildContext): ComposeService {
  const at = (...p: PathSegment[]): PathSegment[] => ['services', name, ...p];
  const s: ComposeService = { ...raw, name } as ComposeService;
  delete s.extends;

  for (const key of ['init', 'privileged', 'read_only', 'stdin_open', 'tty', 'oom_kill_disable'] as const) {
    if (raw[key] !== undefined) s[key] = c.bool(raw[key], at(key));
  }
  for (const key of [
    'scale',
    'pids_limit',
    'cpu_shares',
    'cpu_quota',
    'cpu_period',
    'cpu_rt_period',
    'cpu_rt_runtime',
    'mem_swappiness',
    'oom_score_adj',
    'cpu_count',
    'cpu_percent',
  ] as const) {
    if (raw[key] !== undefined) s[key] = c.int(raw[key], at(key));
  }
  if (raw.cpus !== undefined) s.cpus = c.num(raw.cpus, at('cpus'));
  for (const key of ['shm_size', 'mem_limit', 'mem_reservation'] as const) {
    if (raw[key] !== undefined) s[key] = c.size(raw[key], at(key));
  }
  if (raw.memswap_limit !== undefined) s.memswap_limit = c.size(raw.memswap_limit, at('memswap_limit'), true);
  if (raw.stop_grace_period !== undefined)
    s.stop_grace_period = c.duration(raw.stop_grace_period, at('stop_grace_period'));

  if (isObj(raw.environment)) {
    const env: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(raw.environment)) {
      // A name without a value takes the value from the environment, if set.
      env[k] = v === null ? (ctx.environment[k] ?? null) : String(v);
    }
    s.environment = env;
  }
  if (Array.isArray(raw.ports)) {
    s.ports = (raw.ports as Obj[]).map((p, i): ServicePort => {
      // Keys in the order docker compose prints them.
      const port = {
        mode: c.oneOf(p.mode ?? 'ingress', ['ingress', 'host'] as const, at('ports', i, 'mode')) ?? 'ingress',
      } as ServicePort;
      if (p.host_ip !== undefined) {
        port.host_ip = String(p.host_ip);
        if (isIP(port.host_ip) === 0)
          ctx.diag.error(at('ports', i), `"${port.host_ip}" is not an IP address to publish on`);
      }
      port.target = c.int(p.target, at('ports', i, 'target'), 0) ?? 0;
      if (p.target === undefined)
        ctx.diag.error(at('ports', i), 'a port needs a target (the container port)');
      else if (port.target < 1 || port.target > 65535)
        ctx.diag.error(at('ports', i), `target port ${port.target} is outside 1-65535`);
      if (p.published !== undefined && p.published !== '') {
        const pub = String(p.published);
        const m = /^(\d+)(?:-(\d+))?$/.exec(pub);
        if (!m) ctx.diag.error(at('ports', i, 'published'), `"${pub}" is not a port or a port range`);
        else if (Number(m[1]) > 65535 || Number(m[2] ?? 0) > 65535 || Number(m[2] ?? m[1]) < Number(m[1])) {
          ctx.diag.error(
            at('ports', i),
            `published port "${pub}" is outside 0-65535 or ends before it starts`,
          );
        }
        port.published = pub;
      }
      port.protocol =
        c.oneOf(
          String(p.protocol ?? 'tcp').toLowerCase(),
          ['tcp', 'udp', 'sctp'] as const,
          at('ports', i, 'protocol'),
        ) ?? 'tcp';
      if (p.app_protocol !== undefined) port.app_protocol = String(p.app_protocol);
      if (p.name !== undefined) port.name = String(p.name);
      for (const [k, v] of Object.entries(p)) if (k.startsWith('x-')) (port as unknown as Obj)[k] = v;
      return port;
    });
  }
  if (Array.isArray(raw.volumes))
    s.volumes = (raw.volumes as Obj[]).map((v, i) => convertMount(v, at('volumes', i), c));
  for (const key of ['secrets', 'configs'] as const) {
    if (Array.isArray(raw[key])) {
      s[key] = (raw[key] as Obj[]).map((r, i): ServiceFileRef => {
        const ref: ServiceFileRef = { ...(r as unknown as ServiceFileRef) };
        if (r.source === undefined)
          ctx.diag.error(at(key, i), `a ${key.slice(0, -1)} reference needs a source`);
        if (r.mode !== undefined) {
          const m = typeof r.mode === 'string' ? Number.parseInt(r.mode, 8) : r.mode;
          if (typeof m !== 'number' || !Number.isInteger(m) || m < 0)
            ctx.diag.error(at(key, i, 'mode'), `"${String(r.mode)}" is not a file mode`);
          else ref.mode = m;
        }
        return ref;
      });
    }
  }
  if (ctx.normalize !== false && !raw.network_mode && !isObj(raw.networks)) s.networks = { default: null };
  if (ctx.normalize !== false && raw.pull_policy === 'if_not_present') s.pull_policy = 'missing';
  if (isObj(raw.depends_on)) {
    const deps: Record<string, ServiceDependency> = {};
    for (const [dep, d] of Object.entries(raw.depends_on)) {
      const dd = d as Obj;
      deps[dep] = {
        condition: dd.condition as ServiceDependency['condition'],
        required: c.bool(dd.required, at('depends_on', dep, 'required')) ?? true,
        restart: c.bool(dd.restart, at('depends_on', dep, 'restart')) ?? false,
      };
    }
    s.depends_on = deps;
  }
  if (isObj(raw.healthcheck)) {
    const h = raw.healthcheck;
    const hc: ComposeService['healthcheck'] = { ...(h as object) };
    for (const key of ['interval', 'timeout', 'start_period', 'start_interval'] as const) {
      if (h[key] !== undefined) hc[key] = c.duration(h[key], at('healthcheck', key));
    }
    if (h.retries !== undefined) hc.retries = c.int(h.retries, at('healthcheck', 'retries'), 0);
    if (h.disable !== undefined) hc.disable = c.bool(h.disable, at('healthcheck', 'disable'));
    if (Array.isArray(hc.test) && hc.test[0] === 'NONE') {
      hc.disable = true;
    }
    s.healthcheck = hc;
  }
  if (isObj(raw.ulimits)) {
    const u: NonNullable<ComposeService['ulimits']> = {};
    for (const [k, v] of Object.entries(raw.ulimits)) {
      if (k.startsWith('x-')) continue;
      if (!/^[a-z]+$/.test(k)) {
        ctx.diag.error(at('ulimits', k), `"${k}" is not a ulimit name (lower-case letters, e.g. nofile)`);
        continue;
      }
      const o = v as Obj;
      if (o.single !== undefined) u[k] = { single: c.int(o.single, at('ulimits', k)) ?? 0 };
      else {
        const soft = c.int(o.soft, at('ulimits', k, 'soft')) ?? 0;
        const hard = c.int(o.hard, at('ulimits', k, 'hard')) ?? 0;
        if (soft > hard) ctx.diag.error(at('ulimits', k), `soft limit ${soft} is above hard limit ${hard}`);
        u[k] = { soft, hard };
      }
    }
    s.ulimits = u;
  }
  if (raw.restart !== undefined) {
    const r = String(raw.restart);
    if (!/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(r)) {
      ctx.diag.error(
        at('restart'),
        `"${r}" is not a restart policy (no, always, on-failure[:N], unless-stopped)`,
      );
    }
    s.restart = r;
  }
  if (raw.deploy === null) delete s.deploy;
  if (isObj(raw.deploy)) s.deploy = convertDeploy(raw.deploy, at('deploy'), c);
  if (isObj(raw.logging) && isObj(raw.logging.options)) {
    s.logging = { ...(raw.logging as object), options: raw.logging.options as Record<string, string | null> };
  }
  if (isObj(raw.build) && raw.build.shm_size !== undefined) {
    s.build = { ...(raw.build as object), context: String(raw.build.context) } as ComposeService['build'];
    (s.build as Obj).shm_size = c.size(raw.build.shm_size, at('build', 'shm_size'));
  }
  if (
    s.image === undefined &&
    s.build === undefined &&
    raw.provider === undefined &&
    ctx.consistency !== false
  ) {
    ctx.diag.error(at(), `service "${name}" has neither an image nor a build section`);
  }
  if (s.pids_limit !== undefined && s.pids_limit < -1)
    ctx.diag.error(
      at('pids_limit'),
      `pids_limit must be -1 or 0 (no limit) or a positive number, not ${s.pids_limit}`,
    );
  // --no-consistency prints what skiff could not honour as warnings instead of refusing the file.
  const lenient = {
    error: (path: PathSegment[], message: string) => ctx.diag.error(path, message, true),
  };
  checkServiceSecurity(name, s, ctx.consistency === false ? { ...ctx, diag: lenient } : ctx);
  for (const k of Object.keys(s)) if (s[k] === undefined) delete s[k];
  return s;
}

function convertMount(v: Obj, path: PathSegment[], c: Converter): ServiceVolume {
  const m: ServiceVolume = { ...(v as unknown as ServiceVolume) };
  if (typeof m.target !== 'string' || m.target === '')
    c.error(path, 'a mount needs a target path inside the container');
  if (v.read_only !== undefined) m.read_only = c.bool(v.read_only, [...path, 'read_only']);
  if (isObj(v.bind)) {
    const b = { ...(v.bind as object) } as NonNullable<ServiceVolume['bind']>;
    if (v.bind.create_host_path !== undefined)
      b.create_host_path = c.bool(v.bind.create_host_path, [...path, 'bind', 'create_host_path']);
    m.bind = b;
  }
  if (isObj(v.volume)) {
    const vol = { ...(v.volume as object) } as NonNullable<ServiceVolume['volume']>;
    if (v.volume.nocopy !== undefined) vol.nocopy = c.bool(v.volume.nocopy, [...path, 'volume', 'nocopy']);
    if (v.volume.labels !== undefined) vol.labels = toStringMap(v.volume.labels);
    m.volume = vol;
  }
  if (isObj(v.tmpfs)) {
    const t: NonNullable<ServiceVolume['tmpfs']> = {};
    if (v.tmpfs.size !== undefined) t.size = c.size(v.tmpfs.size, [...path, 'tmpfs', 'size']);
    if (v.tmpfs.mode !== undefined) {
      t.mode = typeof v.tmpfs.mode === 'string' ? Number.parseInt(v.tmpfs.mode, 8) : (v.tmpfs.mode as number);
    }
    m.tmpfs = t;
  }
  if (m.type === 'bind' && !m.source) c.error(path, 'a bind mount needs a source path on the host');
  for (const k of Object.keys(m) as (keyof ServiceVolume)[]) if (m[k] === undefined) delete m[k];
  return m;
}

function toStringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const t = String(item);
      const eq = t.indexOf('=');
      if (eq === -1) out[t] = '';
      else out[t.slice(0, eq)] = t.slice(eq + 1);
    }
  } else if (isObj(v)) for (const [k, x] of Object.entries(v)) out[k] = x === null ? '' : String(x);
  return out;
}

function convertUpdate(u: Obj, path: PathSegment[], c: Converter): UpdateOrRollback {
  const out = { ...(u as object) } as UpdateOrRollback & Obj;
  if (u.parallelism !== undefined) out.parallelism = c.int(u.parallelism, [...path, 'parallelism'], 0);
  if (u.delay !== undefined) out.delay = c.duration(u.delay, [...path, 'delay']);
  if (u.monitor !== undefined) out.monitor = c.duration(u.monitor, [...path, 'monitor']);
  if (u.max_failure_ratio !== undefined)
    out.max_failure_ratio = c.num(u.max_failure_ratio, [...path, 'max_failure_ratio']);
  if (u.failure_action !== undefined) {
    out.failure_action = c.oneOf(u.failure_action, ['continue', 'pause', 'rollback'] as const, [
      ...path,
      'failure_action',
    ]);
  }
  return out;
}

function convertResources(r: Obj, path: PathSegment[], c: Converter): ResourceSpec {
  const out = { ...(r as object) } as ResourceSpec & Obj;
  if (r.cpus !== undefined) out.cpus = c.num(r.cpus, [...path, 'cpus']);
  if (r.memory !== undefined) out.memory = c.size(r.memory, [...path, 'memory']);
  if (r.pids !== undefined) out.pids = c.int(r.pids, [...path, 'pids']);
  return out;
}

function convertDeploy(d: Obj, path: PathSegment[], c: Converter): DeployConfig {
  const out = { ...(d as object) } as DeployConfig & Obj;
  if (d.mode !== undefined) {
    out.mode = c.oneOf(d.mode, ['replicated', 'global', 'replicated-job', 'global-job'] as const, [
      ...path,
      'mode',
    ]);
  }
  if (d.replicas !== undefined) out.replicas = c.int(d.replicas, [...path, 'replicas'], 0);
  if (d.endpoint_mode !== undefined)
    out.endpoint_mode = c.oneOf(d.endpoint_mode, ['vip', 'dnsrr'] as const, [...path, 'endpoint_mode']);
  if (isObj(d.update_config))
    out.update_config = convertUpdate(d.update_config, [...path, 'update_config'], c);
  if (isObj(d.rollback_config))
    out.rollback_config = convertUpdate(d.rollback_config, [...path, 'rollback_config'], c);
  if (isObj(d.resources)) {
    const res: NonNullable<DeployConfig['resources']> = { ...(d.resources as object) };
    if (isObj(d.resources.limits))
      res.limits = convertResources(d.resources.limits, [...path, 'resources', 'limits'], c);
    if (isObj(d.resources.reservations)) {
      res.reservations = convertResources(
        d.resources.reservations,
        [...path, 'resources', 'reservations'],
        c,
      );
    }
    out.resources = res;
  }
  if (isObj(d.restart_policy)) {
    const rp = d.restart_policy;
    const p = [...path, 'restart_policy'];
    const o = { ...(rp as object) } as NonNullable<DeployConfig['restart_policy']> & Obj;
    if (rp.condition !== undefined)
      o.condition = c.oneOf(rp.condition, ['none', 'on-failure', 'any'] as const, [...p, 'condition']);
    if (rp.delay !== undefined) o.delay = c.duration(rp.delay, [...p, 'delay']);
    if (rp.window !== undefined) o.window = c.duration(rp.window, [...p, 'window']);
    if (rp.max_attempts !== undefined) o.max_attempts = c.int(rp.max_attempts, [...p, 'max_attempts'], 0);
    out.restart_policy = o;
  }
  if (isObj(d.placement)) {
    const pl = { ...(d.placement as object) } as NonNullable<DeployConfig['placement']> & Obj;
    if (d.placement.max_replicas_per_node !== undefined) {
      pl.max_replicas_per_node = c.int(
        d.placement.max_replicas_per_node,
        [...path, 'placement', 'max_replicas_per_node'],
        0,
      );
    }
    out.placement = pl;
  }
  if ((out.mode === 'global' || out.mode === 'global-job') && out.replicas !== undefined) {
    c.error([...path, 'replicas'], `replicas cannot be set when mode is ${out.mode}`);
  }
  return out;
}

function convertNetwork(key: string, raw: unknown, c: Converter, ctx: BuildContext): ComposeNetwork {
  const d: Obj = isObj(raw) ? raw : {};
  const n = { ...d } as unknown as ComposeNetwork;
  const at = ['networks', key];
  for (const k of ['external', 'internal', 'attachable', 'enable_ipv4', 'enable_ipv6'] as const) {
    if (d[k] !== undefined) n[k] = c.bool(d[k], [...at, k]);
  }
  // A false external/internal/attachable is the default: compose-go neither keeps nor prints it.
  for (const k of ['external', 'internal', 'attachable'] as const) if (n[k] === false) delete n[k];
  const name = resourceName(d, n.external, key, ctx);
  if (name !== undefined) n.name = name;
  return n;
}

function convertVolume(key: string, raw: unknown, c: Converter, ctx: BuildContext): ComposeVolume {
  const d: Obj = isObj(raw) ? raw : {};
  const v = { ...d } as unknown as ComposeVolume;
  if (d.external !== undefined) v.external = c.bool(d.external, ['volumes', key, 'external']);
  if (v.external === false) delete v.external;
  const name = resourceName(d, v.external, key, ctx);
  if (name !== undefined) v.name = name;
  return v;
}

/** `name:` as written, else (normalizing) the key for an external resource, `<project>_<key>` otherwise. */
function resourceName(
  d: Obj,
  external: boolean | undefined,
  key: string,
  ctx: BuildContext,
): string | undefined {
  if (typeof d.name === 'string') return d.name;
  if (ctx.normalize === false) return undefined;
  return external ? key : `${ctx.name}_${key}`;
}

function convertSecretOrConfig(
  kind: 'secrets' | 'configs',
  key: string,
  raw: unknown,
  c: Converter,
  ctx: BuildContext,
): ComposeSecretOrConfig {
  const d: Obj = isObj(raw) ? raw : {};
  const v = { ...d } as unknown as ComposeSecretOrConfig;
  if (d.external !== undefined) v.external = c.bool(d.external, [kind, key, 'external']);
  if (v.external === false) delete v.external;
  const name = resourceName(d, v.external, key, ctx);
  if (name !== undefined) v.name = name;
  const sources = ['file', 'environment', 'content'].filter((k) => d[k] !== undefined);
  if (ctx.consistency === false) {
    // --no-consistency: the source checks below are consistency checks.
  } else if (v.external) {
    if (sources.length > 0)
      ctx.diag.error([kind, key], `an external ${kind.slice(0, -1)} cannot also set ${sources.join(', ')}`);
  } else if (sources.length !== 1) {
    const allowed =
      kind === 'configs' ? 'file, environment, content or external' : 'file, environment or external';
    ctx.diag.error(
      [kind, key],
      sources.length === 0
        ? `${kind.slice(0, -1)} "${key}" needs exactly one of ${allowed}`
        : `${kind.slice(0, -1)} "${key}" sets ${sources.join(' and ')}; use exactly one`,
    );
  }
  if (kind === 'secrets' && d.content !== undefined)
    ctx.diag.error([kind, key, 'content'], 'secrets cannot have inline content; use file or environment');
  return v;
}

/**
 * Services that share a namespace with, take volumes from or link to another service
 * start after it: compose-go's normalization adds these to depends_on.
 */
function inferDependencies(s: ComposeService): void {
  const add = (name: string, restart: boolean) => {
    if (name === '' || s.depends_on?.[name]) return;
    s.depends_on = { ...s.depends_on, [name]: { condition: 'service_started', required: true, restart } };
  };
  for (const l of s.links ?? []) add(String(l).split(':')[0]!, true);
  for (const key of ['network_mode', 'ipc', 'pid', 'uts', 'cgroup'] as const) {
    const v = s[key];
    if (typeof v === 'string' && v.startsWith('service:')) add(v.slice(8), true);
  }
  for (const v of s.volumes_from ?? []) {
    const t = String(v);
    if (!t.startsWith('container:')) add(t.replace(/^service:/, '').split(':')[0]!, false);
  }
}

/** Drops networks, volumes, secrets and configs no active service uses (a deploy creates only these). */
function dropUnused(p: ComposeProject): void {
  const used = {
    networks: new Set<string>(),
    volumes: new Set<string>(),
    secrets: new Set<string>(),
    configs: new Set<string>(),
  };
  for (const s of Object.values(p.services)) {
    for (const n of Object.keys(s.networks ?? {})) used.networks.add(n);
    for (const v of s.volumes ?? []) if (v.type === 'volume' && v.source) used.volumes.add(v.source);
    for (const r of s.secrets ?? []) used.secrets.add(r.source);
    for (const r of s.configs ?? []) used.configs.add(r.source);
    if (isObj(s.build) && Array.isArray(s.build.secrets)) {
      for (const r of s.build.secrets)
        used.secrets.add(typeof r === 'string' ? r : String((r as Obj).source));
    }
  }
  for (const kind of ['networks', 'volumes', 'secrets', 'configs'] as const) {
    for (const k of Object.keys(p[kind])) if (!used[kind].has(k)) delete p[kind][k];
  }
}
