// `skiff service …`: the docker service commands, against the manager API.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ContainerSpec, Node, Service, ServiceSpec, Task } from '../../lib/index.js';
import { parseDurationNs, SkiffError } from '../../lib/index.js';
import type { ApiClient } from '../api/index.js';
import { type GlobalOptions, withClient } from '../context.js';
import { type FollowResult, followRollouts, outcomeText, RolloutDisplay } from '../follow.js';
import { parseLogLine } from '../log-lines.js';
import {
  ago,
  CliExit,
  CliUsageError,
  parseFormat,
  printInspect,
  printJson,
  printList,
  type QuietIds,
  quietLines,
  shortId,
} from '../output.js';
import {
  applyCapabilities,
  applyServiceUpdate,
  parsePublish,
  type ServiceUpdateFlags,
  securityOptPrivileges,
} from '../service-update.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerService(program: Command): void {
  // Positional options: what follows a service's image is its command, flags included (as docker's).
  const service = program
    .command('service')
    .description('manage services of a cluster')
    .enablePositionalOptions();
  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  service
    .command('ls')
    .description('list services')
    .option('-q, --quiet', 'only print IDs')
    .option('--format <format>', "table, json or a Go template ('{{.Name}}', 'table {{.ID}}\\t{{.Name}}')")
    .option('-f, --filter <filter>', 'filter (name=…, label=…, mode=…)', collect, [])
    .action(async (o: { quiet?: boolean; format?: string; filter: string[] }) => {
      await withClient(g(), async (c) => {
        const services = await c.listServices(parseFilters(o.filter));
        if (o.quiet)
          return void process.stdout.write(
            quietLines(
              services.map((s) => s.ID),
              'short',
            ),
          );
        printServices(services, o.format);
      });
    });

  service
    .command('ps')
    .description("list a service's tasks")
    .argument('<service...>', 'service names or IDs')
    .option('-q, --quiet', 'only print task IDs')
    .option('-f, --filter <filter>', 'filter (id=…, name=…, node=…, desired-state=…)', collect, [])
    .option('--no-trunc', 'do not truncate output')
    .option('--no-resolve', 'do not map node IDs to hostnames')
    .option('--format <format>', 'table, json or a Go template')
    .action(async (names: string[], o: TaskListOptions) => {
      await withClient(g(), async (c) => {
        const ids: string[] = [];
        for (const name of names) ids.push((await c.inspectService(name)).ID);
        // docker's service ps -q prints whole IDs, unlike stack ps and node ps.
        await printTasks(c, { ...parseFilters(o.filter), service: ids }, o, 'full');
      });
    });

  service
    .command('inspect')
    .description('show services in detail (JSON)')
    .argument('<service...>', 'service names or IDs')
    .option('--pretty', 'human-readable summary')
    .option('-f, --format <format>', "json or a Go template ('{{.Spec.Name}}', '{{json .Spec}}')")
    .action(async (names: string[], o: { pretty?: boolean; format?: string }) => {
      await withClient(g(), async (c) => {
        const out = await Promise.all(names.map((n) => c.inspectService(n)));
        if (!o.pretty) return printInspect(o.format, out);
        for (const s of out) {
          process.stdout.write(
            `ID:\t\t${s.ID}\nName:\t\t${s.Spec.Name}\nMode:\t\t${modeOf(s)}\nReplicas:\t${replicasOf(s)}\nImage:\t\t${imageOf(s)}\n` +
              (s.UpdateStatus?.State
                ? `UpdateStatus:\t${s.UpdateStatus.State} ${s.UpdateStatus.Message ?? ''}\n`
                : ''),
          );
        }
      });
    });

  service
    .command('rm')
    .alias('remove')
    .description('remove services')
    .argument('<service...>', 'service names or IDs')
    .action(async (names: string[]) => {
      await withClient(g(), async (c) => {
        for (const n of names) {
          await c.removeService(n);
          process.stdout.write(`${n}\n`);
        }
      });
    });

  service
    .command('create')
    .description('create a service')
    .requiredOption('--name <name>', 'service name')
    .option('--replicas <n>', 'number of tasks', (v) => positiveInt(v, '--replicas'))
    .option('--mode <mode>', 'replicated, global, replicated-job or global-job', 'replicated')
    .option('-e, --env <KEY=VALUE>', 'environment variable', collect, [])
    .option('-p, --publish <published:target>', 'publish a port (e.g. 8080:80 or 53:53/udp)', collect, [])
    .option('-l, --label <KEY=VALUE>', 'service label', collect, [])
    .option('--network <name>', 'attach to a network', collect, [])
    .option('--constraint <expr>', 'placement constraint (node.labels.zone==a)', collect, [])
    .option(
      '--cap-add <capability>',
      'add a Linux capability to the default set (NET_ADMIN, ALL)',
      collect,
      [],
    )
    .option('--cap-drop <capability>', 'drop a Linux capability from the default set', collect, [])
    .option(
      '--security-opt <option>',
      'seccomp=unconfined|<profile.json>, apparmor=unconfined, no-new-privileges[:true|false]',
      collect,
      [],
    )
    .option('-d, --detach', 'exit immediately instead of waiting for the service to converge')
    .option('--timeout <duration>', 'how long to wait for convergence', '5m')
    .option('-q, --quiet', 'no progress output (the outcome is still the exit code)')
    .argument('<image>', 'image reference')
    .argument('[command...]', 'command and arguments')
    .passThroughOptions()
    .action(async (image: string, command: string[], o: CreateOptions) => {
      const spec = buildSpec(image, command, o);
      await withClient(g(), async (c) => {
        const { ID } = await c.createService(spec);
        process.stdout.write(`${ID}\n`);
        if (!o.detach) await followAndExit(c, [ID], o.timeout, undefined, o.quiet);
      });
    });

  service
    .command('scale')
    .description('set the replica count of services (SERVICE=REPLICAS …)')
    .argument('<service=replicas...>')
    .option('-d, --detach', 'do not wait for convergence', true)
    .action(async (pairs: string[]) => {
      await withClient(g(), async (c) => {
        for (const p of pairs) {
          const [name, n] = p.split('=');
          if (!name || n === undefined) throw new CliUsageError(`"${p}" is not SERVICE=REPLICAS`);
          const replicas = positiveInt(n, name);
          const s = await c.inspectService(name);
          if (!s.Spec.Mode?.Replicated && s.Spec.Mode !== undefined) {
            throw new SkiffError('invalid_argument', `${name}: scale can only be used with replicated mode`);
          }
          await c.updateService(s.ID, s.Version.Index, {
            ...s.Spec,
            Mode: { Replicated: { Replicas: replicas } },
          });
          process.stdout.write(`${name} scaled to ${replicas}\n`);
        }
      });
    });

  service
    .command('update')
    .description('update a service and follow the rollout; exits non-zero if it does not converge')
    .argument('<service>', 'service name or ID')
    .option('--image <image>', 'new image')
    .option('--replicas <n>', 'number of tasks', (v) => positiveInt(v, '--replicas'))
    .option('--env-add <KEY=VALUE>', 'add or change an environment variable', collect, [])
    .option('--env-rm <KEY>', 'remove an environment variable', collect, [])
    .option('--publish-add <published:target>', 'publish a port (e.g. 8081:80 or 53:53/udp)', collect, [])
    .option('--publish-rm <target>', 'stop publishing a target port (80, 80/udp or 8080:80)', collect, [])
    .option('--label-add <KEY=VALUE>', 'add or change a service label', collect, [])
    .option('--label-rm <KEY>', 'remove a service label', collect, [])
    .option('--constraint-add <expr>', 'add a placement constraint (node.labels.zone==a)', collect, [])
    .option('--constraint-rm <expr>', 'remove a placement constraint', collect, [])
    .option('--cap-add <capability>', 'add a Linux capability (NET_ADMIN, ALL)', collect, [])
    .option('--cap-drop <capability>', 'drop a Linux capability', collect, [])
    .option(
      '--security-opt <option>',
      'seccomp=unconfined|<profile.json>, apparmor=unconfined, no-new-privileges[:true|false]',
      collect,
      [],
    )
    .option('--force', 'roll out even when nothing changed')
    .option('-d, --detach', 'exit immediately instead of following the rollout')
    .option('--timeout <duration>', 'how long to wait for convergence', '5m')
    .option('--format <format>', 'table or json (the rollout report)')
    .option('-q, --quiet', 'no progress output (the outcome is still the exit code)')
    .action(async (name: string, o: UpdateOptions) => {
      await withClient(g(), async (c) => {
        const s = await c.inspectService(name);
        const privileges = securityOptPrivileges(o.securityOpt, readProfile);
        const spec = applyServiceUpdate(s.Spec, { ...o, ...(privileges ? { privileges } : {}) });
        await c.updateService(s.ID, s.Version.Index, spec);
        process.stdout.write(`${name}\n`);
        if (!o.detach) await followAndExit(c, [s.ID], o.timeout, o.format, o.quiet);
      });
    });

  service
    .command('rollback')
    .description('revert a service to its previous spec and follow it')
    .argument('<service>', 'service name or ID')
    .option('-d, --detach', 'exit immediately')
    .option('--timeout <duration>', 'how long to wait for convergence', '5m')
    .option('-q, --quiet', 'no progress output (the outcome is still the exit code)')
    .action(async (name: string, o: { detach?: boolean; timeout: string; quiet?: boolean }) => {
      await withClient(g(), async (c) => {
        const s = await c.inspectService(name);
        if (!s.PreviousSpec)
          throw new SkiffError('invalid_argument', `service ${name} has no previous spec to roll back to`);
        await c.updateService(s.ID, s.Version.Index, s.PreviousSpec, { rollback: 'previous' });
        process.stdout.write(`${name}\n`);
        if (!o.detach) await followAndExit(c, [s.ID], o.timeout, undefined, o.quiet);
      });
    });

  service
    .command('logs')
    .description("show a service's logs (its tasks on every node)")
    .argument('<service>', 'service name or ID')
    .option('-f, --follow', 'keep following new lines')
    .option('-n, --tail <n>', 'lines from the end of each task', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <time>', 'only lines since a time (RFC 3339 or a duration like 10m)')
    .option('--raw', 'print the lines only, without the task prefix')
    .option('--no-task-ids', 'leave the task IDs out of the prefix')
    .action(
      async (
        name: string,
        o: {
          follow?: boolean;
          tail: string;
          timestamps?: boolean;
          since?: string;
          raw?: boolean;
          taskIds: boolean;
        },
      ) => {
        await withClient(g(), async (c) => {
          const s = await c.inspectService(name);
          // Docker's prefix: "<service>.<slot>.<task>@<node> | ".
          const tasks = new Map((await c.listTasks({ service: [s.ID] })).map((t) => [t.ID, t]));
          const hosts = new Map((await c.listNodes()).map((n) => [n.ID, n.Description?.Hostname ?? n.ID]));
          for await (const l of c.logs('services', s.ID, { ...o, details: true })) {
            const p = parseLogLine(l.line, o.timestamps);
            const text = p.time ? `${p.time} ${p.text}` : p.text;
            let prefix = '';
            if (!o.raw && p.taskId) {
              if (!tasks.has(p.taskId))
                for (const t of await c.listTasks({ service: [s.ID] })) tasks.set(t.ID, t);
              const slot = tasks.get(p.taskId)?.Slot;
              const host = p.nodeId ? (hosts.get(p.nodeId) ?? p.nodeId) : '';
              prefix = `${s.Spec.Name}.${slot ?? p.nodeId ?? ''}${o.taskIds ? `.${shortId(p.taskId)}` : ''}@${host}    | `;
            }
            (l.stream === 'stderr' ? process.stderr : process.stdout).write(`${prefix}${text}\n`);
          }
        });
      },
    );
}

