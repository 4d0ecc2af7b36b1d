// `skiff compose …`: local dev stacks on the embedded single-node cluster (started on
// demand), with the semantics docker compose users expect: project labels, container
// names <project>-<service>-<n>, `up` updating only what changed.
import type { Command } from 'commander';
import { formatComposeErrors, type LoadOptions, loadProject, projectToStack } from '../../compose/index.js';
import type { Service, ServiceSpec, Task } from '../../lib/index.js';
import {
  COMPOSE_ONEOFF_LABEL,
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
  COMPOSE_SOURCE_LABEL,
  COMPOSE_STOPPED_REPLICAS_LABEL,
  encodeComposeSource,
  SkiffError,
  STACK_NAMESPACE_LABEL,
} from '../../lib/index.js';
import type { ApiClient } from '../api/index.js';
import { clientFor, explicitHost, type GlobalOptions } from '../context.js';
import { ensureLocalDaemon } from '../daemon/index.js';
import { deployStack, removeRetiredAfterRollout, removeStack, type StackLike } from '../deploy.js';
import { parseLogLine } from '../log-lines.js';
import { ago, CliExit, CliUsageError, parseFormat, printList, quietLines } from '../output.js';
import { asDryRun, DRY_RUN_HELP, printPlan } from '../plan-report.js';
import { buildForUp, registerComposeBuild, withImageIds } from './compose-build.js';
import { composeCommandOf } from './compose-config.js';
import { registerComposeContainers } from './compose-containers.js';
import { registerComposeExec } from './compose-exec.js';
import { registerComposeMore } from './compose-more.js';
import { registerComposePull } from './compose-pull.js';
import { registerComposePush } from './compose-push.js';
import { followAndExit } from './service.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export interface ProjectOptions {
  file: string[];
  projectName?: string;
  profile: string[];
  envFile: string[];
  projectDirectory?: string;
}

/** Adds the options every compose subcommand shares (docker compose's global flags). */
function projectOptions(cmd: Command): Command {
  return cmd
    .option('-f, --file <file>', 'compose file (repeatable)', collect, [])
    .option('-p, --project-name <name>', 'project name')
    .option('--profile <profile>', 'activate a profile (repeatable)', collect, [])
    .option('--env-file <file>', 'environment file (repeatable)', collect, [])
    .option('--project-directory <dir>', 'project directory (default: the first file’s directory)');
}

