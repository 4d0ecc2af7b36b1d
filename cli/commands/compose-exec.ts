// `skiff compose exec` (a command in a service's running container) and `skiff compose
// run` (a one-off container of a service's spec): both end with the command's exit code.
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { ExecBody, ServiceSpec, StackDependency, Task } from '../../lib/index.js';
import {
  COMPOSE_ONEOFF_LABEL,
  COMPOSE_SOURCE_LABEL,
  DEPENDS_ON_LABEL,
  encodeDependsOn,
  SkiffError,
  SPEC_HASH_LABEL,
  STACK_NAMESPACE_LABEL,
  taskStateRank,
} from '../../lib/index.js';
import type { ApiClient } from '../api/index.js';
import type { GlobalOptions } from '../context.js';
import { deployStack } from '../deploy.js';
import { CliExit, CliUsageError } from '../output.js';
import {
  loadStack,
  type ProjectOptions,
  projectName,
  projectServices,
  shortName,
  withComposeLabels,
  withLocalClient,
} from './compose.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface ExecOptions {
  tty: boolean;
  detach?: boolean;
  index: string;
  env: string[];
  workdir?: string;
  user?: string;
}

interface RunOptions {
  rm?: boolean;
  detach?: boolean;
  env: string[];
  entrypoint?: string;
  deps: boolean;
  name?: string;
  user?: string;
  workdir?: string;
  tty: boolean;
}

export function registerComposeExec(compose: Command, g: () => GlobalOptions, p: () => ProjectOptions): void {
  compose
    .command('exec')
    .description('run a command in a running container of a service; exits with the command’s exit code')
    .argument('<service>', 'the service')
    .argument('<command...>', 'the command and its arguments')
    .option('-T, --no-tty', 'no pseudo-terminal (the default when stdin or stdout is not a terminal)')
    .option('-d, --detach', 'start the command and return; it runs on in the background')
    .option('--index <n>', 'which container of the service (its slot)', '1')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory for the command')
    .option('-u, --user <user>', 'run as this user (name or uid[:gid])')
    .passThroughOptions()
    .action(async (service: string, command: string[], o: ExecOptions) => {
      const index = Number(o.index);
      if (!Number.isInteger(index) || index < 1)
        throw new CliUsageError(`--index must be a positive integer, got "${o.index}"`);
      checkEnv(o.env);
      const name = await projectName(p());
      await withLocalClient(g(), async (c) => {
        const task = await runningTask(c, name, service, index);
        const tty = !o.detach && o.tty && process.stdin.isTTY === true && process.stdout.isTTY === true;
        const body: ExecBody = {
          Cmd: command,
          ...(o.env.length ? { Env: o.env } : {}),
          ...(o.workdir ? { WorkingDir: o.workdir } : {}),
          ...(o.user ? { User: o.user } : {}),
          ...(tty ? { Tty: true } : {}),
          ...(o.detach ? { Detach: true } : {}),
        };
        // stdin streams to the command as docker's `exec -i` does; with a TTY, keystroke by
        // keystroke (our terminal raw: the container's terminal echoes and edits).
        const code = await execWithSignals(c, task.ID, body, o.detach ? undefined : process.stdin, tty);
        if (code !== 0) throw new CliExit(code);
      });
    });

  compose
    .command('run')
    .description('run a one-off container of a service with a command; exits with its exit code')
    .argument('<service>', 'the service whose spec the container gets')
    .argument('[command...]', 'the command (default: the service’s)')
    .option('--rm', 'remove the container when it ends')
    .option('-d, --detach', 'start it in the background and print its name')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('--entrypoint <cmd>', 'override the image’s entrypoint')
    .option('--no-deps', 'do not start the services it depends on')
    .option('--name <name>', 'name of the one-off container')
    .option('-u, --user <user>', 'run as this user (name or uid[:gid])')
    .option('-w, --workdir <dir>', 'working directory')
    .option('-T, --no-tty', 'accepted for compatibility: output is never a terminal')
    .passThroughOptions()
    .action(async (service: string, command: string[], o: RunOptions) => {
      checkEnv(o.env);
      const stack = await loadStack(p(), [], { composeLabels: true });
      const ns = stack.namespace;
      const spec = stack.services.find((s) => shortName(ns, s.Name) === service);
      if (!spec) {
        throw new SkiffError('not_found', `no such service: ${service}`, {
          hint: `the project has: ${stack.services.map((s) => shortName(ns, s.Name)).join(', ')}`,
        });
      }
      const deps = o.deps ? dependencyClosure(stack.dependsOn ?? {}, service) : [];
      const oneOffName = o.name ?? `${ns}_${service}_run_${randomBytes(3).toString('hex')}`;
      await withLocalClient(g(), async (c) => {
        // Networks, secrets and configs always; the services it depends on unless --no-deps.
        await deployStack(
          c,
          { ...stack, services: stack.services.filter((s) => deps.includes(shortName(ns, s.Name))) },
          { log: (l) => process.stderr.write(`${l}\n`) },
        );
        const oneOff = oneOffSpec(
          spec,
          oneOffName,
          ns,
          command,
          o,
          deps.length ? stack.dependsOn?.[service] : undefined,
        );
        const { ID } = await c.createService(oneOff);
        if (o.detach) {
          process.stdout.write(`${oneOffName}\n`);
          return;
        }
        const abort = new AbortController();
        const stop = () => abort.abort();
        process.once('SIGINT', stop);
        let code: number;
        try {
          code = await runToEnd(c, ID, abort.signal);
        } catch (e) {
          if (!abort.signal.aborted) throw e;
          code = 130; // interrupted, as a shell reports SIGINT
        } finally {
          process.off('SIGINT', stop);
          if (o.rm) await c.removeService(ID).catch(() => undefined);
        }
        if (code !== 0) throw new CliExit(code);
      });
    });
}

