// docker compose's commands on the containers themselves: kill, pause, unpause, top and
// cp. A service's container is its task's (the container ID is the task ID), reached
// through the container endpoints of the node serving the API; a task on another node of
// a cluster is refused by name, since those endpoints answer for their own node only.
import { cp, lstat, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { EngineContainerTop, EnginePathStat, Service, Task } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import type { ApiClient } from '../api/index.js';
import type { GlobalOptions } from '../context.js';
import { CliUsageError, renderTable } from '../output.js';
import {
  containerName,
  type ProjectOptions,
  projectName,
  projectServices,
  shortName,
  withLocalClient,
} from './compose.js';

/** A running container of a project's service. */
export interface ServiceContainer {
  id: string;
  name: string;
  service: string;
  slot: number | undefined;
  nodeId: string | undefined;
}

/** Go's os.ModeDir in a path stat's mode (docker's archive header). */
const MODE_DIR = 2 ** 31;

export function registerComposeContainers(
  compose: Command,
  g: () => GlobalOptions,
  p: () => ProjectOptions,
): void {
  compose
    .command('kill')
    .description(
      'send a signal (SIGKILL by default) to the services’ running containers; a container that exits is restarted or not as its restart policy says',
    )
    .option('-s, --signal <signal>', 'signal to send (name or number)', 'SIGKILL')
    .option('--remove-orphans', 'also remove services of the project that the file no longer has (refused)')
    .argument('[service...]')
    .action(async (only: string[], o: { signal: string; removeOrphans?: boolean }) => {
      if (o.removeOrphans)
        throw new SkiffError('unsupported', 'compose kill --remove-orphans is not supported', {
          hint: 'skiff compose up --remove-orphans removes them',
        });
      const signal = checkSignal(o.signal);
      await onContainers(g(), p(), only, async (c, ctr) => {
        process.stderr.write(`Container ${ctr.name}  Killing\n`);
        await c.killContainer(ctr.id, signal);
        process.stderr.write(`Container ${ctr.name}  Killed\n`);
      });
    });

  for (const [verb, describe] of [
    ['pause', 'freeze the services’ running containers (the cgroup freezer)'],
    ['unpause', 'thaw the services’ paused containers'],
  ] as const) {
    compose
      .command(verb)
      .description(describe)
      .argument('[service...]')
      .action(async (only: string[]) => {
        const [doing, done] = verb === 'pause' ? ['Pausing', 'Paused'] : ['Unpausing', 'Unpaused'];
        await onContainers(g(), p(), only, async (c, ctr) => {
          process.stderr.write(`Container ${ctr.name}  ${doing}\n`);
          await (verb === 'pause' ? c.pauseContainer(ctr.id) : c.unpauseContainer(ctr.id));
          process.stderr.write(`Container ${ctr.name}  ${done}\n`);
        });
      });
  }

  compose
    .command('top')
    .description('show the processes of the services’ running containers (host ps rows, as docker’s)')
    .argument('[service...]')
    .action(async (only: string[]) => {
      const out: { name: string; top: EngineContainerTop }[] = [];
      await onContainers(g(), p(), only, async (c, ctr) => {
        out.push({ name: ctr.name, top: await c.topContainer(ctr.id) });
      });
      process.stdout.write(renderTop(out));
    });

  compose
    .command('cp')
    .description(
      'copy files between a service container and the host: SERVICE:SRC DEST|- or SRC|- SERVICE:DEST (into every container of the service unless --index)',
    )
    .argument('<source>')
    .argument('<destination>')
    .option('--index <n>', 'the container of the service (its slot); from a service: the first by default')
    .option('-a, --archive', 'keep the archive’s owners (refused: skiff copies as the container’s root)')
    .option('-L, --follow-link', 'follow a symbolic link the source path names')
    .option(
      '--all',
      'also the one-off containers of `compose run` (accepted: they are services of their own)',
    )
    .action(
      async (src: string, dst: string, o: { index?: string; archive?: boolean; followLink?: boolean }) => {
        if (o.archive)
          throw new SkiffError('unsupported', 'compose cp -a (keep owners) is not supported by skiff yet', {
            hint: 'copy without -a: files belong to the container’s root user',
          });
        const index = o.index === undefined ? undefined : Number(o.index);
        if (index !== undefined && (!Number.isInteger(index) || index < 1))
          throw new CliUsageError(`--index must be a positive integer, got "${o.index}"`);
        const copy = parseCopyArgs(src, dst);
        await onContainers(
          g(),
          p(),
          [copy.service],
          async (c, ctr) => {
            if (copy.direction === 'from')
              await copyFrom(c, ctr, copy.containerPath, copy.localPath, o.followLink === true);
            else await copyTo(c, ctr, copy.localPath, copy.containerPath, o.followLink === true);
          },
          // As docker compose: from a service its first container, to a service all of them.
          { index, firstOnly: copy.direction === 'from' },
        );
      },
    );
}

/** Runs `fn` on each running container of the services (all when `only` is empty). */
async function onContainers(
  g: GlobalOptions,
  p: ProjectOptions,
  only: string[],
  fn: (c: ApiClient, ctr: ServiceContainer) => Promise<void>,
  pick: { index?: number | undefined; firstOnly?: boolean } = {},
): Promise<void> {
  const project = await projectName(p);
  await withLocalClient(g, async (c) => {
    const services = await projectServices(c, project, only);
    const missing = only.filter((s) => !services.some((x) => shortName(project, x.Spec.Name) === s));
    if (missing.length > 0)
      throw new SkiffError('not_found', `no such service: ${missing.join(', ')}`, {
        hint: 'skiff compose ps lists the project’s containers',
      });
    const tasks = await c.listTasks({ service: services.map((s) => s.ID) });
    let containers = runningContainers(project, services, tasks);
    if (pick.index !== undefined) {
      const slot = pick.index;
      containers = containers.filter((x) => (x.slot ?? 1) === slot);
      if (containers.length === 0)
        throw new SkiffError(
          'not_found',
          `service "${only.join(', ')}" has no running container with index ${slot}`,
          {
            hint: 'skiff compose ps shows the containers and their state',
          },
        );
    } else if (pick.firstOnly) containers = containers.slice(0, 1);
    if (containers.length === 0) {
      throw new SkiffError(
        'not_found',
        `no running container${only.length ? ` for ${only.join(', ')}` : ''} in project ${project}`,
        { hint: 'skiff compose ps -a shows the containers and their state' },
      );
    }
    const here = await servingNode(c);
    const elsewhere = containers.filter((x) => x.nodeId !== here);
    if (elsewhere.length > 0) {
      const names = elsewhere.map((x) => `${x.name} (node ${x.nodeId ?? 'none'})`).join(', ');
      throw new SkiffError(
        'unsupported',
        `${names} ${elsewhere.length > 1 ? 'run' : 'runs'} on another node than the one serving the API (${here})`,
        {
          hint: 'point --host at that node’s manager, or use skiff compose exec, which reaches any manager node',
        },
      );
    }
    for (const ctr of containers) await fn(c, ctr);
  });
}

async function servingNode(c: ApiClient): Promise<string> {
  const info = await c.info();
  const swarm = info.Swarm as { NodeID?: unknown } | undefined;
  return typeof swarm?.NodeID === 'string' ? swarm.NodeID : '';
}

/** The running containers of the services, by service then slot, named as compose ps names them. */
export function runningContainers(project: string, services: Service[], tasks: Task[]): ServiceContainer[] {
  const out: ServiceContainer[] = [];
  for (const s of [...services].sort((a, b) => (a.Spec.Name ?? '').localeCompare(b.Spec.Name ?? ''))) {
    const svc = shortName(project, s.Spec.Name);
    const mine = tasks
      .filter((t) => t.ServiceID === s.ID && t.DesiredState === 'running' && t.Status.State === 'running')
      .sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0));
    for (const t of mine)
      out.push({
        id: t.ID,
        name: containerName(project, svc, s, t),
        service: svc,
        slot: t.Slot,
        nodeId: t.NodeID,
      });
  }
  return out;
}

