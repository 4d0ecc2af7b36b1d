// The project as `skiff compose config` prints it: the spec's long syntax with the field
// names and value shapes `docker compose config` uses (durations as "1m30s", sizes as
// byte strings, published ports as strings, `$` escaped as `$$` so loading the output
// again gives the same model).

import { formatDurationNs } from '../lib/index.js';
import type { ComposeProject, ComposeService } from './types.js';
import { parseSize, shellSplit } from './units.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export interface CanonicalOptions {
  /** `$` → `$$` so the output loads back to the same model (default); off for `--no-interpolate`. */
  escapeDollars?: boolean;
  /** JSON as compose-go writes it: `command`/`entrypoint` null when unset, `ipam: {}` on every network. */
  json?: boolean;
}

export function toCanonical(project: ComposeProject, opts: CanonicalOptions = {}): Obj {
  const out: Obj = { name: project.name };
  const services: Obj = {};
  for (const name of Object.keys(project.services).sort()) {
    const svc = canonicalService(project.services[name]!);
    if (opts.json) {
      svc.command ??= null;
      svc.entrypoint ??= null;
    }
    services[name] = sortKeys(svc);
  }
  out.services = services;
  for (const kind of ['networks', 'volumes', 'secrets', 'configs'] as const) {
    const section = project[kind];
    if (Object.keys(section).length === 0) continue;
    const o: Obj = {};
    for (const k of Object.keys(section).sort()) {
      const r = dropFalse({ ...(section[k] as unknown as Obj) }, RESOURCE_FALSE_OMITTED);
      if (kind === 'networks' && opts.json) r.ipam ??= {};
      o[k] = sortKeys(r);
    }
    out[kind] = o;
  }
  if (project.models) out.models = project.models;
  for (const [k, v] of Object.entries(project.extensions)) out[k] = v;
  return opts.escapeDollars === false ? out : (escapeDollars(out) as Obj);
}

/** Service names in the order `--services` prints them. */
export function serviceNames(project: ComposeProject): string[] {
  return Object.keys(project.services).sort();
}

function canonicalService(s: ComposeService): Obj {
  const o: Obj = { ...s };
  delete o.name;
  delete o.privileges;
  if (o.command === null) delete o.command;
  if (o.entrypoint === null) delete o.entrypoint;
  dur(o, 'stop_grace_period');
  if (s.depends_on) {
    const deps: Obj = {};
    for (const [k, d] of Object.entries(s.depends_on)) {
      deps[k] = d.restart ? { ...d } : { condition: d.condition, required: d.required };
    }
    o.depends_on = deps;
  }
  for (const k of ['shm_size', 'mem_limit', 'mem_reservation', 'memswap_limit']) size(o, k);
  if (isObj(o.build)) {
    const b: Obj = dropFalse({ ...o.build }, BUILD_FALSE_OMITTED);
    size(b, 'shm_size');
    // compose-go prints ssh keys as a list of `id` or `id=path`.
    if (isObj(b.ssh)) b.ssh = Object.entries(b.ssh).map(([id, p]) => (p ? `${id}=${String(p)}` : id));
    if (Array.isArray(b.secrets))
      b.secrets = b.secrets.map((r) => (typeof r === 'string' ? { source: r } : r));
    if (b.extra_hosts !== undefined) b.extra_hosts = hostList(b.extra_hosts);
    o.build = b;
  }
  dropFalse(o, SERVICE_FALSE_OMITTED);
  if (isObj(o.blkio_config)) {
    // Rates are byte sizes (UnitBytes) in compose-go, printed as strings of bytes.
    const blk: Obj = { ...o.blkio_config };
    for (const k of ['device_read_bps', 'device_read_iops', 'device_write_bps', 'device_write_iops']) {
      if (!Array.isArray(blk[k])) continue;
      blk[k] = (blk[k] as unknown[]).map((d) => {
        if (!isObj(d) || d.rate === undefined) return d;
        const bytes = parseSize(d.rate);
        return bytes === undefined ? d : { ...d, rate: String(bytes) };
      });
    }
    o.blkio_config = blk;
  }
  for (const k of ['post_start', 'pre_stop']) {
    // A hook's command is a shell command like `command:`: a string is split into words.
    if (!Array.isArray(o[k])) continue;
    o[k] = (o[k] as unknown[]).map((h) => {
      if (!isObj(h) || typeof h.command !== 'string') return h;
      const r = shellSplit(h.command);
      return 'words' in r ? { ...h, command: r.words } : h;
    });
  }
  // extra_hosts as compose-go prints them: sorted `host=address` entries (`=` keeps IPv6 readable).
  if (s.extra_hosts) {
    o.extra_hosts = Object.entries(s.extra_hosts)
      .flatMap(([host, ips]) => ips.map((ip) => `${host}=${ip}`))
      .sort();
  }
  if (s.healthcheck) {
    const h: Obj = { ...s.healthcheck };
    for (const k of ['interval', 'timeout', 'start_period', 'start_interval']) dur(h, k);
    o.healthcheck = ordered(h, HEALTHCHECK_ORDER);
  }
  if (s.ulimits) {
    const u: Obj = {};
    for (const [k, v] of Object.entries(s.ulimits))
      u[k] = v.single !== undefined ? v.single : { soft: v.soft, hard: v.hard };
    o.ulimits = u;
  }
  if (s.volumes) {
    o.volumes = s.volumes.map((v) => {
      const m = dropFalse({ ...v } as Obj, ['read_only']);
      if (isObj(m.bind)) m.bind = dropFalse({ ...m.bind }, ['create_host_path']);
      if (isObj(m.volume)) m.volume = dropFalse({ ...m.volume }, ['nocopy']);
      if (!v.tmpfs) return m;
      const t: Obj = { ...v.tmpfs };
      size(t, 'size');
      return { ...m, tmpfs: t };
    });
  }
  if (s.deploy) {
    const d: Obj = { ...s.deploy };
    for (const k of ['update_config', 'rollback_config']) {
      if (isObj(d[k])) {
        const u: Obj = { ...(d[k] as Obj) };
        dur(u, 'delay');
        dur(u, 'monitor');
        d[k] = u;
      }
    }
    if (isObj(d.restart_policy)) {
      const r: Obj = { ...d.restart_policy };
      dur(r, 'delay');
      dur(r, 'window');
      d.restart_policy = r;
    }
    if (isObj(d.resources)) {
      const res: Obj = { ...d.resources };
      for (const k of ['limits', 'reservations']) {
        if (isObj(res[k])) {
          const l: Obj = { ...(res[k] as Obj) };
          size(l, 'memory');
          res[k] = l;
        }
      }
      d.resources = res;
    }
    o.deploy = ordered(d, DEPLOY_ORDER);
  }
  return sortKeys(o);
}