function checkEnv(env: string[]): void {
  const bad = env.find((e) => !/^[^=]+=/.test(e));
  if (bad !== undefined) throw new CliUsageError(`-e "${bad}" is not KEY=VALUE`);
}

/** The running container of a service at slot `index`. */
async function runningTask(c: ApiClient, project: string, service: string, index: number): Promise<Task> {
  const services = await projectServices(c, project, [service]);
  const s = services[0];
  if (!s) {
    const all = await projectServices(c, project, []);
    throw new SkiffError('not_found', `service "${service}" is not running in project ${project}`, {
      hint: all.length
        ? `running services: ${all.map((x) => shortName(project, x.Spec.Name)).join(', ')}`
        : 'start the project with `skiff compose up -d`',
    });
  }
  const tasks = await c.listTasks({ service: [s.ID] });
  const task = tasks.find(
    (t) => t.Slot === index && t.DesiredState === 'running' && t.Status.State === 'running',
  );
  if (!task) {
    throw new SkiffError('not_found', `service "${service}" has no running container with index ${index}`, {
      hint: '`skiff compose ps` shows the containers and their state',
    });
  }
  return task;
}

async function execWithSignals(
  c: ApiClient,
  taskId: string,
  body: ExecBody,
  stdin?: NodeJS.ReadStream,
  tty = false,
): Promise<number> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once('SIGINT', stop);
  const raw = tty && stdin?.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const terminalSize = (send: (height: number, width: number) => void) => {
    const now = () => {
      if (process.stdout.rows && process.stdout.columns) send(process.stdout.rows, process.stdout.columns);
    };
    now();
    process.stdout.on('resize', now);
    return () => process.stdout.off('resize', now);
  };
  try {
    return await c.exec(
      taskId,
      body,
      (stream, chunk) => (stream === 'stderr' ? process.stderr : process.stdout).write(chunk),
      abort.signal,
      stdin,
      tty ? terminalSize : undefined,
    );
  } catch (e) {
    if (abort.signal.aborted) return 130;
    throw e;
  } finally {
    if (raw) stdin.setRawMode(false);
    process.off('SIGINT', stop);
    // The command is done: stop reading stdin, which would keep the process alive.
    stdin?.destroy();
  }
}

/** The services `service` depends on, transitively, in no particular order. */
export function dependencyClosure(
  dependsOn: Record<string, { service: string }[]>,
  service: string,
): string[] {
  const seen = new Set<string>();
  const visit = (s: string) => {
    for (const d of dependsOn[s] ?? []) {
      if (seen.has(d.service)) continue;
      seen.add(d.service);
      visit(d.service);
    }
  };
  visit(service);
  seen.delete(service);
  return [...seen];
}

