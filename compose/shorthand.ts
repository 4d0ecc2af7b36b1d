// Rewrites every short syntax of one validated file into its long form, so files can be
// merged field by field and the model has one shape per field. Relative paths become
// absolute against the directory the file's paths are relative to. Type conversion of
// interpolated strings (numbers, booleans, durations) happens later, after merging.

import { isAbsolute, resolve } from 'node:path';
import type { PathSegment } from './positions.js';
import { shellSplit } from './units.js';

type Obj = Record<string, unknown>;

export interface ShorthandContext {
  /** Directory relative paths in this file are resolved against. */
  baseDir: string;
  /** Directory of the file itself (for `extends.file`). */
  fileDir: string;
  home: string | undefined;
  errors: { path: PathSegment[]; message: string }[];
  /** false (`--no-path-resolution`): paths the model prints stay as written; files to load still resolve. */
  resolvePaths?: boolean;
}

/** A path the model keeps (bind source, build context, secret file …), resolved unless turned off. */
function modelPath(p: string, ctx: ShorthandContext): string {
  return ctx.resolvePaths === false ? p : resolvePath(p, ctx.baseDir, ctx.home);
}

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export function expandFile(data: Obj, ctx: ShorthandContext): Obj {
  const out: Obj = { ...data };
  if (isObj(data.services)) {
    const services: Obj = {};
    for (const [name, svc] of Object.entries(data.services)) {
      services[name] = isObj(svc) ? expandService(svc, ['services', name], ctx) : svc;
    }
    out.services = services;
  }
  for (const kind of ['networks', 'volumes', 'secrets', 'configs'] as const) {
    const section = data[kind];
    if (!isObj(section)) continue;
    const res: Obj = {};
    for (const [name, def] of Object.entries(section)) res[name] = expandResource(kind, def, ctx);
    out[kind] = res;
  }
  if (Array.isArray(data.include)) {
    out.include = data.include.map((inc) => {
      const long: Obj = typeof inc === 'string' ? { path: inc } : { ...(inc as Obj) };
      long.path = toList(long.path).map((p) => resolvePath(String(p), ctx.fileDir, ctx.home));
      if (long.env_file !== undefined)
        long.env_file = toList(long.env_file).map((p) => resolvePath(String(p), ctx.fileDir, ctx.home));
      if (typeof long.project_directory === 'string')
        long.project_directory = resolvePath(long.project_directory, ctx.fileDir, ctx.home);
      return long;
    });
  }
  return out;
}

function expandResource(kind: string, def: unknown, ctx: ShorthandContext): Obj {
  const d: Obj = isObj(def) ? { ...def } : {};
  if (d.labels !== undefined) d.labels = toMap(d.labels, '');
  if (isObj(d.driver_opts)) d.driver_opts = stringValues(d.driver_opts);
  if (d.external !== undefined) {
    const ext = d.external;
    if (isObj(ext)) {
      d.external = true;
      if (typeof ext.name === 'string' && d.name === undefined) d.name = ext.name;
    } else if (typeof ext === 'string') d.external = ext === 'true';
  }
  if ((kind === 'secrets' || kind === 'configs') && typeof d.file === 'string') {
    d.file = modelPath(d.file, ctx);
  }
  return d;
}

