// What a stack deploy would change, computed without I/O from the stack the files give
// and the objects the cluster has: `stack deploy` and `compose up` carry out this plan,
// and `--dry-run` prints it (Nomad's `job plan`, `kubectl diff`), so the two cannot drift.
// Fields the manager fills in (IDs, versions, the spec-hash label, ForceUpdate, network
// IDs for names, the default mode) are left out of a service's field diff, and so is the
// label with the file's text (a comment or whitespace change is no change).
import { createHash } from 'node:crypto';
import type {
  ConfigReference,
  ConfigSpec,
  NetworkCreateRequest,
  SecretReference,
  SecretSpec,
  Service,
  ServiceSpec,
  StackDependency,
} from '../lib/index.js';
import {
  COMPOSE_SOURCE_LABEL,
  CONTENT_HASH_LABEL,
  DEPENDS_ON_LABEL,
  encodeDependsOn,
  jsonEqual,
  SkiffError,
  SPEC_HASH_LABEL,
  STACK_NAMESPACE_LABEL,
  VERSION_OF_LABEL,
} from '../lib/index.js';

/** The shape compose's `projectToStack` produces. */
export interface StackLike {
  namespace: string;
  services: ServiceSpec[];
  networks: { name: string; spec: NetworkCreateRequest; external?: boolean }[];
  secrets: { name: string; spec: SecretSpec; external?: boolean }[];
  configs: { name: string; spec: ConfigSpec; external?: boolean }[];
  /** Named volumes the project declares (node-local; created on first use). */
  volumes?: { name: string }[];
  dependsOn?: Record<string, StackDependency[]>;
}

interface Stored<S> {
  ID: string;
  Spec: S;
}

/** What the cluster has: every network, secret and config, and the stack's services. */
export interface ClusterObjects {
  networks: { Name: string; Id: string }[];
  secrets: Stored<SecretSpec>[];
  configs: Stored<ConfigSpec>[];
  services: Service[];
}

export interface NetworkPlan {
  name: string;
  action: 'create' | 'unchanged';
  spec: NetworkCreateRequest;
}

/**
 * A secret or config of the file. Each content is a version of its own (secrets and
 * configs cannot change): a changed one is rotated, i.e. created under a new name that
 * the services then use at the same target path.
 */
export interface VersionedPlan {
  kind: 'secret' | 'config';
  /** The name the file gives it; the first version's own name. */
  name: string;
  /** The version the services will use. */
  version: string;
  action: 'create' | 'rotate' | 'unchanged';
  /** The existing version's ID when unchanged. */
  id?: string;
  /** The create request (with the stack and version labels) when created or rotated. */
  spec: SecretSpec & ConfigSpec;
  /** Versions the services stop using: removed once no task uses them. */
  retired: { name: string; id: string }[];
}

export interface FieldChange {
  /** Where in the service spec, e.g. `TaskTemplate.ContainerSpec.Env[GREETING]`. */
  path: string;
  from?: unknown;
  to?: unknown;
}

export interface ServicePlan {
  service: string;
  action: 'create' | 'update' | 'unchanged' | 'remove';
  /** The existing service's ID and version (update, unchanged, remove). */
  id?: string;
  version?: number;
  /** The spec to send, with the IDs of secrets and configs that exist already (not for remove). */
  spec?: ServiceSpec;
  previousForceUpdate?: number;
  image: string;
  previousImage?: string;
  replicas?: number;
  /** An update's changed fields. */
  diff: FieldChange[];
}

export interface StackPlan {
  namespace: string;
  networks: NetworkPlan[];
  secrets: VersionedPlan[];
  configs: VersionedPlan[];
  services: ServicePlan[];
  /** Whether applying it changes anything. */
  changes: boolean;
}

