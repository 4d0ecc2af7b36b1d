import type { FastifyInstance } from 'fastify';
import type { NetworkAttachmentConfig, Service, ServiceSpec, Task } from '../../../lib/index.js';
import { SkiffError, taskSpecMatches } from '../../../lib/index.js';
import { applyServiceUpdate, newJobStatus, rollbackService } from '../../orchestrator/index.js';
import { newObjectId, type Store } from '../../store/index.js';
import type { ApiContext } from '../context.js';
import { anyOf, labelsMatch, parseFilters } from '../filters.js';
import { withServiceStatus } from '../present.js';
import { parseServiceSpec } from '../schemas.js';
import { boolParam, paramOf, queryOf, versionParam } from './params.js';

// dockerd's accepted keys (daemon/cluster/filters.go); any other key is a 400, as there.
// `runtime`: every service and task here runs containers (`container`), none a plugin.
const SERVICE_FILTERS = ['id', 'label', 'mode', 'name', 'runtime'];
// `_up-to-date` is how the docker CLI follows a create or update (its default, attached
// mode): only the tasks that run the service's current spec. `up-to-date` is kept as
// skiff accepted it before.
const TASK_FILTERS = [
  '_up-to-date',
  'desired-state',
  'id',
  'label',
  'name',
  'node',
  'runtime',
  'service',
  'up-to-date',
];
const CONTAINER_RUNTIME = 'container';

export function registerServiceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;
  const find = (idOrName: string): Service => {
    const s = store.getService(idOrName);
    if (!s) throw new SkiffError('not_found', `service ${idOrName} not found`);
    return s;
  };

  app.get('/services', async (req) => {
    const q = queryOf(req);
    const f = parseFilters(q.filters, SERVICE_FILTERS);
    const status = boolParam(q, 'status');
    const list = store.listServices(
      (s) =>
        anyOf(f, 'id', (v) => s.ID.startsWith(v)) &&
        anyOf(f, 'name', (v) => (s.Spec.Name ?? '').startsWith(v)) &&
        anyOf(f, 'mode', (v) => (v === 'global' ? isGlobal(s.Spec) : !isGlobal(s.Spec))) &&
        anyOf(f, 'runtime', (v) => v === CONTAINER_RUNTIME) &&
        labelsMatch(f, 'label', s.Spec.Labels),
    );
    return status ? list.map((s) => withServiceStatus(s, store)) : list;
  });

  app.get('/services/:id', async (req) => {
    boolParam(queryOf(req), 'insertDefaults');
    return find(paramOf(req, 'id'));
  });

  app.post('/services/create', async (req, reply) => {
    const spec = normalizeSpec(parseServiceSpec(req.body), store, undefined);
    const nowIso = ctx.clock().toISOString();
    const created = await store.update((tx) =>
      tx.createService({ Spec: spec, ...newJobStatus(spec, nowIso) }),
    );
    ctx.log.info({ serviceId: created.ID, name: spec.Name }, 'service created');
    return reply.status(201).send({ ID: created.ID });
  });

  app.post('/services/:id/update', async (req) => {
    const q = queryOf(req);
    const version = versionParam(q);
    const rollback = q.rollback;
    if (rollback !== undefined && rollback !== 'previous' && rollback !== '') {
      throw new SkiffError(
        'invalid_argument',
        `invalid rollback value ${String(rollback).slice(0, 40)}: only "previous" is supported`,
      );
    }
    const body = parseServiceSpec(req.body);
    const cur = find(paramOf(req, 'id'));
    let next: ServiceSpec;
    if (rollback === 'previous') {
      if (!cur.PreviousSpec)
        throw new SkiffError(
          'invalid_argument',
          `service ${cur.Spec.Name} does not have a previous spec to roll back to`,
        );
      next = cur.PreviousSpec;
    } else {
      next = normalizeSpec(body, store, cur);
    }
    if ((next.Name ?? cur.Spec.Name) !== cur.Spec.Name)
      throw new SkiffError('invalid_argument', 'renaming services is not supported');
    if (modeKind(next) !== modeKind(cur.Spec))
      throw new SkiffError('invalid_argument', 'service mode change is not allowed');
    // The orchestrator's own transitions: a new run of the update machine (UpdateStatus
    // cleared, PreviousSpec kept), or a rollback it carries out under RollbackConfig.
    const nowIso = ctx.clock().toISOString();
    const updated =
      rollback === 'previous'
        ? rollbackService(cur, nowIso)
        : applyServiceUpdate(cur, { ...next, Name: cur.Spec.Name }, nowIso);
    await store.update((tx) => tx.updateService({ ...updated, Version: { Index: version } }));
    ctx.log.info({ serviceId: cur.ID, rollback: rollback === 'previous' }, 'service updated');
    return { Warnings: [] };
  });

  app.delete('/services/:id', async (req) => {
    const cur = find(paramOf(req, 'id'));
    await store.update((tx) => tx.deleteService(cur.ID));
    ctx.log.info({ serviceId: cur.ID }, 'service removed');
    return '';
  });

  app.get('/tasks', async (req) => {
    const f = parseFilters(queryOf(req).filters, TASK_FILTERS);
    const serviceIds = f.get('service')?.map((v) => store.getService(v)?.ID ?? v);
    const nodeIds = f.get('node')?.map((v) => store.getNode(v)?.ID ?? v);
    // swarmkit tests only the key's presence, whatever its value.
    const upToDate = f.has('_up-to-date') || f.has('up-to-date');
    const current = (t: Task): boolean => {
      const template = store.getService(t.ServiceID)?.Spec.TaskTemplate;
      return template !== undefined && taskSpecMatches(t.Spec, template);
    };
    return store.listTasks(
      {},
      (t) =>
        (serviceIds === undefined || serviceIds.includes(t.ServiceID)) &&
        (nodeIds === undefined || (t.NodeID !== undefined && nodeIds.includes(t.NodeID))) &&
        anyOf(f, 'id', (v) => t.ID.startsWith(v)) &&
        anyOf(f, 'desired-state', (v) => t.DesiredState === v) &&
        anyOf(f, 'name', (v) => taskName(t, store).startsWith(v)) &&
        anyOf(f, 'runtime', (v) => v === CONTAINER_RUNTIME) &&
        (!upToDate || current(t)) &&
        labelsMatch(f, 'label', t.Labels),
    );
  });

  app.get('/tasks/:id', async (req) => {
    const id = paramOf(req, 'id');
    const t = store.getTask(id);
    if (!t) throw new SkiffError('not_found', `task ${id} not found`);
    return t;
  });
}