function expandService(svc: Obj, at: PathSegment[], ctx: ShorthandContext): Obj {
  const s: Obj = { ...svc };
  const err = (path: PathSegment[], message: string) => ctx.errors.push({ path: [...at, ...path], message });

  for (const key of ['environment'] as const) if (s[key] !== undefined) s[key] = toMap(s[key], null);
  for (const key of ['labels', 'annotations', 'sysctls'] as const)
    if (s[key] !== undefined) s[key] = toMap(s[key], '');
  for (const key of ['dns', 'dns_search', 'tmpfs'] as const)
    if (typeof s[key] === 'string') s[key] = [s[key]];
  for (const key of ['command', 'entrypoint'] as const) {
    if (typeof s[key] === 'string') {
      const r = shellSplit(s[key] as string);
      if ('error' in r) err([key], `${r.error}`);
      else s[key] = r.words;
    }
  }
  if (Array.isArray(s.expose)) s.expose = s.expose.map(String);
  if (Array.isArray(s.group_add)) s.group_add = s.group_add.map(String);
  if (s.build !== undefined) s.build = expandBuild(s.build, ctx);
  if (typeof s.extends === 'string') s.extends = { service: s.extends };
  if (isObj(s.extends) && typeof s.extends.file === 'string') {
    s.extends = { ...s.extends, file: resolvePath(s.extends.file, ctx.fileDir, ctx.home) };
  }
  if (s.env_file !== undefined) {
    s.env_file = toList(s.env_file).map((e) => {
      const long: Obj = typeof e === 'string' ? { path: e } : { ...(e as Obj) };
      long.path = modelPath(String(long.path), ctx);
      long.required = long.required === undefined ? true : long.required === true || long.required === 'true';
      return long;
    });
  }
  if (isObj(s.develop) && Array.isArray(s.develop.watch)) {
    // A watched path is on the host, relative to the project like a bind source.
    s.develop = {
      ...s.develop,
      watch: s.develop.watch.map((w) =>
        isObj(w) && typeof w.path === 'string' ? { ...w, path: modelPath(w.path, ctx) } : w,
      ),
    };
  }
  if (s.label_file !== undefined) s.label_file = toList(s.label_file).map((p) => modelPath(String(p), ctx));
  if (Array.isArray(s.ports)) {
    const ports: Obj[] = [];
    s.ports.forEach((p, i) => {
      const r = expandPort(p);
      if (typeof r === 'string') err(['ports', i], r);
      else ports.push(...r);
    });
    s.ports = ports;
  }
  if (Array.isArray(s.volumes)) {
    s.volumes = s.volumes.map((v, i) => {
      const r = expandVolume(v, ctx);
      if (typeof r === 'string') {
        err(['volumes', i], r);
        return v;
      }
      return r;
    });
  }
  for (const key of ['secrets', 'configs'] as const) {
    if (Array.isArray(s[key])) {
      s[key] = (s[key] as unknown[]).map((r) => {
        if (typeof r === 'string') return { source: r };
        const long: Obj = { ...(r as Obj) };
        return long;
      });
    }
  }
  if (Array.isArray(s.networks)) s.networks = Object.fromEntries(s.networks.map((n) => [String(n), null]));
  if (s.depends_on !== undefined) {
    const deps: Obj = {};
    if (Array.isArray(s.depends_on)) {
      for (const d of s.depends_on)
        deps[String(d)] = { condition: 'service_started', required: true, restart: false };
    } else if (isObj(s.depends_on)) {
      for (const [name, d] of Object.entries(s.depends_on)) {
        const dd = d as Obj;
        deps[name] = {
          ...dd,
          condition: dd.condition ?? 'service_started',
          required: dd.required ?? true,
          restart: dd.restart === true || dd.restart === 'true',
        };
      }
    }
    s.depends_on = deps;
  }
  if (s.extra_hosts !== undefined) {
    const hosts: Record<string, string[]> = {};
    if (Array.isArray(s.extra_hosts)) {
      s.extra_hosts.forEach((h, i) => {
        const text = String(h);
        const sep = text.search(/[=:]/);
        if (sep <= 0) {
          err(['extra_hosts', i], `"${text}" must be "host:address" or "host=address"`);
          return;
        }
        const host = text.slice(0, sep);
        const list = hosts[host] ?? [];
        list.push(text.slice(sep + 1).replace(/^\[(.*)\]$/, '$1'));
        hosts[host] = list;
      });
    } else if (isObj(s.extra_hosts)) {
      for (const [host, ips] of Object.entries(s.extra_hosts)) hosts[host] = toList(ips).map(String);
    }
    s.extra_hosts = hosts;
  }
  if (Array.isArray(s.devices)) {
    s.devices = s.devices.map((d) => {
      if (typeof d !== 'string') return d;
      // host[:container][:perms], where `/dev/fuse:rw` names permissions, not a target.
      const parts = d.split(':');
      const source = parts[0];
      let target = parts[1];
      let permissions = parts[2];
      if (parts.length === 2 && /^[rwm]+$/.test(target!)) {
        permissions = target;
        target = undefined;
      }
      const long: Obj = { source, target: target ?? source };
      if (permissions !== undefined) long.permissions = permissions;
      return long;
    });
  }
  if (Array.isArray(s.security_opt)) {
    // A seccomp profile file is relative to the project directory, as other paths are.
    s.security_opt = s.security_opt.map((o) => {
      const m = typeof o === 'string' ? /^seccomp[=:](.+)$/.exec(o) : null;
      if (!m || m[1] === 'unconfined') return o;
      return `seccomp=${modelPath(m[1]!, ctx)}`;
    });
  }
  if (isObj(s.ulimits)) {
    const u: Obj = {};
    for (const [name, v] of Object.entries(s.ulimits))
      u[name] = isObj(v) ? { soft: v.soft, hard: v.hard } : { single: v };
    s.ulimits = u;
  }
  if (isObj(s.healthcheck)) {
    const h: Obj = { ...s.healthcheck };
    if (typeof h.test === 'string') h.test = ['CMD-SHELL', h.test];
    s.healthcheck = h;
  }
  if (isObj(s.logging) && isObj(s.logging.options)) {
    s.logging = { ...s.logging, options: stringValues(s.logging.options, true) };
  }
  if (isObj(s.deploy)) {
    const d: Obj = { ...s.deploy };
    if (d.labels !== undefined) d.labels = toMap(d.labels, '');
    s.deploy = d;
  }
  return s;
}