interface CreateOptions {
  name: string;
  replicas?: number;
  mode: string;
  env: string[];
  publish: string[];
  label: string[];
  network: string[];
  constraint: string[];
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  detach?: boolean;
  timeout: string;
  quiet?: boolean;
}

interface UpdateOptions extends ServiceUpdateFlags {
  securityOpt: string[];
  detach?: boolean;
  timeout: string;
  format?: string;
  quiet?: boolean;
}

/** Follows rollouts and turns their outcome into the exit code CI relies on. */
export async function followAndExit(
  c: ApiClient,
  ids: string[],
  timeout: string,
  format?: string,
  quiet = false,
): Promise<void> {
  const timeoutNs = parseDurationNs(timeout);
  if (timeoutNs === undefined)
    throw new CliUsageError(`invalid --timeout "${timeout}": use a duration like 90s or 5m`);
  const display = quiet ? undefined : new RolloutDisplay();
  const results = await followRollouts(c, ids, {
    timeoutMs: timeoutNs / 1e6,
    ...(display ? { onProgress: display.onProgress, onOutcome: display.onOutcome } : {}),
  });
  // Quiet: only what failed, which the exit code alone would not explain.
  reportRollouts(quiet ? results.filter((r) => r.outcome !== 'converged') : results, format, display?.live);
  if (results.some((r) => r.outcome !== 'converged')) throw new CliExit(1);
}

