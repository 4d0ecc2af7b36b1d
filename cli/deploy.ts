// Applies a stack (services, networks, secrets, configs from a compose project) to a
// cluster through the API, the way `docker stack deploy` does, and reports what
// changed per service. Shared by `skiff stack deploy` and `skiff compose up`.
import { createHash } from 'node:crypto';
import type {
  ConfigSpec,
  NetworkCreateRequest,
  SecretSpec,
  ServiceSpec,
  StackDependency,
} from '../lib/index.js';
import {
  DEPENDS_ON_LABEL,
  encodeDependsOn,
  SkiffError,
  SPEC_HASH_LABEL,
  STACK_NAMESPACE_LABEL,
} from '../lib/index.js';
import type { ApiClient } from './api/index.js';

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

export interface ServiceChange {
  service: string;
  id: string;
  action: 'created' | 'updated' | 'unchanged';
  previousImage?: string;
  image: string;
  replicas?: number;
}

export interface DeployResult {
  services: ServiceChange[];
  removed: string[];
}

export async function deployStack(
  c: ApiClient,
  stack: StackLike,
  opts: { prune?: boolean; forceUpdate?: boolean; log?: (line: string) => void } = {},
): Promise<DeployResult> {
  const log = opts.log ?? (() => {});
  const nsFilter = { label: [`${STACK_NAMESPACE_LABEL}=${stack.namespace}`] };

  // Independent reads at once: each is a round trip, and the deploy command's time is theirs.
  const [networks, secrets, configs, existingServices] = await Promise.all([
    c.listNetworks(),
    c.listSecrets(),
    c.listConfigs(),
    c.listServices(nsFilter),
  ]);
  // Check everything external exists before changing anything.
  for (const n of stack.networks.filter((x) => x.external)) {
    if (!networks.some((x) => x.Name === n.name)) {
      throw new SkiffError(
        'not_found',
        `network "${n.name}" is declared as external, but could not be found`,
        {
          hint: `create it first: skiff network create --driver overlay ${n.name}`,
        },
      );
    }
  }
  for (const s of stack.secrets.filter((x) => x.external)) {
    if (!secrets.some((x) => x.Spec.Name === s.name)) {
      throw new SkiffError('not_found', `secret "${s.name}" is declared as external, but could not be found`);
    }
  }
  for (const cf of stack.configs.filter((x) => x.external)) {
    if (!configs.some((x) => x.Spec.Name === cf.name)) {
      throw new SkiffError(
        'not_found',
        `config "${cf.name}" is declared as external, but could not be found`,
      );
    }
  }
  for (const cf of stack.configs.filter((x) => !x.external)) {
    const have = configs.find((x) => x.Spec.Name === cf.name);
    if (
      have &&
      have.Spec.Data !== undefined &&
      cf.spec.Data !== undefined &&
      have.Spec.Data !== cf.spec.Data
    ) {
      throw new SkiffError(
        'conflict',
        `config "${cf.name}" exists with other content; configs cannot change`,
        {
          hint: 'give the changed config a new name (e.g. with a version suffix) and point the service to it',
        },
      );
    }
  }

  // Networks, secrets and configs do not refer to each other: created at once.
  const secretIds = new Map(secrets.map((s) => [s.Spec.Name ?? '', s.ID]));
  const configIds = new Map(configs.map((s) => [s.Spec.Name ?? '', s.ID]));
  const creates: Promise<unknown>[] = [];
  for (const n of stack.networks.filter((x) => !x.external)) {
    if (networks.some((x) => x.Name === n.name)) continue;
    log(`Creating network ${n.name}`);
    creates.push(
      c.createNetwork({
        ...n.spec,
        Name: n.name,
        Labels: { ...n.spec.Labels, [STACK_NAMESPACE_LABEL]: stack.namespace },
      }),
    );
  }
  for (const s of stack.secrets.filter((x) => !x.external)) {
    if (secretIds.has(s.name)) continue;
    log(`Creating secret ${s.name}`);
    creates.push(
      c
        .createSecret({
          ...s.spec,
          Name: s.name,
          Labels: { ...s.spec.Labels, [STACK_NAMESPACE_LABEL]: stack.namespace },
        })
        .then(({ ID }) => secretIds.set(s.name, ID)),
    );
  }
  for (const cf of stack.configs.filter((x) => !x.external)) {
    if (configIds.has(cf.name)) continue;
    log(`Creating config ${cf.name}`);
    creates.push(
      c
        .createConfig({
          ...cf.spec,
          Name: cf.name,
          Labels: { ...cf.spec.Labels, [STACK_NAMESPACE_LABEL]: stack.namespace },
        })
        .then(({ ID }) => configIds.set(cf.name, ID)),
    );
  }
  await settleAll(creates);

  const existing = new Map(existingServices.map((s) => [s.Spec.Name ?? '', s]));
  // Services are created and updated at once: the orchestrator, not the order of these
  // calls, honours depends_on. Jobs go first: a dependent's update waits for the job
  // run that began before it (a migration's new run, or the last one when the job is
  // unchanged), so the job's new spec must be in before its dependents'. The report
  // keeps the file's order.
  const isJob = (s: ServiceSpec) => s.Mode?.ReplicatedJob !== undefined || s.Mode?.GlobalJob !== undefined;
  const changes: ServiceChange[] = new Array(stack.services.length);
  for (const phase of [true, false]) {
    const at = stack.services.flatMap((s, i) => (isJob(s) === phase ? [i] : []));
    const done = await settleAll(at.map((i) => applyService(stack.services[i]!)));
    at.forEach((i, k) => {
      changes[i] = done[k]!;
    });
  }

  async function applyService(raw: ServiceSpec): Promise<ServiceChange> {
    const spec = withIds(withDependsOn(raw, stack), secretIds, configIds);
    const name = spec.Name ?? '';
    spec.Labels = { ...spec.Labels, [STACK_NAMESPACE_LABEL]: stack.namespace };
    spec.Labels[SPEC_HASH_LABEL] = specHash(spec);
    const image = spec.TaskTemplate?.ContainerSpec?.Image ?? '';
    const replicas = spec.Mode?.Replicated?.Replicas;
    const old = existing.get(name);
    if (!old) {
      log(`Creating service ${name}`);
      const { ID } = await c.createService(spec);
      return { service: name, id: ID, action: 'created', image, replicas };
    }
    const previousImage = old.Spec.TaskTemplate?.ContainerSpec?.Image;
    if (old.Spec.Labels?.[SPEC_HASH_LABEL] === spec.Labels[SPEC_HASH_LABEL] && !opts.forceUpdate) {
      return { service: name, id: old.ID, action: 'unchanged', previousImage, image, replicas };
    }
    log(`Updating service ${name} (id: ${old.ID})`);
    // Keep what the cluster added (e.g. the VIPs) and change what the file says.
    await c.updateService(old.ID, old.Version.Index, {
      ...spec,
      TaskTemplate: {
        ...spec.TaskTemplate,
        ForceUpdate: (old.Spec.TaskTemplate?.ForceUpdate ?? 0) + (opts.forceUpdate ? 1 : 0),
      },
    });
    return { service: name, id: old.ID, action: 'updated', previousImage, image, replicas };
  }

  const removed: string[] = [];
  if (opts.prune) {
    const wanted = new Set(stack.services.map((s) => s.Name));
    for (const [name, s] of existing) {
      if (wanted.has(name)) continue;
      log(`Removing service ${name}`);
      await c.removeService(s.ID);
      removed.push(name);
    }
  }
  return { services: changes, removed };
}