export function planStack(
  stack: StackLike,
  current: ClusterObjects,
  opts: { prune?: boolean; forceUpdate?: boolean } = {},
): StackPlan {
  checkExternals(stack, current);
  const ns = stack.namespace;
  const networks: NetworkPlan[] = stack.networks
    .filter((n) => !n.external)
    .map((n) => ({
      name: n.name,
      action: current.networks.some((x) => x.Name === n.name) ? 'unchanged' : 'create',
      spec: { ...n.spec, Name: n.name, Labels: { ...n.spec.Labels, [STACK_NAMESPACE_LABEL]: ns } },
    }));
  const secrets = stack.secrets
    .filter((s) => !s.external)
    .map((s) => planVersion('secret', s, current.secrets, ns));
  const configs = stack.configs
    .filter((s) => !s.external)
    .map((s) => planVersion('config', s, current.configs, ns));

  const secretVersions = new Map(secrets.map((s) => [s.name, s]));
  const configVersions = new Map(configs.map((s) => [s.name, s]));
  const secretIds = new Map(current.secrets.map((s) => [s.Spec.Name ?? '', s.ID]));
  const configIds = new Map(current.configs.map((s) => [s.Spec.Name ?? '', s.ID]));
  const networkNames = new Map(current.networks.map((n) => [n.Id, n.Name]));
  const existing = new Map(current.services.map((s) => [s.Spec.Name ?? '', s]));

  const services: ServicePlan[] = stack.services.map((raw) => {
    let spec = withVersions(withDependsOn(raw, stack), secretVersions, configVersions);
    spec = withIds(spec, secretIds, configIds);
    spec.Labels = { ...spec.Labels, [STACK_NAMESPACE_LABEL]: ns };
    const name = spec.Name ?? '';
    const image = spec.TaskTemplate?.ContainerSpec?.Image ?? '';
    const replicas = spec.Mode?.Replicated?.Replicas;
    const old = existing.get(name);
    if (!old) return { service: name, action: 'create', spec, image, replicas, diff: [] };
    const base = {
      service: name,
      id: old.ID,
      version: old.Version.Index,
      spec,
      previousForceUpdate: old.Spec.TaskTemplate?.ForceUpdate ?? 0,
      image,
      previousImage: old.Spec.TaskTemplate?.ContainerSpec?.Image,
      replicas,
    };
    if (old.Spec.Labels?.[SPEC_HASH_LABEL] === specHash(spec) && !opts.forceUpdate)
      return { ...base, action: 'unchanged', diff: [] };
    const diff = diffSpecs(forDiff(old.Spec, networkNames), forDiff(spec, networkNames));
    return { ...base, action: 'update', diff };
  });
  if (opts.prune) {
    const wanted = new Set(stack.services.map((s) => s.Name));
    for (const [name, s] of existing) {
      if (wanted.has(name)) continue;
      services.push({
        service: name,
        action: 'remove',
        id: s.ID,
        version: s.Version.Index,
        image: s.Spec.TaskTemplate?.ContainerSpec?.Image ?? '',
        diff: [],
      });
    }
  }
  const changes =
    networks.some((n) => n.action !== 'unchanged') ||
    [...secrets, ...configs].some((s) => s.action !== 'unchanged' || s.retired.length > 0) ||
    services.some((s) => s.action !== 'unchanged');
  return { namespace: ns, networks, secrets, configs, services, changes };
}

/** Everything the file declares external must exist before anything changes. */
function checkExternals(stack: StackLike, current: ClusterObjects): void {
  for (const n of stack.networks.filter((x) => x.external)) {
    if (!current.networks.some((x) => x.Name === n.name)) {
      throw new SkiffError(
        'not_found',
        `network "${n.name}" is declared as external, but could not be found`,
        { hint: `create it first: skiff network create --driver overlay ${n.name}` },
      );
    }
  }
  for (const [kind, list, have] of [
    ['secret', stack.secrets, current.secrets],
    ['config', stack.configs, current.configs],
  ] as const) {
    for (const s of list.filter((x) => x.external)) {
      if (!have.some((x) => x.Spec.Name === s.name)) {
        throw new SkiffError(
          'not_found',
          `${kind} "${s.name}" is declared as external, but could not be found`,
          {
            hint: `create it first: skiff ${kind} create ${s.name} FILE`,
          },
        );
      }
    }
  }
}

/** The sha256 of what a secret or config holds: its data, driver and templating. */
export function contentHash(spec: SecretSpec): string {
  const content = { Data: spec.Data ?? '', Driver: spec.Driver ?? null, Templating: spec.Templating ?? null };
  return createHash('sha256')
    .update(JSON.stringify(canonical(content)))
    .digest('hex');
}

