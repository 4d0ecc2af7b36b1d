import type { FastifyInstance } from 'fastify';
import type { Config, Secret, SwarmNetwork } from '../../../lib/index.js';
import {
  isEncryptedNetwork,
  MTU_OPTION,
  parseDurationNs,
  publishesThroughMesh,
  SkiffError,
  usesIngressNetwork,
} from '../../../lib/index.js';
import { newNetworkKeyRing, openNetworkKeys, withNetworkKeys } from '../../store/index.js';
import type { ApiContext } from '../context.js';
import { anyOf, labelsMatch, parseFilters } from '../filters.js';
import { presentNetwork, presentSecret } from '../present.js';
import { parseConfigSpec, parseNetworkCreate, parseSecretSpec } from '../schemas.js';
import { paramOf, queryOf, versionParam } from './params.js';

const NETWORK_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'];
/** dockerd's `network prune` filters. */
const NETWORK_PRUNE_FILTERS = ['label', 'label!', 'until'];
const SECRET_FILTERS = ['id', 'label', 'name', 'names'];
/** Docker's limit on secret and config data. */
const MAX_DATA_BYTES = 500 * 1024;

export function registerObjectRoutes(app: FastifyInstance, ctx: ApiContext): void {
  registerNetworkRoutes(app, ctx);
  registerSecretRoutes(app, ctx);
  registerConfigRoutes(app, ctx);
}

function registerNetworkRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;
  const find = (idOrName: string): SwarmNetwork => {
    const n = store.getNetwork(idOrName);
    if (!n) throw new SkiffError('not_found', `network ${idOrName} not found`);
    return n;
  };

  const local = ctx.localNetworks;

  app.get('/networks', async (req) => {
    const f = parseFilters(queryOf(req).filters, NETWORK_FILTERS);
    const locals = (await local?.list()) ?? [];
    const own = locals.filter(
      (n) =>
        anyOf(f, 'id', (v) => n.Id.startsWith(v)) &&
        anyOf(f, 'name', (v) => n.Name.includes(v)) &&
        anyOf(f, 'driver', (v) => n.Driver === v) &&
        anyOf(f, 'scope', (v) => v === 'local') &&
        anyOf(f, 'type', (v) => (v === 'builtin') === (n.Name === 'bridge' || n.Name === 'none')) &&
        anyOf(
          f,
          'dangling',
          (v) => (v === 'true' || v === '1') === (Object.keys(n.Containers).length === 0),
        ) &&
        labelsMatch(f, 'label', n.Labels),
    );
    const cluster = store
      .listNetworks(
        (n) =>
          anyOf(f, 'id', (v) => n.ID.startsWith(v)) &&
          anyOf(f, 'name', (v) => n.Spec.Name.includes(v)) &&
          anyOf(f, 'driver', (v) => (n.Spec.DriverConfiguration?.Name ?? 'overlay') === v) &&
          anyOf(f, 'scope', (v) => v === 'swarm') &&
          anyOf(f, 'type', (v) => v === 'custom' || (v === 'builtin' && n.Spec.Ingress === true)) &&
          anyOf(f, 'dangling', (v) => (v === 'true' || v === '1') === !networkInUse(ctx, n)) &&
          labelsMatch(f, 'label', n.Spec.Labels),
      )
      .map(presentNetwork);
    return [...own, ...cluster];
  });

  app.get('/networks/:id', async (req) => {
    const ref = paramOf(req, 'id');
    // The cluster's by exact ID first, then the node's own, then names and prefixes.
    const exact = store.getNetwork(ref);
    if (exact && exact.ID === ref) return presentNetwork(exact);
    const mine = await local?.find(ref);
    return mine ?? presentNetwork(find(ref));
  });

  app.post('/networks/:id/connect', async (req, reply) => {
    const ref = paramOf(req, 'id');
    const body = connectBody(req.body, 'connect');
    const aliases = body.EndpointConfig?.Aliases ?? [];
    if (!(await local?.find(ref))) notLocal(find(ref), 'connect');
    await local?.connect(ref, body.Container, aliases);
    return reply.status(200).send();
  });

  app.post('/networks/:id/disconnect', async (req, reply) => {
    const ref = paramOf(req, 'id');
    const body = connectBody(req.body, 'disconnect');
    if (!(await local?.find(ref))) notLocal(find(ref), 'disconnect');
    await local?.disconnect(ref, body.Container);
    return reply.status(200).send();
  });

  app.post('/networks/create', async (req, reply) => {
    const raw = (req.body ?? {}) as { Name?: unknown; Driver?: unknown; Scope?: unknown };
    // As dockerd on a swarm node: a network is the node's own bridge unless it asks
    // for a swarm driver (overlay) or scope.
    const swarmy =
      (raw.Driver !== undefined && raw.Driver !== null && raw.Driver !== '' && raw.Driver !== 'bridge') ||
      raw.Scope === 'swarm';
    if (local && !swarmy) {
      if (typeof raw.Name === 'string' && store.getNetwork(raw.Name)?.Spec.Name === raw.Name)
        throw new SkiffError('conflict', `network with name ${raw.Name} already exists`);
      return reply.status(201).send(await local.create(req.body ?? {}));
    }
    const body = parseNetworkCreate(req.body);
    const driver = body.Driver || 'overlay';
    if (typeof body.Name === 'string' && (await local?.find(body.Name))?.Name === body.Name)
      throw new SkiffError('conflict', `network with name ${body.Name} already exists`);
    if (driver !== 'overlay') {
      throw new SkiffError(
        'invalid_argument',
        `network driver ${driver} is not supported by the skiff manager; use -d overlay`,
        {
          hint: 'cluster networks are swarm-scoped overlays',
        },
      );
    }
    if (body.Scope && body.Scope !== 'swarm')
      throw new SkiffError('invalid_argument', `network scope ${body.Scope} is not supported; use swarm`);
    if (body.Ingress && store.listNetworks((n) => n.Spec.Ingress === true).length > 0) {
      throw new SkiffError(
        'already_exists',
        'an ingress network already exists; remove it before creating another one',
      );
    }
    const encrypted = isEncryptedNetwork(body.Options);
    if (encrypted && body.Ingress)
      throw new SkiffError(
        'invalid_argument',
        `network ${body.Name}: the ingress network cannot be encrypted`,
        {
          hint: 'encrypt the networks your services talk over; the routing mesh forwards over ingress in clear',
        },
      );
    if (body.ConfigOnly) throw new SkiffError('invalid_argument', 'config-only networks are not supported');
    const mtu = body.Options?.[MTU_OPTION];
    if (mtu !== undefined && !(/^\d+$/.test(mtu) && Number(mtu) >= 68 && Number(mtu) <= 65_535)) {
      throw new SkiffError(
        'invalid_argument',
        `invalid ${MTU_OPTION} "${mtu}": expected a number from 68 to 65535`,
        {
          hint: 'leave it out to use the underlay MTU less the 50 bytes of VXLAN',
        },
      );
    }
    const ipamConfigs = body.IPAM?.Config ?? [];
    for (const c of ipamConfigs) {
      if (c.Subnet !== undefined && !isCidr(c.Subnet))
        throw new SkiffError(
          'invalid_argument',
          `invalid subnet ${c.Subnet}: expected a CIDR such as 10.1.0.0/24`,
        );
      if (c.Gateway !== undefined && !isIPv4(c.Gateway))
        throw new SkiffError('invalid_argument', `invalid gateway ${c.Gateway}`);
    }
    const created = await store.update((tx) => {
      // The first encrypted overlay brings the cluster's key ring (network-keys.ts).
      const cluster = store.getCluster();
      if (encrypted && cluster && !openNetworkKeys(store, cluster))
        tx.updateCluster(withNetworkKeys(store, cluster, newNetworkKeyRing(Date.now())));
      return tx.createNetwork({
        Spec: {
          Name: body.Name,
          Labels: body.Labels ?? {},
          DriverConfiguration: { Name: driver, ...(body.Options ? { Options: body.Options } : {}) },
          IPv6Enabled: body.EnableIPv6 ?? false,
          Internal: body.Internal ?? false,
          Attachable: body.Attachable ?? false,
          Ingress: body.Ingress ?? false,
          IPAMOptions: {
            Driver: {
              Name: body.IPAM?.Driver || 'default',
              ...(body.IPAM?.Options ? { Options: body.IPAM.Options } : {}),
            },
            Configs: ipamConfigs,
          },
          Scope: 'swarm',
        },
      });
    });
    ctx.log.info({ networkId: created.ID, name: body.Name, encrypted }, 'network created');
    return reply.status(201).send({ Id: created.ID, Warning: '' });
  });

  app.delete('/networks/:id', async (req, reply) => {
    const ref = paramOf(req, 'id');
    const exact = store.getNetwork(ref);
    if (!(exact && exact.ID === ref) && (await local?.find(ref))) {
      await local?.remove(ref);
      return reply.status(204).send();
    }
    const n = find(ref);
    await store.update((tx) => tx.deleteNetwork(n.ID));
    return reply.status(204).send();
  });

  app.post('/networks/prune', async (req) => {
    const f = parseFilters(queryOf(req).filters, NETWORK_PRUNE_FILTERS);
    const until = f.get('until')?.map((v) => pruneUntil(v));
    const wanted = (labels: Record<string, string> | undefined, created: string) =>
      labelsMatch(f, 'label', labels) &&
      !(f.get('label!') ?? []).some((l) => labelsMatch(new Map([['label', [l]]]), 'label', labels)) &&
      (until === undefined || until.every((u) => Date.parse(created) < u));
    const mine = (await local?.prune((n) => !wanted(n.Labels, n.Created))) ?? [];
    const unused = store.listNetworks(
      (n) => !n.Spec.Ingress && !networkInUse(ctx, n) && wanted(n.Spec.Labels, n.CreatedAt),
    );
    if (unused.length > 0) {
      await store.update((tx) => {
        for (const n of unused) tx.deleteNetwork(n.ID);
      });
    }
    return { NetworksDeleted: [...mine, ...unused.map((n) => n.Spec.Name)] };
  });
}