/** The outcome of each service: JSON on stdout, or lines on stderr (already shown when `shown`). */
export function reportRollouts(results: FollowResult[], format?: string, shown = false): void {
  if (parseFormat(format) === 'json') {
    printJson(results);
    return;
  }
  if (shown) return;
  for (const r of results) process.stderr.write(`${r.service}: ${outcomeText(r)}\n`);
}

function buildSpec(image: string, command: string[], o: CreateOptions): ServiceSpec {
  const labels = Object.fromEntries(o.label.map((l) => splitPair(l)));
  const mode =
    o.mode === 'global'
      ? { Global: {} }
      : o.mode === 'replicated-job'
        ? { ReplicatedJob: { TotalCompletions: o.replicas ?? 1 } }
        : o.mode === 'global-job'
          ? { GlobalJob: {} }
          : o.mode === 'replicated'
            ? { Replicated: { Replicas: o.replicas ?? 1 } }
            : undefined;
  if (!mode)
    throw new CliUsageError(
      `unknown --mode "${o.mode}": use replicated, global, replicated-job or global-job`,
    );
  const cs: ContainerSpec = { Image: image, ...(command.length ? { Args: command } : {}), Env: o.env };
  applyCapabilities(cs, o.capAdd, o.capDrop);
  const privileges = securityOptPrivileges(o.securityOpt, readProfile);
  if (privileges) cs.Privileges = privileges;
  return {
    Name: o.name,
    Labels: labels,
    Mode: mode,
    TaskTemplate: {
      ContainerSpec: cs,
      Networks: o.network.map((n) => ({ Target: n })),
      Placement: o.constraint.length ? { Constraints: o.constraint } : undefined,
    },
    EndpointSpec: { Ports: o.publish.map(parsePublish) },
  };
}