/** Docker compose's top: each container's name, then its processes as a table, then a blank line. */
export function renderTop(containers: { name: string; top: EngineContainerTop }[]): string {
  return containers.map(({ name, top }) => `${name}\n${renderTable(top.Titles, top.Processes)}\n`).join('');
}

/** A signal as docker takes it: a name (with or without SIG) or a number. */
export function checkSignal(signal: string): string {
  const s = signal.trim().toUpperCase();
  if (/^\d+$/.test(s) && Number(s) > 0 && Number(s) < 65) return s;
  if (/^(SIG)?[A-Z][A-Z0-9+-]*$/.test(s)) return s.startsWith('SIG') ? s : `SIG${s}`;
  throw new CliUsageError(`invalid signal "${signal}": give a name (SIGHUP, HUP) or a number`);
}

export type CopyArgs =
  | { direction: 'from'; service: string; containerPath: string; localPath: string }
  | { direction: 'to'; service: string; containerPath: string; localPath: string };

/** `SERVICE:PATH` on exactly one side, as docker compose cp takes them. */
export function parseCopyArgs(src: string, dst: string): CopyArgs {
  const remote = (s: string) => {
    // A local path may hold a colon after a slash (./a:b); a service name cannot.
    const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(.*)$/.exec(s);
    return m ? { service: m[1] as string, path: m[2] as string } : undefined;
  };
  const from = remote(src);
  const to = remote(dst);
  if (from && to)
    throw new CliUsageError('copying between services is not supported: one side is a local path');
  if (!from && !to)
    throw new CliUsageError(
      'one of source and destination must be SERVICE:PATH (the other a local path or -)',
    );
  if (from) {
    if (!from.path) throw new CliUsageError('the container path must not be empty');
    return { direction: 'from', service: from.service, containerPath: from.path, localPath: dst };
  }
  const t = to as { service: string; path: string };
  if (!t.path) throw new CliUsageError('the container path must not be empty');
  return { direction: 'to', service: t.service, containerPath: t.path, localPath: src };
}

