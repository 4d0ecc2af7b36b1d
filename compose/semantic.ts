// Checks that need the whole project: references to services and resources that do not
// exist, dependency cycles, published ports claimed twice, option combinations.

import type { PathSegment } from './positions.js';
import type { Diagnostics } from './sources.js';
import type { ComposeProject } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export function checkProject(p: ComposeProject, rawServices: Obj, diag: Diagnostics): void {
  const defined = (name: string) => Object.hasOwn(rawServices, name);
  const unknownService = (path: PathSegment[], from: string, target: string, via: string) =>
    diag.error(path, `service "${from}" ${via} service "${target}", which is not defined`);

  for (const [name, s] of Object.entries(p.services)) {
    const at = (...x: PathSegment[]): PathSegment[] => ['services', name, ...x];
    for (const dep of Object.keys(s.depends_on ?? {})) {
      if (!defined(dep)) unknownService(at('depends_on', dep), name, dep, 'depends on');
    }
    (s.links ?? []).forEach((l, i) => {
      const t = String(l).split(':')[0]!;
      if (!defined(t)) unknownService(at('links', i), name, t, 'links to');
    });
    (s.volumes_from ?? []).forEach((v, i) => {
      const t = String(v);
      if (t.startsWith('container:')) return;
      const svc = t.replace(/^service:/, '').split(':')[0]!;
      if (!defined(svc)) unknownService(at('volumes_from', i), name, svc, 'takes volumes from');
    });
    for (const key of ['network_mode', 'ipc', 'pid'] as const) {
      const v = s[key];
      if (typeof v === 'string' && v.startsWith('service:') && !defined(v.slice(8))) {
        unknownService(at(key), name, v.slice(8), `uses the ${key} of`);
      }
    }
    if (
      s.network_mode !== undefined &&
      isObj(rawServices[name]) &&
      (rawServices[name] as Obj).networks !== undefined
    ) {
      diag.error(at('network_mode'), 'network_mode cannot be combined with networks; keep one of them');
    }
    for (const n of Object.keys(s.networks ?? {})) {
      if (!Object.hasOwn(p.networks, n)) {
        diag.error(at('networks', n), `network "${n}" is not declared under the top-level networks:`);
      }
    }
    (s.volumes ?? []).forEach((v, i) => {
      if (v.type === 'volume' && v.source && !Object.hasOwn(p.volumes, v.source)) {
        diag.error(at('volumes', i), `volume "${v.source}" is not declared under the top-level volumes:`);
      }
    });
    for (const kind of ['secrets', 'configs'] as const) {
      (s[kind] ?? []).forEach((r, i) => {
        if (r.source && !Object.hasOwn(p[kind], r.source)) {
          diag.error(
            at(kind, i),
            `${kind.slice(0, -1)} "${r.source}" is not declared under the top-level ${kind}:`,
          );
        }
      });
    }
    if (isObj(s.build) && Array.isArray(s.build.secrets)) {
      s.build.secrets.forEach((r, i) => {
        const src = typeof r === 'string' ? r : String((r as Obj).source ?? '');
        if (src && !Object.hasOwn(p.secrets, src)) {
          diag.error(
            at('build', 'secrets', i),
            `secret "${src}" is not declared under the top-level secrets:`,
          );
        }
      });
    }
    const replicas = s.deploy?.replicas ?? s.scale ?? 1;
    if (s.container_name !== undefined && replicas > 1) {
      diag.error(
        at('container_name'),
        `container_name "${s.container_name}" needs exactly one replica, not ${replicas}`,
      );
    }
  }
  const containerNames = new Map<string, string>();
  for (const [name, s] of Object.entries(p.services)) {
    if (s.container_name === undefined) continue;
    const other = containerNames.get(s.container_name);
    if (other) {
      diag.error(
        ['services', name, 'container_name'],
        `container_name "${s.container_name}" is already used by service "${other}"`,
      );
    } else containerNames.set(s.container_name, name);
  }
  checkCycles(p, diag);
  checkPorts(p, diag);
}

function checkCycles(p: ComposeProject, diag: Diagnostics): void {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of Object.keys(p.services[name]?.depends_on ?? {})) {
      if (!p.services[dep]) continue;
      const st = state.get(dep);
      if (st === 'visiting') {
        const cycle = [...stack.slice(stack.indexOf(dep)), dep];
        diag.error(['services', name, 'depends_on', dep], `dependency cycle: ${cycle.join(' → ')}`);
      } else if (st === undefined) visit(dep);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of Object.keys(p.services)) if (!state.has(name)) visit(name);
}

function checkPorts(p: ComposeProject, diag: Diagnostics): void {
  const claims = new Map<string, { service: string; index: number; ip: string }[]>();
  for (const [name, s] of Object.entries(p.services)) {
    (s.ports ?? []).forEach((port, i) => {
      if (!port.published) return;
      const [a, b] = port.published.split('-').map(Number);
      const from = a ?? 0;
      const to = Math.min(b ?? from, from + 65535);
      const ip = port.host_ip ?? '';
      for (let n = from; n <= to; n++) {
        const key = `${n}/${port.protocol}`;
        const list = claims.get(key) ?? [];
        // A wildcard address collides with every address, a specific one with itself.
        const prev = list.find((c) => c.ip === ip || c.ip === '' || ip === '');
        if (prev) {
          const other = prev.service === name ? 'this service' : `service "${prev.service}"`;
          diag.error(
            ['services', name, 'ports', i],
            `published port ${ip ? `${ip}:` : ''}${key} is already published by ${other} (services.${prev.service}.ports[${prev.index}])`,
          );
          return;
        }
        list.push({ service: name, index: i, ip });
        claims.set(key, list);
      }
    });
  }
}