export function registerCompose(program: Command): Command {
  const compose = projectOptions(composeCommandOf(program)).enablePositionalOptions();
  const g = (): GlobalOptions => program.opts<GlobalOptions>();
  // Project flags sit before the subcommand, as with docker compose: `skiff compose -f a.yml up -d`.
  const p = (): ProjectOptions => compose.opts<ProjectOptions>();

  compose
    .command('up')
    .description(
      'create or update the project’s services, networks, volumes, secrets and configs, and start them',
    )
    .option('-d, --detach', 'return once the services run, instead of following their logs')
    .option(
      '--wait',
      'wait until services are running (and healthy where they have a check); exit 1 otherwise',
    )
    .option('--wait-timeout <duration>', 'how long --wait waits', '5m')
    .option('--force-recreate', 'recreate containers even if nothing changed')
    .option('--remove-orphans', 'remove services of the project that the file no longer has')
    .option('--build', 'build the images of services with a build section before starting')
    .option('--no-build', 'do not build images, even those missing')
    .option('--dry-run', DRY_RUN_HELP)
    .option('--format <format>', 'with --dry-run: the plan as table or json')
    .argument('[service...]', 'only these services')
    .action(async (only: string[], o: UpOptions) => {
      if (o.dryRun) {
        const json = parseFormat(o.format) === 'json';
        const changes = await asDryRun(async () => {
          const loaded = await loadStack(p(), only);
          return withLocalClient(g(), async (c) => {
            // Nothing is built: a service with a build section plans with its image as it is now.
            const ids = await buildForUp(c, p(), only, { noBuild: true });
            const stack = { ...loaded, services: withImageIds(loaded.services, loaded.namespace, ids) };
            return printPlan(c, stack, {
              prune: o.removeOrphans ?? false,
              forceUpdate: o.forceRecreate ?? false,
              json,
            });
          });
        });
        if (changes) throw new CliExit(1);
        return;
      }
      if (o.format !== undefined) throw new CliUsageError('--format goes with --dry-run');
      const loaded = await loadStack(p(), only);
      await withLocalClient(g(), async (c) => {
        // commander gives --no-build as build=false.
        const ids = await buildForUp(c, p(), only, { build: o.build === true, noBuild: o.build === false });
        const stack = { ...loaded, services: withImageIds(loaded.services, loaded.namespace, ids) };
        const result = await deployStack(c, stack, {
          prune: o.removeOrphans ?? false,
          log: (l) => process.stderr.write(`${l}\n`),
          forceUpdate: o.forceRecreate ?? false,
        });
        await followAndExit(
          c,
          result.services.map((s) => s.id),
          o.waitTimeout,
        );
        // Converged: the old versions of rotated secrets and configs are no longer used.
        await removeRetiredAfterRollout(c, result.retired, (l) => process.stderr.write(`${l}\n`));
        // Like docker compose: without -d, stay attached to the services' output.
        if (!o.detach && !o.wait) await streamLogs(c, stack.namespace, [], { follow: true, tail: 'all' });
      });
    });

  compose
    .command('down')
    .description('remove the project’s containers, networks, secrets and configs (and volumes with -v)')
    .option('-v, --volumes', 'also remove named volumes declared by the project')
    .option(
      '--remove-orphans',
      'accepted for compatibility: down always removes every service of the project',
    )
    .action(async (o: { volumes?: boolean }) => {
      const name = await projectName(p());
      await withLocalClient(g(), async (c) => {
        const ids = (await c.listServices({ label: [`${STACK_NAMESPACE_LABEL}=${name}`] })).map((s) => s.ID);
        const count = await removeStack(c, name, (l) => process.stderr.write(`${l}\n`));
        await waitForTasksGone(c, ids);
        if (o.volumes) {
          // The volumes the file declares (named <project>_<volume>), and any labelled as the project's.
          const declared = new Set((await loadStack(p())).volumes?.map((v) => v.name) ?? []);
          const labelled = await c.listVolumes({ label: [`${COMPOSE_PROJECT_LABEL}=${name}`] });
          for (const v of await c.listVolumes()) {
            if (!declared.has(v.Name) && !labelled.some((l) => l.Name === v.Name)) continue;
            process.stderr.write(`Removing volume ${v.Name}\n`);
            await c.removeVolume(v.Name);
          }
        }
        if (count === 0) process.stderr.write(`Nothing to remove for project ${name}\n`);
      });
    });

  compose
    .command('ps')
    .description('list the project’s containers')
    .option('-q, --quiet', 'only print container (task) IDs')
    .option('-a, --all', 'also show stopped containers')
    .option('--format <format>', 'table, json or a Go template')
    .option(
      '--status <status>',
      'only containers in this state (running, exited, created…; repeatable)',
      collect,
      [],
    )
    .argument('[service...]')
    .action(
      async (only: string[], o: { quiet?: boolean; all?: boolean; format?: string; status: string[] }) => {
        const name = await projectName(p());
        await withLocalClient(g(), async (c) => {
          const all = await projectContainers(c, name, only, (o.all ?? false) || o.status.length > 0);
          const rows = o.status.length > 0 ? all.filter((r) => o.status.includes(dockerState(r.State))) : all;
          if (o.quiet)
            return void process.stdout.write(
              quietLines(
                rows.map((r) => r.ID),
                'full',
              ),
            );
          // docker compose ≥ 2.21, as docker ps: JSON Lines, one container a line, not an array.
          if (o.format === 'json')
            return void process.stdout.write(
              rows.map((r) => `${JSON.stringify(psJson(r, name))}\n`).join(''),
            );
          printList(
            o.format,
            [
              { header: 'NAME', field: 'Name' },
              { header: 'IMAGE', field: 'Image' },
              { header: 'COMMAND', field: 'Command' },
              { header: 'SERVICE', field: 'Service' },
              { header: 'CREATED', field: 'RunningFor' },
              { header: 'STATUS', field: 'Status' },
              { header: 'PORTS', field: 'Ports' },
            ],
            rows.map((r) => [r.Name, r.Image, r.Command, r.Service, r.Created, r.Status, r.Ports]),
            rows.map((r) => ({ ID: r.ID, State: dockerState(r.State), Project: name })),
          );
        });
      },
    );

  compose
    .command('logs')
    .description('show the logs of the project’s services')
    .option('-f, --follow', 'follow new output')
    .option('-n, --tail <n>', 'lines from the end of each container', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .argument('[service...]')
    .action(async (only: string[], o: { follow?: boolean; tail: string; timestamps?: boolean }) => {
      const name = await projectName(p());
      await withLocalClient(g(), (c) => streamLogs(c, name, only, o));
    });

  for (const [verb, describe] of [
    ['stop', 'stop the project’s services without removing them'],
    ['start', 'start services stopped with `stop`'],
    ['restart', 'restart the project’s containers'],
  ] as const) {
    compose
      .command(verb)
      .description(describe)
      .argument('[service...]')
      .action(async (only: string[]) => {
        const name = await projectName(p());
        await withLocalClient(g(), async (c) => {
          const services = await projectServices(c, name, only);
          for (const s of services) await setRunning(c, s, verb);
          if (verb !== 'stop')
            await followAndExit(
              c,
              services.map((s) => s.ID),
              '5m',
            );
        });
      });
  }

  registerComposeExec(compose, g, p);
  registerComposeMore(compose, g, p);
  registerComposeContainers(compose, g, p);
  registerComposePull(compose, g, p);
  registerComposeBuild(compose, g, p);
  registerComposePush(compose, g, p);
  return compose;
}

interface UpOptions {
  detach?: boolean;
  /** true with --build, false with --no-build. */
  build?: boolean;
  wait?: boolean;
  waitTimeout: string;
  forceRecreate?: boolean;
  removeOrphans?: boolean;
  dryRun?: boolean;
  format?: string;
}

export function loadOptions(o: ProjectOptions): LoadOptions {
  return {
    files: o.file,
    ...(o.projectDirectory ? { workingDir: o.projectDirectory } : {}),
    ...(o.projectName ? { projectName: o.projectName } : {}),
    envFiles: o.envFile,
    profiles: o.profile,
  };
}

/**
 * Loads the compose files into a stack; `compose` adds the labels docker compose sets (not
 * stack deploy). Each service carries its sections of the files as written, for the
 * dashboard: not interpolated, so no value from the environment or `.env` (where
 * passwords live) lands in the cluster, and what the page shows is the file's own text.
 */
export async function loadStack(
  o: ProjectOptions,
  only: string[] = [],
  opts: { composeLabels?: boolean } = { composeLabels: true },
): Promise<StackLike> {
  const result = await loadProject({ ...loadOptions(o), sources: true });
  if (!result.ok) {
    process.stderr.write(`${formatComposeErrors(result.errors)}\n`);
    throw new CliExit(1);
  }
  for (const w of result.warnings) process.stderr.write(`warning: ${w.message}\n`);
  const stack = projectToStack(result.project);
  const ns = stack.namespace;
  const unknown = only.filter((s) => !(s in result.project.services));
  if (unknown.length) {
    throw new SkiffError('not_found', `no such service: ${unknown.join(', ')}`, {
      hint: `the project has: ${Object.keys(result.project.services).join(', ')}`,
    });
  }
  const services: ServiceSpec[] = stack.services
    .filter((s) => only.length === 0 || only.includes(shortName(ns, s.Name)))
    .map((s) => (opts.composeLabels ? withComposeLabels(s, ns) : s))
    .map((s) => {
      const parts = result.sources?.[shortName(ns, s.Name)];
      if (!parts?.length) return s;
      return { ...s, Labels: { ...s.Labels, [COMPOSE_SOURCE_LABEL]: encodeComposeSource(parts) } };
    });
  return { ...stack, services };
}

export async function projectName(o: ProjectOptions): Promise<string> {
  if (o.projectName) return o.projectName;
  const result = await loadProject(loadOptions(o));
  if (!result.ok) {
    process.stderr.write(`${formatComposeErrors(result.errors)}\n`);
    throw new CliExit(1);
  }
  return result.project.name;
}

export function shortName(ns: string, full: string | undefined): string {
  return (full ?? '').startsWith(`${ns}_`) ? (full ?? '').slice(ns.length + 1) : (full ?? '');
}

export function withComposeLabels(spec: ServiceSpec, ns: string): ServiceSpec {
  const svc = shortName(ns, spec.Name);
  const labels = { [COMPOSE_PROJECT_LABEL]: ns, [COMPOSE_SERVICE_LABEL]: svc };
  const cs = spec.TaskTemplate?.ContainerSpec;
  return {
    ...spec,
    Labels: { ...spec.Labels, ...labels },
    TaskTemplate: {
      ...spec.TaskTemplate,
      ...(cs ? { ContainerSpec: { ...cs, Labels: { ...cs.Labels, ...labels } } } : {}),
    },
  };
}

export async function withLocalClient<T>(g: GlobalOptions, fn: (c: ApiClient) => Promise<T>): Promise<T> {
  const host = await ensureLocalDaemon({ host: explicitHost(g), log: (l) => process.stderr.write(`${l}\n`) });
  const c = clientFor(g, host);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

export async function projectServices(c: ApiClient, project: string, only: string[]): Promise<Service[]> {
  const all = await c.listServices({ label: [`${STACK_NAMESPACE_LABEL}=${project}`] });
  return all.filter((s) => only.length === 0 || only.includes(shortName(project, s.Spec.Name)));
}

/** stop: scale to 0 remembering the count; start: restore it; restart: force a new task. */
async function setRunning(c: ApiClient, s: Service, verb: 'stop' | 'start' | 'restart'): Promise<void> {
  const spec = structuredClone(s.Spec);
  const labels = { ...spec.Labels };
  if (verb === 'stop') {
    if (!spec.Mode?.Replicated || labels[COMPOSE_STOPPED_REPLICAS_LABEL] !== undefined) return;
    labels[COMPOSE_STOPPED_REPLICAS_LABEL] = String(spec.Mode.Replicated.Replicas ?? 1);
    spec.Mode = { Replicated: { Replicas: 0 } };
  } else if (verb === 'start') {
    const n = labels[COMPOSE_STOPPED_REPLICAS_LABEL];
    if (n === undefined) return;
    delete labels[COMPOSE_STOPPED_REPLICAS_LABEL];
    spec.Mode = { Replicated: { Replicas: Number(n) } };
  } else {
    spec.TaskTemplate = { ...spec.TaskTemplate, ForceUpdate: (spec.TaskTemplate?.ForceUpdate ?? 0) + 1 };
  }
  spec.Labels = labels;
  process.stderr.write(
    `${verb === 'stop' ? 'Stopping' : verb === 'start' ? 'Starting' : 'Restarting'} ${spec.Name}\n`,
  );
  await c.updateService(s.ID, s.Version.Index, spec);
}

/** A task's state as docker names a container's (`compose ps --status`). */
/** A `compose ps --format json` line: docker compose's field names, its container states. */
export function psJson(r: ContainerRow, project: string): Record<string, string> {
  return {
    ID: r.ID,
    Name: r.Name,
    Names: r.Name,
    Image: r.Image,
    Command: r.Command,
    Project: project,
    Service: r.Service,
    RunningFor: r.Created,
    State: dockerState(r.State),
    Status: r.Status,
    Ports: r.Ports,
  };
}

function dockerState(state: string): string {
  if (state === 'running') return 'running';
  if (state === 'complete' || state === 'failed' || state === 'shutdown') return 'exited';
  if (state === 'rejected' || state === 'orphaned') return 'dead';
  return 'created';
}

export interface ContainerRow {
  ID: string;
  Name: string;
  Image: string;
  Command: string;
  Service: string;
  Created: string;
  Status: string;
  State: string;
  Ports: string;
}

async function projectContainers(
  c: ApiClient,
  project: string,
  only: string[],
  all: boolean,
): Promise<ContainerRow[]> {
  const rows: ContainerRow[] = [];
  for (const s of await projectServices(c, project, only)) {
    const svc = shortName(project, s.Spec.Name);
    const tasks = (await c.listTasks({ service: [s.ID] })).filter(
      (t) => all || (t.DesiredState === 'running' && t.Status.State !== 'shutdown'),
    );
    for (const t of tasks.sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0)))
      rows.push(containerRow(project, svc, s, t));
  }
  return rows;
}