/** Waits for every call (none is left running behind an error), then throws the first failure. */
async function settleAll<T>(calls: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(calls);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Removes a stack's services, then its networks, secrets and configs. */
export async function removeStack(
  c: ApiClient,
  namespace: string,
  log: (l: string) => void,
): Promise<number> {
  const filters = { label: [`${STACK_NAMESPACE_LABEL}=${namespace}`] };
  let count = 0;
  for (const s of await c.listServices(filters)) {
    log(`Removing service ${s.Spec.Name}`);
    await c.removeService(s.ID);
    count++;
  }
  for (const s of await c.listSecrets(filters)) {
    log(`Removing secret ${s.Spec.Name}`);
    await c.removeSecret(s.ID);
    count++;
  }
  for (const s of await c.listConfigs(filters)) {
    log(`Removing config ${s.Spec.Name}`);
    await c.removeConfig(s.ID);
    count++;
  }
  for (const n of await c.listNetworks(filters)) {
    log(`Removing network ${n.Name}`);
    await c.removeNetwork(n.Id);
    count++;
  }
  return count;
}

function withDependsOn(spec: ServiceSpec, stack: StackLike): ServiceSpec {
  const short = (spec.Name ?? '').slice(stack.namespace.length + 1);
  const deps = stack.dependsOn?.[short] ?? stack.dependsOn?.[spec.Name ?? ''];
  if (!deps || deps.length === 0) return spec;
  return { ...spec, Labels: { ...spec.Labels, [DEPENDS_ON_LABEL]: encodeDependsOn(deps) } };
}

function withIds(
  spec: ServiceSpec,
  secretIds: Map<string, string>,
  configIds: Map<string, string>,
): ServiceSpec {
  const cs = spec.TaskTemplate?.ContainerSpec;
  if (!cs) return spec;
  return {
    ...spec,
    TaskTemplate: {
      ...spec.TaskTemplate,
      ContainerSpec: {
        ...cs,
        Secrets: cs.Secrets?.map((s) => ({
          ...s,
          SecretID: s.SecretID || (secretIds.get(s.SecretName) ?? ''),
        })),
        Configs: cs.Configs?.map((s) => ({
          ...s,
          ConfigID: s.ConfigID || (configIds.get(s.ConfigName) ?? ''),
        })),
      },
    },
  };
}

function specHash(spec: ServiceSpec): string {
  const { [SPEC_HASH_LABEL]: _old, ...labels } = spec.Labels ?? {};
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