// Plain booleans compose-go tags `omitempty`: false is not printed. (attach, init and the
// enable_ipv4/enable_ipv6 of networks are pointers there, so their false is printed.)
const SERVICE_FALSE_OMITTED = [
  'privileged',
  'read_only',
  'stdin_open',
  'tty',
  'oom_kill_disable',
  'use_api_socket',
];
const BUILD_FALSE_OMITTED = ['no_cache', 'pull', 'privileged'];
const RESOURCE_FALSE_OMITTED = ['external', 'internal', 'attachable'];

function dropFalse(o: Obj, keys: string[]): Obj {
  for (const k of keys) if (o[k] === false) delete o[k];
  return o;
}

/** `host:ip` / `host=ip` entries (or a host → ips map) as compose-go prints them: sorted `host=ip`. */
function hostList(v: unknown): unknown {
  const out: string[] = [];
  if (Array.isArray(v)) {
    for (const e of v) {
      const t = String(e);
      const sep = t.search(/[=:]/);
      out.push(sep > 0 ? `${t.slice(0, sep)}=${t.slice(sep + 1).replace(/^\[(.*)\]$/, '$1')}` : t);
    }
  } else if (isObj(v)) {
    for (const [h, ips] of Object.entries(v))
      for (const ip of Array.isArray(ips) ? ips : [ips]) out.push(`${h}=${String(ip)}`);
  } else return v;
  return out.sort();
}

// Field order of docker compose's output where it is not alphabetical.
const HEALTHCHECK_ORDER = [
  'test',
  'timeout',
  'interval',
  'retries',
  'start_period',
  'start_interval',
  'disable',
];
const DEPLOY_ORDER = [
  'mode',
  'replicas',
  'labels',
  'update_config',
  'rollback_config',
  'resources',
  'restart_policy',
  'placement',
  'endpoint_mode',
];

function ordered(o: Obj, order: string[]): Obj {
  const out: Obj = {};
  for (const k of order) if (o[k] !== undefined) out[k] = o[k];
  for (const k of Object.keys(o)) if (!(k in out) && o[k] !== undefined) out[k] = o[k];
  return out;
}

function dur(o: Obj, k: string): void {
  if (typeof o[k] === 'number') o[k] = formatDurationNs(o[k] as number);
}
function size(o: Obj, k: string): void {
  if (typeof o[k] === 'number') o[k] = String(o[k]);
}

function sortKeys(o: Obj): Obj {
  const out: Obj = {};
  for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function escapeDollars(v: unknown): unknown {
  if (typeof v === 'string') return v.includes('$') ? v.replaceAll('$', '$$$$') : v;
  if (Array.isArray(v)) return v.map(escapeDollars);
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) out[k] = escapeDollars(x);
    return out;
  }
  return v;
}