/** A job of one task with the service's container spec, the command overridden and no published ports. */
export function oneOffSpec(
  spec: ServiceSpec,
  name: string,
  ns: string,
  command: string[],
  o: Pick<RunOptions, 'env' | 'entrypoint' | 'user' | 'workdir'>,
  dependsOn?: readonly StackDependency[],
): ServiceSpec {
  const labeled = withComposeLabels(spec, ns);
  // Not the service's file text either: a one-off runs another command than the file says.
  const {
    [SPEC_HASH_LABEL]: _hash,
    [DEPENDS_ON_LABEL]: _deps,
    [COMPOSE_SOURCE_LABEL]: _src,
    ...labels
  } = labeled.Labels ?? {};
  const base = labeled.TaskTemplate?.ContainerSpec;
  if (!base) throw new SkiffError('invalid_argument', `service ${spec.Name ?? ''} has no container spec`);
  const cs = { ...base };
  if (command.length) cs.Args = command;
  if (o.entrypoint !== undefined) {
    cs.Command = o.entrypoint === '' ? [] : o.entrypoint.split(/\s+/).filter(Boolean);
    // As docker: a new entrypoint drops the image's and the service's command unless given.
    if (!command.length) cs.Args = [];
  }
  if (o.env.length) {
    const env = new Map((cs.Env ?? []).map((e) => [e.split('=')[0] ?? e, e] as [string, string]));
    for (const e of o.env) env.set(e.split('=')[0] ?? e, e);
    cs.Env = [...env.values()];
  }
  if (o.user) cs.User = o.user;
  if (o.workdir) cs.Dir = o.workdir;
  cs.Labels = { ...cs.Labels, [COMPOSE_ONEOFF_LABEL]: 'True' };
  const { Ports: _ports, ...endpoint } = labeled.EndpointSpec ?? {};
  return {
    ...labeled,
    Name: name,
    Labels: {
      ...labels,
      [COMPOSE_ONEOFF_LABEL]: 'True',
      [STACK_NAMESPACE_LABEL]: ns,
      ...(dependsOn?.length ? { [DEPENDS_ON_LABEL]: encodeDependsOn(dependsOn) } : {}),
    },
    Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
    TaskTemplate: { ...labeled.TaskTemplate, ContainerSpec: cs, RestartPolicy: { Condition: 'none' } },
    EndpointSpec: endpoint,
  };
}

/** Follows the one-off's task: its output as it comes, then its exit code. */
async function runToEnd(c: ApiClient, serviceId: string, signal: AbortSignal): Promise<number> {
  const started = await waitForTask(
    c,
    serviceId,
    signal,
    (t) => taskStateRank(t.Status.State ?? 'new') >= taskStateRank('running'),
    START_TIMEOUT_MS,
  );
  if (
    started.Status.State === 'rejected' ||
    (started.Status.State === 'failed' && !started.Status.ContainerStatus)
  ) {
    throw new SkiffError(
      'conflict',
      `the one-off container did not start: ${started.Status.Err ?? started.Status.State}`,
      {
        hint: '`skiff compose logs` and the daemon log tell more',
      },
    );
  }
  for await (const l of c.logs('tasks', started.ID, { follow: true, tail: 'all', details: false }, signal)) {
    (l.stream === 'stderr' ? process.stderr : process.stdout).write(`${l.line}\n`);
  }
  const ended = await waitForTask(
    c,
    serviceId,
    signal,
    (t) => taskStateRank(t.Status.State ?? 'new') >= taskStateRank('complete'),
  );
  const code = ended.Status.ContainerStatus?.ExitCode;
  if (code === undefined) {
    throw new SkiffError(
      'conflict',
      `the one-off container ended without an exit code: ${ended.Status.Err ?? ended.Status.State}`,
    );
  }
  return code;
}

/** How long a one-off may take to start (pull, schedule, create) before the CLI gives up. */
const START_TIMEOUT_MS = 5 * 60_000;

async function waitForTask(
  c: ApiClient,
  serviceId: string,
  signal: AbortSignal,
  done: (t: Task) => boolean,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal.aborted) throw new CliExit(130);
    const tasks = await c.listTasks({ service: [serviceId] });
    const t = tasks.find(done);
    if (t) return t;
    if (Date.now() > deadline) {
      const last = tasks.at(-1);
      throw new SkiffError(
        'timeout',
        `the one-off container has not started after ${Math.round(timeoutMs / 1000)}s (task ${last?.Status.State ?? 'not created'}${last?.Status.Err ? `: ${last.Status.Err}` : ''})`,
        { hint: '`skiff service ps` on the one-off service shows where it is stuck' },
      );
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}