/** dockerd's `until`: unix seconds, an RFC 3339 date, or a Go duration back from now (`24h`); in ms. */
function pruneUntil(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const ns = parseDurationNs(v);
  if (ns !== undefined) return now - ns / 1e6;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms))
    throw new SkiffError('invalid_argument', `invalid filter 'until=${v}'`, {
      hint: 'give unix seconds, an RFC 3339 date or a duration such as 24h',
    });
  return ms;
}

/** A service joins the network: by name or ID, or (the ingress network) by publishing ports without a network or in ingress mode. */
function networkInUse(ctx: ApiContext, n: SwarmNetwork): boolean {
  return ctx.store
    .listServices()
    .some(
      (s) =>
        (n.Spec.Ingress === true && (usesIngressNetwork(s.Spec) || publishesThroughMesh(s.Spec))) ||
        [...(s.Spec.TaskTemplate?.Networks ?? []), ...(s.Spec.Networks ?? [])].some(
          (a) => a.Target === n.ID || a.Target === n.Spec.Name,
        ),
    );
}

function registerSecretRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;
  const find = (idOrName: string): Secret => {
    const s = store.getSecret(idOrName);
    if (!s) throw new SkiffError('not_found', `secret ${idOrName} not found`);
    return s;
  };

  app.get('/secrets', async (req) => {
    const f = parseFilters(queryOf(req).filters, SECRET_FILTERS);
    return store.listSecrets((s) => specMatches(f, s)).map(presentSecret);
  });

  app.get('/secrets/:id', async (req) => presentSecret(find(paramOf(req, 'id'))));

  app.post('/secrets/create', async (req, reply) => {
    const spec = parseSecretSpec(req.body);
    if (spec.Driver)
      throw new SkiffError('invalid_argument', 'secret drivers are not supported; pass the data in Data');
    if (spec.Data === undefined || spec.Data === '')
      throw new SkiffError('invalid_argument', 'secret data must be provided (base64 in Data)');
    checkDataSize(spec.Data, 'secret');
    const created = await store.update((tx) => tx.createSecret({ Spec: spec }));
    // Never log the data; the name and ID are enough to trace it.
    ctx.log.info({ secretId: created.ID, name: spec.Name }, 'secret created');
    return reply.status(201).send({ ID: created.ID });
  });

  app.post('/secrets/:id/update', async (req) => {
    const version = versionParam(queryOf(req));
    const spec = parseSecretSpec(req.body);
    const cur = find(paramOf(req, 'id'));
    if (spec.Name !== cur.Spec.Name || spec.Data !== undefined || spec.Driver !== undefined) {
      throw new SkiffError('invalid_argument', 'only updates to Labels are allowed');
    }
    await store.update((tx) =>
      tx.updateSecret({
        ...cur,
        Version: { Index: version },
        Spec: { ...cur.Spec, Labels: spec.Labels ?? {} },
      }),
    );
    return '';
  });

  app.delete('/secrets/:id', async (req, reply) => {
    const s = find(paramOf(req, 'id'));
    await store.update((tx) => tx.deleteSecret(s.ID));
    return reply.status(204).send();
  });
}

function registerConfigRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;
  const find = (idOrName: string): Config => {
    const c = store.getConfig(idOrName);
    if (!c) throw new SkiffError('not_found', `config ${idOrName} not found`);
    return c;
  };

  app.get('/configs', async (req) => {
    const f = parseFilters(queryOf(req).filters, SECRET_FILTERS);
    return store.listConfigs((c) => specMatches(f, c));
  });

  app.get('/configs/:id', async (req) => find(paramOf(req, 'id')));

  app.post('/configs/create', async (req, reply) => {
    const spec = parseConfigSpec(req.body);
    if (spec.Data === undefined)
      throw new SkiffError('invalid_argument', 'config data must be provided (base64 in Data)');
    checkDataSize(spec.Data, 'config');
    const created = await store.update((tx) => tx.createConfig({ Spec: spec }));
    ctx.log.info({ configId: created.ID, name: spec.Name }, 'config created');
    return reply.status(201).send({ ID: created.ID });
  });

  app.post('/configs/:id/update', async (req) => {
    const version = versionParam(queryOf(req));
    const spec = parseConfigSpec(req.body);
    const cur = find(paramOf(req, 'id'));
    if (spec.Name !== cur.Spec.Name || (spec.Data !== undefined && spec.Data !== cur.Spec.Data)) {
      throw new SkiffError('invalid_argument', 'only updates to Labels are allowed');
    }
    await store.update((tx) =>
      tx.updateConfig({
        ...cur,
        Version: { Index: version },
        Spec: { ...cur.Spec, Labels: spec.Labels ?? {} },
      }),
    );
    return '';
  });

  app.delete('/configs/:id', async (req, reply) => {
    const c = find(paramOf(req, 'id'));
    await store.update((tx) => tx.deleteConfig(c.ID));
    return reply.status(204).send();
  });
}

function specMatches(f: ReturnType<typeof parseFilters>, o: Secret | Config): boolean {
  const name = o.Spec.Name ?? '';
  return (
    anyOf(f, 'id', (v) => o.ID.startsWith(v)) &&
    anyOf(f, 'name', (v) => name.startsWith(v)) &&
    anyOf(f, 'names', (v) => name === v) &&
    labelsMatch(f, 'label', o.Spec.Labels)
  );
}

function checkDataSize(b64: string, what: string): void {
  const bytes = Math.floor((b64.length * 3) / 4);
  if (bytes > MAX_DATA_BYTES)
    throw new SkiffError('invalid_argument', `${what} data is too large: limit is 500KiB`);
}

function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isCidr(s: string): boolean {
  const [ip, bits, ...rest] = s.split('/');
  return (
    rest.length === 0 &&
    ip !== undefined &&
    isIPv4(ip) &&
    bits !== undefined &&
    /^\d{1,2}$/.test(bits) &&
    Number(bits) <= 32
  );
}

/** `POST /networks/{id}/connect` and `disconnect`: Docker's body, checked by hand. */
function connectBody(
  raw: unknown,
  what: string,
): { Container: string; EndpointConfig?: { Aliases?: string[] } } {
  const b = (raw ?? {}) as { Container?: unknown; EndpointConfig?: unknown; Force?: unknown };
  if (typeof b !== 'object' || Array.isArray(b) || typeof b.Container !== 'string' || b.Container === '')
    throw new SkiffError('invalid_argument', `${what}: the body must name a Container`);
  const ep = (b.EndpointConfig ?? {}) as Record<string, unknown>;
  if (typeof ep !== 'object' || Array.isArray(ep))
    throw new SkiffError('invalid_argument', `${what}: EndpointConfig must be an object`);
  for (const [k, v] of Object.entries(ep)) {
    if (k === 'Aliases' || k === 'NetworkID') continue;
    if (v === null || v === '' || v === false || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    if (typeof v === 'object' && Object.keys(v as object).length === 0) continue;
    throw new SkiffError(
      'invalid_argument',
      `EndpointConfig.${k.slice(0, 40)} is not supported by skiff yet`,
    );
  }
  const aliases = ep.Aliases ?? [];
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string'))
    throw new SkiffError('invalid_argument', 'EndpointConfig.Aliases must be a list of strings');
  return { Container: b.Container, EndpointConfig: { Aliases: aliases as string[] } };
}

/** A cluster network: standalone containers join only the node's own networks for now. */
function notLocal(n: SwarmNetwork, what: string): never {
  throw new SkiffError(
    'invalid_argument',
    `network ${n.Spec.Name} is a swarm network: ${what} of standalone containers is not supported by skiff yet`,
    { hint: 'use a local bridge network (docker network create NAME)' },
  );
}