/** "<project>-<service>-<n>"; a one-off of `compose run`: "<project>-<service>-run-<id>", as docker names them. */
export function containerName(project: string, svc: string, s: Service, t: Task): string {
  const oneOff = /_run_([0-9a-f]+)$/.exec(svc);
  const service = s.Spec.Labels?.[COMPOSE_SERVICE_LABEL];
  if (s.Spec.Labels?.[COMPOSE_ONEOFF_LABEL] === 'True' && oneOff && service)
    return `${project}-${service}-run-${oneOff[1]}`;
  return `${project}-${svc}-${t.Slot ?? 1}`;
}

function containerRow(project: string, svc: string, s: Service, t: Task): ContainerRow {
  const cs = t.Spec.ContainerSpec;
  const cmd = [...(cs?.Command ?? []), ...(cs?.Args ?? [])].join(' ');
  const state = t.Status.State ?? 'new';
  const hasCheck = (cs?.HealthCheck?.Test?.length ?? 0) > 0 && cs?.HealthCheck?.Test?.[0] !== 'NONE';
  const status =
    state === 'running'
      ? `Up ${ago(t.Status.Timestamp).replace(/ ago$/, '')}${hasCheck ? ' (healthy)' : ''}`
      : state === 'starting' && hasCheck
        ? 'Up (health: starting)'
        : state === 'complete' || state === 'failed'
          ? `Exited (${t.Status.ContainerStatus?.ExitCode ?? '?'})${t.Status.Err ? `: ${t.Status.Err}` : ''}`
          : `${state}${t.Status.Err ? `: ${t.Status.Err}` : ''}`;
  const ports = (s.Endpoint?.Ports ?? [])
    .map((p) => `0.0.0.0:${p.PublishedPort}->${p.TargetPort}/${p.Protocol ?? 'tcp'}`)
    .join(', ');
  return {
    ID: t.ID,
    Name: containerName(project, svc, s, t),
    Image: cs?.Image ?? '',
    Command: cmd.length > 20 ? `"${cmd.slice(0, 19)}…"` : cmd ? `"${cmd}"` : '',
    Service: s.Spec.Labels?.[COMPOSE_SERVICE_LABEL] ?? svc,
    Created: ago(t.CreatedAt),
    Status: status,
    State: state,
    Ports: ports,
  };
}