/** A `--security-opt seccomp=<file>` profile, relative to the working directory. */
function readProfile(file: string): string {
  return readFileSync(file, 'utf8');
}

function splitPair(s: string): [string, string] {
  const i = s.indexOf('=');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

function positiveInt(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new CliUsageError(`${what}: "${v}" is not a non-negative whole number`);
  return n;
}

export function parseFilters(filters: string[]): Record<string, string[]> | undefined {
  if (filters.length === 0) return undefined;
  const out: Record<string, string[]> = {};
  for (const f of filters) {
    const [k, v] = splitPair(f);
    out[k] = [...(out[k] ?? []), v];
  }
  return out;
}

/** The `service ls` table (also `stack services`), or the --format the user gave. */
export function printServices(services: Service[], format?: string): void {
  printList(
    format,
    SERVICE_COLUMNS,
    services.map((s) => [shortId(s.ID), s.Spec.Name ?? '', modeOf(s), replicasOf(s), imageOf(s), portsOf(s)]),
  );
}

export function modeOf(s: Service): string {
  const m = s.Spec.Mode;
  if (m?.Global) return 'global';
  if (m?.ReplicatedJob) return 'replicated job';
  if (m?.GlobalJob) return 'global job';
  return 'replicated';
}

export function replicasOf(s: Service): string {
  const st = s.ServiceStatus;
  if (st) return `${st.RunningTasks}/${st.DesiredTasks}`;
  return `?/${s.Spec.Mode?.Replicated?.Replicas ?? (s.Spec.Mode?.Global ? '?' : 1)}`;
}

export function imageOf(s: Service): string {
  return (s.Spec.TaskTemplate?.ContainerSpec?.Image ?? '').replace(/@sha256:[0-9a-f]+$/, '');
}

export function portsOf(s: Service): string {
  return (s.Endpoint?.Ports ?? s.Spec.EndpointSpec?.Ports ?? [])
    .map((p) => `*:${p.PublishedPort}->${p.TargetPort}/${p.Protocol ?? 'tcp'}`)
    .join(', ');
}

function sortTasks(tasks: Task[]): Task[] {
  return [...tasks].sort(
    (a, b) =>
      (a.Slot ?? 0) - (b.Slot ?? 0) || (b.Status.Timestamp ?? '').localeCompare(a.Status.Timestamp ?? ''),
  );
}

/** The flags docker's task lists share (`service ps`, `stack ps`, `node ps`). */
export interface TaskListOptions {
  quiet?: boolean;
  filter: string[];
  /** false with --no-trunc. */
  trunc: boolean;
  /** false with --no-resolve. */
  resolve: boolean;
  format?: string;
}

/** Lists the tasks the filters select, grouped by service as docker prints them. */
export async function printTasks(
  c: ApiClient,
  filters: Record<string, string[]>,
  o: Omit<TaskListOptions, 'filter'>,
  quiet: QuietIds = 'trunc',
): Promise<void> {
  const tasks = await c.listTasks(filters);
  if (o.quiet)
    return void process.stdout.write(
      quietLines(
        sortTasks(tasks).map((t) => t.ID),
        quiet,
        o.trunc,
      ),
    );
  const nodes = o.resolve ? new Map((await c.listNodes()).map((n) => [n.ID, n])) : new Map<string, Node>();
  const services = new Map<string, Service>();
  for (const id of new Set(tasks.map((t) => t.ServiceID)))
    services.set(id, await c.inspectService(id).catch(() => ({ ID: id, Spec: { Name: id } }) as Service));
  const ordered = [...services.keys()].flatMap((id) => sortTasks(tasks.filter((t) => t.ServiceID === id)));
  const rows = ordered.map((t) => taskRow(t, services.get(t.ServiceID) as Service, nodes, o.trunc));
  printList(o.format, TASK_COLUMNS, rows);
}

function taskRow(t: Task, s: Service, nodes: Map<string, Node>, trunc: boolean): string[] {
  const name = `${s.Spec.Name}.${t.Slot ?? t.NodeID ?? ''}`;
  const node = t.NodeID ? (nodes.get(t.NodeID)?.Description?.Hostname ?? t.NodeID) : '';
  const state = t.Status.State ?? 'new';
  const current = `${state[0]?.toUpperCase()}${state.slice(1)} ${ago(t.Status.Timestamp)}`;
  const err = t.Status.Err ?? '';
  const image = t.Spec.ContainerSpec?.Image ?? '';
  return [
    trunc ? shortId(t.ID) : t.ID,
    name,
    trunc ? image.replace(/@sha256:[0-9a-f]+$/, '') : image,
    node,
    t.DesiredState[0]?.toUpperCase() + t.DesiredState.slice(1),
    current,
    trunc && err.length > 30 ? `"${err.slice(0, 29)}…"` : err ? `"${err}"` : '',
    '',
  ];
}

/** `service ls` columns and the template fields docker gives them. */
export const SERVICE_COLUMNS = [
  { header: 'ID', field: 'ID' },
  { header: 'NAME', field: 'Name' },
  { header: 'MODE', field: 'Mode' },
  { header: 'REPLICAS', field: 'Replicas' },
  { header: 'IMAGE', field: 'Image' },
  { header: 'PORTS', field: 'Ports' },
];

/** Task list columns (`service ps`, `stack ps`, `node ps`) and their template fields. */
export const TASK_COLUMNS = [
  { header: 'ID', field: 'ID' },
  { header: 'NAME', field: 'Name' },
  { header: 'IMAGE', field: 'Image' },
  { header: 'NODE', field: 'Node' },
  { header: 'DESIRED STATE', field: 'DesiredState' },
  { header: 'CURRENT STATE', field: 'CurrentState' },
  { header: 'ERROR', field: 'Error' },
  { header: 'PORTS', field: 'Ports' },
];