function expandBuild(b: unknown, ctx: ShorthandContext): unknown {
  const long: Obj = typeof b === 'string' ? { context: b } : isObj(b) ? { ...b } : {};
  const context = typeof long.context === 'string' ? long.context : '.';
  long.context = isRemoteContext(context) ? context : modelPath(context, ctx);
  if (long.dockerfile === undefined && long.dockerfile_inline === undefined) long.dockerfile = 'Dockerfile';
  for (const key of ['args', 'labels', 'ssh', 'additional_contexts'] as const) {
    if (long[key] !== undefined) long[key] = toMap(long[key], key === 'labels' ? '' : null);
  }
  if (isObj(long.additional_contexts)) {
    // A local directory becomes absolute; `docker-image://`, `service:`, `target:` and
    // remote contexts name something other than a path and stay as written.
    const ac: Obj = {};
    for (const [k, v] of Object.entries(long.additional_contexts)) {
      ac[k] =
        typeof v === 'string' && !isRemoteContext(v) && !/^[a-z][a-z0-9+.-]*:/i.test(v)
          ? modelPath(v, ctx)
          : v;
    }
    long.additional_contexts = ac;
  }
  return long;
}

function isRemoteContext(c: string): boolean {
  return /^[a-z]+:\/\//i.test(c) || c.startsWith('git@') || c.startsWith('github.com/');
}

export function resolvePath(p: string, base: string, home: string | undefined): string {
  if (p === '~' || p.startsWith('~/')) return resolve(home ?? '/', p.slice(2));
  return isAbsolute(p) ? p : resolve(base, p);
}

function toList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

/** `[A=1, B]` or `{A: 1, B: null}` → `{A: '1', B: empty}`. */
function toMap(v: unknown, empty: string | null): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const text = String(item);
      const eq = text.indexOf('=');
      if (eq === -1) out[text] = empty;
      else out[text.slice(0, eq)] = text.slice(eq + 1);
    }
  } else if (isObj(v)) {
    for (const [k, val] of Object.entries(v))
      out[k] = val === null || val === undefined ? empty : String(val);
  }
  return out;
}

function stringValues(o: Obj, keepNull = false): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(o)) out[k] = v === null && keepNull ? null : String(v ?? '');
  return out;
}

// ------------------------------------------------------------------------ ports

const PORT_RANGE = /^(\d+)(?:-(\d+))?$/;