function isGlobal(s: ServiceSpec): boolean {
  return s.Mode?.Global !== undefined || s.Mode?.GlobalJob !== undefined;
}

function modeKind(s: ServiceSpec): string {
  const m = s.Mode ?? {};
  return Object.keys(m).sort().join(',') || 'Replicated';
}

function taskName(t: Task, store: Store): string {
  if (t.Name) return t.Name;
  const svc = store.getService(t.ServiceID)?.Spec.Name ?? t.ServiceID;
  return `${svc}.${t.Slot ?? t.NodeID ?? ''}`;
}

/**
 * Checks what a schema cannot (one mode, references that must exist, published port
 * clashes) and fills Docker's defaults. Network, secret and config references end up
 * as IDs.
 */
function normalizeSpec(spec: ServiceSpec, store: Store, current: Service | undefined): ServiceSpec {
  const out: ServiceSpec = { ...spec };
  if (!out.Name) out.Name = current?.Spec.Name ?? `service-${newObjectId().slice(0, 8)}`;
  const modes = Object.keys(out.Mode ?? {});
  if (modes.length > 1)
    throw new SkiffError('invalid_argument', `a service has one mode, got ${modes.join(' and ')}`);
  if (modes.length === 0) out.Mode = { Replicated: { Replicas: 1 } };
  else if (out.Mode?.Replicated && out.Mode.Replicated.Replicas === undefined)
    out.Mode = { Replicated: { Replicas: 1 } };
  const tmpl = out.TaskTemplate ?? {};
  const runtime = tmpl.Runtime;
  if (runtime !== undefined && runtime !== '' && runtime !== 'container') {
    throw new SkiffError(
      'invalid_argument',
      `task runtime ${runtime} is not supported; skiff runs containers`,
    );
  }
  if (!tmpl.ContainerSpec)
    throw new SkiffError('invalid_argument', 'ContainerSpec: image reference must be provided');
  const cs = { ...tmpl.ContainerSpec };
  if (cs.Secrets) {
    cs.Secrets = cs.Secrets.map((r) => {
      const s = store.getSecret(r.SecretID);
      if (!s) throw new SkiffError('invalid_argument', `secret not found: ${r.SecretID}`);
      return { ...r, SecretID: s.ID, SecretName: r.SecretName || (s.Spec.Name ?? '') };
    });
  }
  if (cs.Configs) {
    cs.Configs = cs.Configs.map((r) => {
      const c = store.getConfig(r.ConfigID);
      if (!c) throw new SkiffError('invalid_argument', `config not found: ${r.ConfigID}`);
      return { ...r, ConfigID: c.ID, ConfigName: r.ConfigName || (c.Spec.Name ?? '') };
    });
  }
  const resolveNetworks = (list: NetworkAttachmentConfig[] | undefined) =>
    list?.map((a) => {
      const n = store.getNetwork(a.Target);
      if (!n) throw new SkiffError('not_found', `network ${a.Target} not found`);
      if (n.Spec.Ingress)
        throw new SkiffError(
          'invalid_argument',
          'service cannot be explicitly attached to the ingress network',
        );
      return { ...a, Target: n.ID };
    });
  out.TaskTemplate = { ...tmpl, ContainerSpec: cs };
  const nets = resolveNetworks(tmpl.Networks);
  if (nets) out.TaskTemplate.Networks = nets;
  const legacy = resolveNetworks(out.Networks);
  if (legacy) out.Networks = legacy;

  const ports = out.EndpointSpec?.Ports ?? [];
  if (out.EndpointSpec?.Mode === 'dnsrr' && ports.some((p) => (p.PublishMode ?? 'ingress') === 'ingress')) {
    throw new SkiffError(
      'invalid_argument',
      'port published with ingress mode cannot be used with dnsrr mode',
    );
  }
  const seen = new Set<string>();
  for (const p of ports) {
    if (!p.PublishedPort) continue;
    const key = `${p.PublishedPort}/${p.Protocol ?? 'tcp'}/${p.PublishMode ?? 'ingress'}`;
    if (seen.has(key)) throw new SkiffError('invalid_argument', `duplicate published port ${key}`);
    seen.add(key);
    if ((p.PublishMode ?? 'ingress') !== 'ingress') continue;
    const user = store.listServices(
      (s) =>
        s.ID !== current?.ID &&
        (s.Spec.EndpointSpec?.Ports ?? []).some(
          (o) =>
            o.PublishedPort === p.PublishedPort &&
            (o.Protocol ?? 'tcp') === (p.Protocol ?? 'tcp') &&
            (o.PublishMode ?? 'ingress') === 'ingress',
        ),
    )[0];
    if (user) {
      throw new SkiffError(
        'invalid_argument',
        `port '${p.PublishedPort}' is already in use by service '${user.Spec.Name}' (${user.ID})`,
      );
    }
  }
  return out;
}