function planVersion(
  kind: 'secret' | 'config',
  want: { name: string; spec: SecretSpec & ConfigSpec },
  have: Stored<SecretSpec & ConfigSpec>[],
  ns: string,
): VersionedPlan {
  const hash = contentHash(want.spec);
  // Versions of this name: those labelled so, and one made before versions had labels.
  const versions = have.filter(
    (x) => x.Spec.Labels?.[VERSION_OF_LABEL] === want.name || x.Spec.Name === want.name,
  );
  // A secret's data is never read back: an unlabelled one is taken as changed (rotated once).
  // A config's data is, so an unlabelled config with the same content is kept.
  const same = versions.find(
    (x) =>
      x.Spec.Labels?.[CONTENT_HASH_LABEL] === hash ||
      (kind === 'config' &&
        x.Spec.Labels?.[CONTENT_HASH_LABEL] === undefined &&
        contentHash(x.Spec) === hash),
  );
  const retired = versions
    .filter((x) => x !== same)
    .map((x) => ({ name: x.Spec.Name ?? x.ID, id: x.ID }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const nameTaken = versions.some((x) => x.Spec.Name === want.name);
  const version = same?.Spec.Name ?? (nameTaken ? `${want.name}-${hash.slice(0, 12)}` : want.name);
  const spec = {
    ...want.spec,
    Name: version,
    Labels: {
      ...want.spec.Labels,
      [STACK_NAMESPACE_LABEL]: ns,
      [VERSION_OF_LABEL]: want.name,
      [CONTENT_HASH_LABEL]: hash,
    },
  };
  const action = same ? 'unchanged' : versions.length > 0 ? 'rotate' : 'create';
  return { kind, name: want.name, version, action, ...(same ? { id: same.ID } : {}), spec, retired };
}

function withDependsOn(spec: ServiceSpec, stack: StackLike): ServiceSpec {
  const short = (spec.Name ?? '').slice(stack.namespace.length + 1);
  const deps = stack.dependsOn?.[short] ?? stack.dependsOn?.[spec.Name ?? ''];
  if (!deps || deps.length === 0) return spec;
  return { ...spec, Labels: { ...spec.Labels, [DEPENDS_ON_LABEL]: encodeDependsOn(deps) } };
}

/** Points each reference to a stack secret or config at the version the plan chose (same target). */
function withVersions(
  spec: ServiceSpec,
  secrets: Map<string, VersionedPlan>,
  configs: Map<string, VersionedPlan>,
): ServiceSpec {
  return mapReferences(
    spec,
    (s) => ({ ...s, SecretName: secrets.get(s.SecretName)?.version ?? s.SecretName }),
    (c) => ({ ...c, ConfigName: configs.get(c.ConfigName)?.version ?? c.ConfigName }),
  );
}

/** Fills the IDs of the secrets and configs a spec names, where known. */
export function withIds(
  spec: ServiceSpec,
  secretIds: ReadonlyMap<string, string>,
  configIds: ReadonlyMap<string, string>,
): ServiceSpec {
  return mapReferences(
    spec,
    (s) => ({ ...s, SecretID: s.SecretID || (secretIds.get(s.SecretName) ?? '') }),
    (c) => ({ ...c, ConfigID: c.ConfigID || (configIds.get(c.ConfigName) ?? '') }),
  );
}

/** A copy of the spec with each secret and each config reference rewritten by its mapping. */
function mapReferences(
  spec: ServiceSpec,
  secret: (ref: SecretReference) => SecretReference,
  config: (ref: ConfigReference) => ConfigReference,
): ServiceSpec {
  const cs = spec.TaskTemplate?.ContainerSpec;
  if (!cs) return { ...spec };
  return {
    ...spec,
    TaskTemplate: {
      ...spec.TaskTemplate,
      ContainerSpec: {
        ...cs,
        ...(cs.Secrets ? { Secrets: cs.Secrets.map((r) => secret(r)) } : {}),
        ...(cs.Configs ? { Configs: cs.Configs.map((r) => config(r)) } : {}),
      },
    },
  };
}

/**
 * The hash the spec-hash label carries: the spec as the file said it, that label aside,
 * and the file's text aside too: a change of comments or layout alone changes no service
 * (the text stays the one of the deploy that last changed it). Services deployed before
 * the text label existed keep their hash.
 */
export function specHash(spec: ServiceSpec): string {
  const { [SPEC_HASH_LABEL]: _old, [COMPOSE_SOURCE_LABEL]: _src, ...labels } = spec.Labels ?? {};
  return createHash('sha256')
    .update(JSON.stringify(canonical({ ...spec, Labels: labels })))
    .digest('hex')
    .slice(0, 16);
}

/** JSON with sorted keys and without undefined or empty values, for comparisons. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = canonical((v as Record<string, unknown>)[k]);
      if (x === undefined || (Array.isArray(x) && x.length === 0)) continue;
      if (x && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 0) continue;
      out[k] = x;
    }
    return out;
  }
  return v;
}

/** A spec without what the manager fills in or the deployer adds, network IDs as names. */
function forDiff(spec: ServiceSpec, networkNames: ReadonlyMap<string, string>): unknown {
  const { [SPEC_HASH_LABEL]: _h, [COMPOSE_SOURCE_LABEL]: _src, ...labels } = spec.Labels ?? {};
  const tmpl = spec.TaskTemplate ?? {};
  const cs = tmpl.ContainerSpec;
  const named = (list: { Target: string }[] | undefined) =>
    list?.map((a) => ({ ...a, Target: networkNames.get(a.Target) ?? a.Target }));
  const { ForceUpdate: _f, ...rest } = tmpl;
  return canonical({
    ...spec,
    Labels: labels,
    Mode: spec.Mode ?? { Replicated: { Replicas: 1 } },
    Networks: named(spec.Networks),
    TaskTemplate: {
      ...rest,
      Networks: named(tmpl.Networks),
      ContainerSpec: cs && {
        ...cs,
        Secrets: cs.Secrets?.map(({ SecretID: _id, ...r }) => r),
        Configs: cs.Configs?.map(({ ConfigID: _id, ...r }) => r),
      },
    },
  });
}

/** How the elements of a list in a spec are told apart, so a diff names the one that changed. */
const LIST_KEYS: Record<string, (x: unknown) => string | undefined> = {
  Env: (x) => (typeof x === 'string' ? x.split('=')[0] : undefined),
  Secrets: (x) => (x as { File?: { Name?: string } }).File?.Name,
  Configs: (x) => (x as { File?: { Name?: string } }).File?.Name,
  Mounts: (x) => (x as { Target?: string }).Target,
  Networks: (x) => (x as { Target?: string }).Target,
  Ports: (x) => {
    const p = x as { TargetPort?: number; Protocol?: string; PublishedPort?: number };
    return p.TargetPort === undefined
      ? undefined
      : `${p.PublishedPort ?? ''}:${p.TargetPort}/${p.Protocol ?? 'tcp'}`;
  },
};

/** The leaves that differ between two canonical specs, each with its old and new value. */
export function diffSpecs(from: unknown, to: unknown, path = ''): FieldChange[] {
  if (jsonEqual(from, to)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(from) && isObj(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    return keys.flatMap((k) => diffSpecs(from[k], to[k], path ? `${path}.${k}` : k));
  }
  const last = path.slice(path.lastIndexOf('.') + 1);
  const keyOf = LIST_KEYS[last];
  if (keyOf && Array.isArray(from) && Array.isArray(to)) {
    const keyed = (list: unknown[]) => new Map(list.map((x) => [keyOf(x), x] as const));
    const a = keyed(from);
    const b = keyed(to);
    if (!a.has(undefined) && !b.has(undefined) && a.size === from.length && b.size === to.length) {
      const value = (x: unknown) =>
        last === 'Env' && typeof x === 'string' ? x.slice(x.indexOf('=') + 1) : x;
      const keys = [...new Set([...a.keys(), ...b.keys()])] as string[];
      return keys.flatMap((k) => {
        const x = a.get(k);
        const y = b.get(k);
        if (last === 'Env') {
          if (x === y) return [];
          return [
            change(
              `${path}[${k}]`,
              x === undefined ? undefined : value(x),
              y === undefined ? undefined : value(y),
            ),
          ];
        }
        return diffSpecs(x, y, `${path}[${k}]`);
      });
    }
  }
  return [change(path, from, to)];
}

function change(path: string, from: unknown, to: unknown): FieldChange {
  return { path, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}