async function streamLogs(
  c: ApiClient,
  project: string,
  only: string[],
  o: { follow?: boolean; tail: string; timestamps?: boolean },
): Promise<void> {
  const services = await projectServices(c, project, only);
  // Lines are prefixed "<service>-<slot> | " as docker compose does; the slot comes from the task.
  const slots = new Map<string, number>();
  const slotOf = async (taskId: string | undefined, serviceId: string) => {
    if (!taskId) return undefined;
    if (!slots.has(taskId))
      for (const t of await c.listTasks({ service: [serviceId] })) slots.set(t.ID, t.Slot ?? 1);
    return slots.get(taskId);
  };
  const names = services.map((s) => shortName(project, s.Spec.Name));
  // As docker compose: names padded one past the widest "<service>-<n>".
  const width = Math.max(...names.map((n) => n.length + 3), 1);
  await Promise.all(
    services.map(async (s, i) => {
      for await (const l of c.logs('services', s.ID, { ...o, details: true })) {
        const parsed = parseLogLine(l.line, o.timestamps);
        const slot = await slotOf(parsed.taskId, s.ID);
        const prefix = `${`${names[i]}-${slot ?? 1}`.padEnd(width)} | `;
        const text = parsed.time ? `${parsed.time} ${parsed.text}` : parsed.text;
        (l.stream === 'stderr' ? process.stderr : process.stdout).write(`${prefix}${text}\n`);
      }
    }),
  );
}

/** Waits (bounded) until removed services' containers are gone from the node. */
async function waitForTasksGone(c: ApiClient, serviceIds: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const left = (await c.listTasks()).filter((t) => serviceIds.includes(t.ServiceID));
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stderr.write('warning: some containers were still being removed after 60s\n');
}
