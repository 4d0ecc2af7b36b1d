// Applies a stack (services, networks, secrets, configs from a compose project) to a
// cluster through the API, the way `docker stack deploy` does, and reports what
// changed per service. Shared by `skiff stack deploy` and `skiff compose up`: both carry
// out the plan of `plan.ts`, which `--dry-run` prints instead.
import type { ServiceSpec, Task } from '../lib/index.js';
import { isSkiffError, SPEC_HASH_LABEL, STACK_NAMESPACE_LABEL, TERMINAL_TASK_STATES } from '../lib/index.js';
import type { ApiClient } from './api/index.js';
import { type ClusterObjects, planStack, type StackLike, type StackPlan, specHash, withIds } from './plan.js';

export type { StackLike } from './plan.js';

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
  /** Secret and config versions the services stopped using, still used by a task (see `removeRetired`). */
  retired: Retired[];
}

export interface Retired {
  kind: 'secret' | 'config';
  name: string;
  id: string;
}

/** Reads what the cluster has of the stack, for `planStack`. */
export async function readCluster(c: ApiClient, namespace: string): Promise<ClusterObjects> {
  // Independent reads at once: each is a round trip, and the deploy command's time is theirs.
  const [networks, secrets, configs, services] = await Promise.all([
    c.listNetworks(),
    c.listSecrets(),
    c.listConfigs(),
    c.listServices({ label: [`${STACK_NAMESPACE_LABEL}=${namespace}`] }),
  ]);
  return { networks, secrets, configs, services };
}

/** The plan `deployStack` would carry out now; changes nothing. */
export async function planDeploy(
  c: ApiClient,
  stack: StackLike,
  opts: { prune?: boolean; forceUpdate?: boolean } = {},
): Promise<StackPlan> {
  return planStack(stack, await readCluster(c, stack.namespace), opts);
}

export async function deployStack(
  c: ApiClient,
  stack: StackLike,
  opts: { prune?: boolean; forceUpdate?: boolean; log?: (line: string) => void } = {},
): Promise<DeployResult> {
  const log = opts.log ?? (() => {});
  const current = await readCluster(c, stack.namespace);
  const plan = planStack(stack, current, opts);

  // Networks, secrets and configs do not refer to each other: created at once.
  const secretIds = new Map(current.secrets.map((s) => [s.Spec.Name ?? '', s.ID]));
  const configIds = new Map(current.configs.map((s) => [s.Spec.Name ?? '', s.ID]));
  const creates: Promise<unknown>[] = [];
  for (const n of plan.networks.filter((x) => x.action === 'create')) {
    log(`Creating network ${n.name}`);
    creates.push(c.createNetwork(n.spec));
  }
  for (const s of plan.secrets.filter((x) => x.action !== 'unchanged')) {
    log(s.action === 'rotate' ? `Rotating secret ${s.name} to ${s.version}` : `Creating secret ${s.version}`);
    creates.push(c.createSecret(s.spec).then(({ ID }) => secretIds.set(s.version, ID)));
  }
  for (const cf of plan.configs.filter((x) => x.action !== 'unchanged')) {
    log(
      cf.action === 'rotate'
        ? `Rotating config ${cf.name} to ${cf.version}`
        : `Creating config ${cf.version}`,
    );
    creates.push(c.createConfig(cf.spec).then(({ ID }) => configIds.set(cf.version, ID)));
  }
  await settleAll(creates);

  // Services are created and updated at once: the orchestrator, not the order of these
  // calls, honours depends_on. Jobs go first: a dependent's update waits for the job
  // run that began before it (a migration's new run, or the last one when the job is
  // unchanged), so the job's new spec must be in before its dependents'. The report
  // keeps the file's order.
  const isJob = (s: ServiceSpec | undefined) =>
    s?.Mode?.ReplicatedJob !== undefined || s?.Mode?.GlobalJob !== undefined;
  const applied = plan.services.filter((s) => s.action !== 'remove');
  const changes: ServiceChange[] = new Array(applied.length);
  for (const phase of [true, false]) {
    const at = applied.flatMap((s, i) => (isJob(s.spec) === phase ? [i] : []));
    const done = await settleAll(at.map((i) => applyService(applied[i]!)));
    at.forEach((i, k) => {
      changes[i] = done[k]!;
    });
  }

  async function applyService(p: StackPlan['services'][number]): Promise<ServiceChange> {
    // The IDs of secrets and configs created just now.
    const spec: ServiceSpec = withIds(p.spec ?? {}, secretIds, configIds);
    spec.Labels = { ...spec.Labels, [SPEC_HASH_LABEL]: specHash(spec) };
    const { service: name, image, replicas, previousImage } = p;
    if (p.action === 'create') {
      log(`Creating service ${name}`);
      const { ID } = await c.createService(spec);
      return { service: name, id: ID, action: 'created', image, replicas };
    }
    const id = p.id ?? '';
    if (p.action === 'unchanged')
      return { service: name, id, action: 'unchanged', previousImage, image, replicas };
    log(`Updating service ${name} (id: ${id})`);
    // Keep what the cluster added (e.g. the VIPs) and change what the file says.
    await c.updateService(id, p.version ?? 0, {
      ...spec,
      TaskTemplate: {
        ...spec.TaskTemplate,
        ForceUpdate: (p.previousForceUpdate ?? 0) + (opts.forceUpdate ? 1 : 0),
      },
    });
    return { service: name, id, action: 'updated', previousImage, image, replicas };
  }

  const removed: string[] = [];
  for (const s of plan.services.filter((x) => x.action === 'remove')) {
    log(`Removing service ${s.service}`);
    await c.removeService(s.id ?? '');
    removed.push(s.service);
  }
  const retired: Retired[] = [...plan.secrets, ...plan.configs].flatMap((v) =>
    v.retired.map((r) => ({ kind: v.kind, ...r })),
  );
  return { services: changes, removed, retired: await removeRetired(c, retired, log) };
}