/** Long-form ports for one entry, or a message saying what is wrong. */
export function expandPort(p: unknown): Obj[] | string {
  if (typeof p === 'number') return [{ mode: 'ingress', target: p, protocol: 'tcp' }];
  if (isObj(p)) {
    const long: Obj = { ...p };
    long.mode ??= 'ingress';
    long.protocol ??= 'tcp';
    if (typeof long.target === 'string' && /^\d+$/.test(long.target)) long.target = Number(long.target);
    if (typeof long.published === 'number') long.published = String(long.published);
    return [long];
  }
  const text = String(p).trim();
  let spec = text;
  let protocol = 'tcp';
  const slash = spec.lastIndexOf('/');
  if (slash !== -1) {
    protocol = spec.slice(slash + 1);
    spec = spec.slice(0, slash);
  }
  let ip: string | undefined;
  let parts: string[];
  if (spec.startsWith('[')) {
    const close = spec.indexOf(']');
    if (close === -1) return `"${text}" has an unclosed "[" around the host IP`;
    ip = spec.slice(1, close);
    parts = spec
      .slice(close + 1)
      .replace(/^:/, '')
      .split(':');
  } else {
    parts = spec.split(':');
    if (parts.length > 3) {
      ip = parts.slice(0, -2).join(':');
      parts = parts.slice(-2);
    } else if (parts.length === 3) {
      ip = parts.shift();
    }
  }
  const container = parts[parts.length - 1] ?? '';
  const published = parts.length === 2 ? parts[0]! : '';
  const cm = PORT_RANGE.exec(container);
  if (!cm) return `"${text}" is not a port: expected [[host-ip:]published:]target[/protocol], e.g. "8080:80"`;
  const pm = published === '' ? null : PORT_RANGE.exec(published);
  if (published !== '' && !pm) return `"${text}" has an invalid published port "${published}"`;
  const cStart = Number(cm[1]);
  const cEnd = cm[2] ? Number(cm[2]) : cStart;
  if (cEnd < cStart) return `"${text}" has a port range that ends before it starts`;
  const base = (target: number, pub: string | undefined): Obj => {
    const o: Obj = { mode: 'ingress' };
    if (ip !== undefined && ip !== '') o.host_ip = ip;
    o.target = target;
    if (pub !== undefined) o.published = pub;
    o.protocol = protocol;
    return o;
  };
  if (!pm) {
    const out: Obj[] = [];
    for (let t = cStart; t <= cEnd; t++) out.push(base(t, undefined));
    return out;
  }
  const pStart = Number(pm[1]);
  const pEnd = pm[2] ? Number(pm[2]) : pStart;
  if (pEnd < pStart) return `"${text}" has a port range that ends before it starts`;
  if (cStart === cEnd) return [base(cStart, pStart === pEnd ? String(pStart) : `${pStart}-${pEnd}`)];
  if (pEnd - pStart !== cEnd - cStart) return `"${text}": the published and target ranges differ in length`;
  const out: Obj[] = [];
  for (let i = 0; i <= cEnd - cStart; i++) out.push(base(cStart + i, String(pStart + i)));
  return out;
}

// ---------------------------------------------------------------------- volumes

const PROPAGATION = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
const CONSISTENCY = new Set(['consistent', 'cached', 'delegated']);
const MODE_WORDS = new Set(['ro', 'rw', 'z', 'Z', 'nocopy', ...PROPAGATION, ...CONSISTENCY]);

function isModeList(s: string): boolean {
  return s !== '' && s.split(',').every((m) => MODE_WORDS.has(m));
}

export function expandVolume(v: unknown, ctx: ShorthandContext): Obj | string {
  if (isObj(v)) {
    const long: Obj = { ...v };
    if (long.type === 'bind' && typeof long.source === 'string') {
      long.source = modelPath(long.source, ctx);
    }
    if (long.read_only !== undefined) long.read_only = long.read_only === true || long.read_only === 'true';
    return long;
  }
  const text = String(v);
  const parts = text.split(':');
  let source: string | undefined;
  let target: string;
  let mode = '';
  if (parts.length === 1) target = parts[0]!;
  else if (parts.length === 2) {
    if (parts[0]!.startsWith('/') && isModeList(parts[1]!) && !parts[1]!.startsWith('/')) {
      target = parts[0]!;
      mode = parts[1]!;
    } else {
      source = parts[0]!;
      target = parts[1]!;
    }
  } else if (parts.length === 3) {
    source = parts[0]!;
    target = parts[1]!;
    mode = parts[2]!;
  } else return `"${text}" is not a volume: expected [source:]target[:mode]`;
  if (target === '') return `"${text}" has no target path inside the container`;
  if (source === '') return `"${text}" has an empty source`;
  if (mode !== '' && !isModeList(mode))
    return `"${text}" has an unknown mode "${mode}" (ro, rw, z, Z, nocopy, …)`;
  const modes = mode === '' ? [] : mode.split(',');
  const long: Obj = {};
  const isBind =
    source !== undefined && (source.startsWith('/') || source.startsWith('.') || source.startsWith('~'));
  if (source === undefined) {
    long.type = 'volume';
  } else if (isBind) {
    long.type = 'bind';
    long.source = modelPath(source, ctx);
  } else {
    long.type = 'volume';
    long.source = source;
  }
  long.target = target;
  if (modes.includes('ro')) long.read_only = true;
  const cons = modes.find((m) => CONSISTENCY.has(m));
  if (cons) long.consistency = cons;
  if (long.type === 'bind') {
    const bind: Obj = { create_host_path: true };
    const prop = modes.find((m) => PROPAGATION.has(m));
    if (prop) bind.propagation = prop;
    const selinux = modes.find((m) => m === 'z' || m === 'Z');
    if (selinux) bind.selinux = selinux;
    long.bind = bind;
  } else {
    const vol: Obj = {};
    if (modes.includes('nocopy')) vol.nocopy = true;
    long.volume = vol;
  }
  return long;
}