/**
 * Where a copy into a container goes, as docker cp decides it: into an existing directory
 * under the source's own name; onto a path that does not exist (or an existing file) as
 * that name in its parent directory.
 */
export function copyToPlan(
  containerPath: string,
  target: EnginePathStat | undefined,
  source: { name: string; isDir: boolean },
): { dir: string; name: string } {
  const trailing = containerPath.endsWith('/');
  const path = posix.normalize(containerPath);
  if (target && (target.mode & MODE_DIR) !== 0) return { dir: path, name: source.name };
  if (target && source.isDir)
    throw new SkiffError('invalid_argument', `cannot copy a directory onto the file ${containerPath}`);
  if (!target && trailing && !source.isDir)
    throw new SkiffError('not_found', `the destination directory ${containerPath} does not exist`);
  return { dir: posix.dirname(path), name: posix.basename(path) };
}

/** The same decision for a copy out of a container onto the host. */
export function copyFromPlan(
  localPath: string,
  target: { isDir: boolean } | undefined,
  source: { name: string; isDir: boolean },
): { dir: string; name: string } {
  if (target?.isDir) return { dir: localPath, name: source.name };
  if (target && source.isDir)
    throw new SkiffError('invalid_argument', `cannot copy a directory onto the file ${localPath}`);
  if (!target && /[/\\]$/.test(localPath) && !source.isDir)
    throw new SkiffError('not_found', `the destination directory ${localPath} does not exist`);
  return { dir: dirname(resolve(localPath)), name: basename(resolve(localPath)) };
}

async function copyFrom(
  c: ApiClient,
  ctr: ServiceContainer,
  containerPath: string,
  localPath: string,
  follow: boolean,
): Promise<void> {
  let path = containerPath;
  let st = await c.statContainerPath(ctr.id, path);
  if (!st) throw new SkiffError('not_found', `no such file or directory in ${ctr.name}: ${containerPath}`);
  if (follow && st.linkTarget) {
    path = posix.resolve(posix.dirname(posix.resolve('/', path)), st.linkTarget);
    st = await c.statContainerPath(ctr.id, path);
    if (!st) throw new SkiffError('not_found', `the link ${containerPath} in ${ctr.name} points nowhere`);
  }
  const tar = await c.getContainerArchive(ctr.id, path);
  if (localPath === '-') {
    await pipeline(tar, process.stdout, { end: false });
    return;
  }
  const target = await lstat(localPath).then(
    (s) => ({ isDir: s.isDirectory() }),
    () => undefined,
  );
  const plan = copyFromPlan(localPath, target, { name: st.name, isDir: (st.mode & MODE_DIR) !== 0 });
  // Unpacked beside the destination, then renamed into place: the archive names its one
  // top entry after the container path, the destination may want another name.
  const stage = await mkdtemp(join(plan.dir, '.skiff-cp-'));
  try {
    // tar only when copying: loaded with the compose family, it cost every compose command ~5 ms.
    const { extract } = await import('tar');
    await pipeline(tar, extract({ cwd: stage, preserveOwner: false, strict: true }));
    const dest = join(plan.dir, plan.name);
    if (
      target?.isDir === true &&
      (await stat(dest).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    )
      await cp(join(stage, st.name), dest, { recursive: true, force: true, verbatimSymlinks: true });
    else await rename(join(stage, st.name), dest);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  process.stderr.write(`Copied ${ctr.name}:${containerPath} to ${localPath}\n`);
}

async function copyTo(
  c: ApiClient,
  ctr: ServiceContainer,
  localPath: string,
  containerPath: string,
  follow: boolean,
): Promise<void> {
  if (localPath === '-') {
    // A tar on stdin, extracted as it is into the directory the path names (docker cp -).
    await c.putContainerArchive(ctr.id, containerPath, process.stdin);
    return;
  }
  const src = await (follow ? stat(localPath) : lstat(localPath)).catch(() => {
    throw new SkiffError('not_found', `no such file or directory: ${localPath}`);
  });
  const target = await c.statContainerPath(ctr.id, containerPath);
  const plan = copyToPlan(containerPath, target, {
    name: basename(resolve(localPath)),
    isDir: src.isDirectory(),
  });
  // The archive's top entry carries the name the file takes in the container.
  const stage = await mkdtemp(join(tmpdir(), 'skiff-cp-'));
  try {
    await cp(localPath, join(stage, plan.name), {
      recursive: true,
      dereference: follow,
      verbatimSymlinks: true,
    });
    const { create } = await import('tar');
    const tar = create({ cwd: stage, portable: true, follow: false }, [plan.name]);
    await c.putContainerArchive(ctr.id, plan.dir, Readable.from(tar as unknown as AsyncIterable<Buffer>));
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  process.stderr.write(`Copied ${localPath} to ${ctr.name}:${containerPath}\n`);
}