/**
 * Removes the retired secret and config versions no service and no live task uses any
 * more; returns those still in use. A service's previous spec counts while its update
 * or rollback runs (a rollback needs the old version), not once it is over.
 */
export async function removeRetired(
  c: ApiClient,
  retired: Retired[],
  log: (line: string) => void,
): Promise<Retired[]> {
  if (retired.length === 0) return [];
  const [services, tasks] = await Promise.all([c.listServices(), c.listTasks()]);
  const used = new Set<string>();
  const use = (spec: Pick<ServiceSpec, 'TaskTemplate'>['TaskTemplate'] | Task['Spec'] | undefined) => {
    for (const s of spec?.ContainerSpec?.Secrets ?? []) used.add(s.SecretID);
    for (const s of spec?.ContainerSpec?.Configs ?? []) used.add(s.ConfigID);
  };
  for (const s of services) {
    use(s.Spec.TaskTemplate);
    const state = s.UpdateStatus?.State;
    if (state && state !== 'completed' && state !== 'rollback_completed') use(s.PreviousSpec?.TaskTemplate);
  }
  for (const t of tasks) if (t.Status.State && !TERMINAL_TASK_STATES.has(t.Status.State)) use(t.Spec);
  const left: Retired[] = [];
  for (const r of retired) {
    if (used.has(r.id)) {
      left.push(r);
      continue;
    }
    log(`Removing ${r.kind} ${r.name} (no task uses it any more)`);
    await (r.kind === 'secret' ? c.removeSecret(r.id) : c.removeConfig(r.id)).catch((e: unknown) => {
      // Gone already (another deploy removed it): nothing left to do.
      if (!isSkiffError(e) || e.code !== 'not_found') throw e;
    });
  }
  return left;
}

/**
 * After a rollout converged: removes the retired versions as the old tasks end (a
 * start-first update stops them after it converged), for at most `timeoutMs`; what is
 * still used then is left to the next deploy, and said so.
 */
export async function removeRetiredAfterRollout(
  c: ApiClient,
  retired: Retired[],
  log: (line: string) => void,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let left = await removeRetired(c, retired, log);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    left = await removeRetired(c, left, log);
  }
  for (const r of left) log(`Keeping ${r.kind} ${r.name}: a task still uses it; the next deploy removes it`);
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
