// docker compose's other commands on skiff's local compose (services of one project on
// the embedded node): ls, images, port, scale, create, rm, wait, events, version (kill,
// pause, unpause, top and cp are in compose-containers.ts).
import type { Command } from 'commander';
import type { Service, ServiceSpec, Task } from '../../lib/index.js';
import {
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
  COMPOSE_STOPPED_REPLICAS_LABEL,
  SkiffError,
} from '../../lib/index.js';
import type { ApiClient } from '../api/index.js';
import type { GlobalOptions } from '../context.js';
import { deployStack, removeStack } from '../deploy.js';
import { CliExit, CliUsageError, printJson, printList, quietLines, shortId } from '../output.js';
import { skiffVersion } from '../version.js';
import {
  loadStack,
  type ProjectOptions,
  projectName,
  projectServices,
  shortName,
  withLocalClient,
} from './compose.js';
import { followAndExit } from './service.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** A task that has stopped for good (its container exited or never will run). */
const STOPPED = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']);

function tableOrJson(format: string | undefined): string | undefined {
  if (format === undefined || format === 'table' || format === 'json' || format.includes('{{')) return format;
  throw new CliUsageError(`unknown format "${format}": use table, json or a Go template`);
}

export function registerComposeMore(compose: Command, g: () => GlobalOptions, p: () => ProjectOptions): void {
  compose
    .command('ls')
    .description('list compose projects (running ones; all with -a)')
    .option('-a, --all', 'also list stopped projects')
    .option('--filter <filter>', 'filter (name=…)', collect, [])
    .option('--format <format>', 'table, json or a Go template')
    .option('-q, --quiet', 'only print project names')
    .action(async (o: { all?: boolean; filter: string[]; format?: string; quiet?: boolean }) => {
      const names: string[] = [];
      for (const f of o.filter) {
        if (!f.startsWith('name='))
          throw new CliUsageError(`unsupported filter "${f}": compose ls filters by name=`);
        names.push(f.slice(5));
      }
      await withLocalClient(g(), async (c) => {
        const services = await c.listServices({ label: [COMPOSE_PROJECT_LABEL] });
        const tasks = await c.listTasks();
        const projects = new Map<string, Map<string, number>>();
        for (const s of services) {
          const project = s.Spec.Labels?.[COMPOSE_PROJECT_LABEL] ?? '';
          if (names.length > 0 && !names.some((n) => project.includes(n))) continue;
          const states = projects.get(project) ?? new Map<string, number>();
          projects.set(project, states);
          for (const t of tasks.filter((t) => t.ServiceID === s.ID && t.DesiredState !== 'remove')) {
            const st = containerState(t);
            if (st) states.set(st, (states.get(st) ?? 0) + 1);
          }
        }
        const rows = [...projects]
          .filter(([, states]) => o.all || (states.get('running') ?? 0) > 0)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([Name, states]) => ({
            Name,
            Status:
              [...states]
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([st, n]) => `${st}(${n})`)
                .join(', ') || 'created(0)',
            // skiff records no file paths on the services; said as empty, not guessed.
            ConfigFiles: '',
          }));
        if (o.quiet) return void process.stdout.write(rows.map((r) => `${r.Name}\n`).join(''));
        // docker compose prints its ls and images as one JSON array (ps alone as JSON Lines).
        if (tableOrJson(o.format) === 'json') return printJson(rows);
        printList(
          o.format,
          [
            { header: 'NAME', field: 'Name' },
            { header: 'STATUS', field: 'Status' },
            { header: 'CONFIG FILES', field: 'ConfigFiles' },
          ],
          rows.map((r) => [r.Name, r.Status, r.ConfigFiles]),
        );
      });
    });

  compose
    .command('images')
    .description('list the images the project’s containers use')
    .option('--format <format>', 'table, json or a Go template')
    .option('-q, --quiet', 'only print image IDs')
    .argument('[service...]')
    .action(async (only: string[], o: { format?: string; quiet?: boolean }) => {
      const name = await projectName(p());
      await withLocalClient(g(), async (c) => {
        const images = await c.listImages();
        const rows: { ID: string; ContainerName: string; Repository: string; Tag: string; Size: number }[] =
          [];
        for (const s of await projectServices(c, name, only)) {
          for (const t of running(await c.listTasks({ service: [s.ID] }))) {
            const ref = (t.Spec.ContainerSpec?.Image ?? '').replace(/@sha256:[0-9a-f]+$/, '');
            const img = images.find((i) => i.RepoTags.includes(ref) || i.RepoTags.includes(`${ref}:latest`));
            const colon = ref.lastIndexOf(':');
            const hasTag = colon > ref.lastIndexOf('/');
            rows.push({
              ID: img?.Id ?? '',
              ContainerName: `${name}-${shortName(name, s.Spec.Name)}-${t.Slot ?? 1}`,
              Repository: hasTag ? ref.slice(0, colon) : ref,
              Tag: hasTag ? ref.slice(colon + 1) : 'latest',
              Size: img?.Size ?? 0,
            });
          }
        }
        // docker compose: each image once, its whole ID without the digest's algorithm.
        if (o.quiet)
          return void process.stdout.write(
            quietLines([...new Set(rows.map((r) => r.ID.replace(/^sha256:/, '')).filter(Boolean))], 'full'),
          );
        if (tableOrJson(o.format) === 'json') return printJson(rows);
        printList(
          o.format,
          [
            { header: 'CONTAINER', field: 'ContainerName' },
            { header: 'REPOSITORY', field: 'Repository' },
            { header: 'TAG', field: 'Tag' },
            { header: 'IMAGE ID', field: 'ID' },
            { header: 'SIZE', field: 'Size' },
          ],
          rows.map((r) => [
            r.ContainerName,
            r.Repository,
            r.Tag,
            shortId(r.ID.replace(/^sha256:/, '')),
            size(r.Size),
          ]),
        );
      });
    });

  compose
    .command('port')
    .description('print the public address a service’s port is published on')
    .argument('<service>')
    .argument('<private_port>', 'the container port')
    .option('--protocol <protocol>', 'tcp or udp', 'tcp')
    .option(
      '--index <n>',
      'the container of the service, when it has several (accepted: ports are per service)',
    )
    .action(async (svc: string, port: string, o: { protocol: string }) => {
      if (!/^\d+$/.test(port)) throw new CliUsageError(`private port "${port}" is not a number`);
      if (o.protocol !== 'tcp' && o.protocol !== 'udp')
        throw new CliUsageError(`--protocol: "${o.protocol}" is not tcp or udp`);
      const name = await projectName(p());
      await withLocalClient(g(), async (c) => {
        const [s] = await projectServices(c, name, [svc]);
        if (!s)
          throw new SkiffError('not_found', `no such service: ${svc}`, {
            hint: 'skiff compose ps lists them',
          });
        const published = (s.Endpoint?.Ports ?? []).find(
          (x) => x.TargetPort === Number(port) && (x.Protocol ?? 'tcp') === o.protocol,
        );
        if (!published?.PublishedPort)
          throw new SkiffError('not_found', `no port ${port}/${o.protocol} for container ${name}-${svc}-1`, {
            hint: 'publish it in the service’s ports: section',
          });
        process.stdout.write(`0.0.0.0:${published.PublishedPort}\n`);
      });
    });

  compose
    .command('scale')
    .description('set the number of containers of services')
    .argument('<service=replicas...>')
    .option('--no-deps', 'accepted: scaling never touches other services')
    .action(async (pairs: string[]) => {
      const wanted = pairs.map((pair) => {
        const m = /^([^=]+)=(\d+)$/.exec(pair);
        if (!m) throw new CliUsageError(`"${pair}" is not SERVICE=REPLICAS`);
        return { svc: m[1] as string, n: Number(m[2]) };
      });
      const name = await projectName(p());
      await withLocalClient(g(), async (c) => {
        const ids: string[] = [];
        for (const { svc, n } of wanted) {
          const [s] = await projectServices(c, name, [svc]);
          if (!s)
            throw new SkiffError('not_found', `no such service: ${svc}`, {
              hint: 'skiff compose ps lists them',
            });
          if (!s.Spec.Mode?.Replicated)
            throw new SkiffError(
              'invalid_argument',
              `service ${svc} is not replicated and cannot be scaled`,
              {
                hint: 'only services with deploy.mode: replicated have a replica count',
              },
            );
          const spec = structuredClone(s.Spec);
          const labels = { ...spec.Labels };
          delete labels[COMPOSE_STOPPED_REPLICAS_LABEL];
          spec.Labels = labels;
          spec.Mode = { Replicated: { Replicas: n } };
          process.stderr.write(`Scaling ${spec.Name} to ${n}\n`);
          await c.updateService(s.ID, s.Version.Index, spec);
          ids.push(s.ID);
        }
        await followAndExit(c, ids, '5m');
      });
    });

  compose
    .command('create')
    .description(
      'create the project’s services, networks, volumes, secrets and configs without starting containers',
    )
    .option('--build', 'build images first (refused: run skiff compose build, then create)')
    .option('--force-recreate', 'recreate services that exist already')
    .option('--remove-orphans', 'remove services of the project that the file no longer has')
    .argument('[service...]', 'only these services')
    .action(
      async (only: string[], o: { build?: boolean; forceRecreate?: boolean; removeOrphans?: boolean }) => {
        if (o.build)
          throw new SkiffError('unsupported', 'compose create --build is not supported', {
            hint: 'run skiff compose build first, then skiff compose create',
          });
        const loaded = await loadStack(p(), only);
        await withLocalClient(g(), async (c) => {
          const existing = new Set((await projectServices(c, loaded.namespace, [])).map((s) => s.Spec.Name));
          const fresh = loaded.services.filter((s) => o.forceRecreate || !existing.has(s.Name));
          const services = fresh.map(heldBack);
          await deployStack(
            c,
            { ...loaded, services },
            {
              prune: o.removeOrphans ?? false,
              log: (l) => process.stderr.write(`${l}\n`),
              forceUpdate: o.forceRecreate ?? false,
            },
          );
          if (fresh.length === 0) process.stderr.write('Nothing to create: every service exists\n');
        });
      },
    );

  compose
    .command('rm')
    .description('remove the project’s stopped services (their containers)')
    .option('-f, --force', 'do not ask (accepted for docker compatibility; skiff never prompts)')
    .option('-s, --stop', 'stop the services first')
    .option('-v, --volumes', 'remove anonymous volumes too (refused: skiff containers have none to keep)')
    .argument('[service...]')
    .action(async (only: string[], o: { stop?: boolean; volumes?: boolean }) => {
      if (o.volumes)
        throw new SkiffError('unsupported', 'compose rm -v is not supported', {
          hint: 'named volumes go with skiff compose down -v',
        });
      const name = await projectName(p());
      await withLocalClient(g(), async (c) => {
        const services = await projectServices(c, name, only);
        const stopped = services.filter(
          (s) => o.stop || s.Spec.Labels?.[COMPOSE_STOPPED_REPLICAS_LABEL] !== undefined || isIdle(s),
        );
        if (stopped.length === 0) return void process.stderr.write('No stopped containers\n');
        for (const s of stopped) {
          process.stderr.write(`Removing ${s.Spec.Name}\n`);
          await c.removeService(s.ID);
        }
        await waitTasksGone(
          c,
          stopped.map((s) => s.ID),
        );
      });
    });

  compose
    .command('wait')
    .description('wait until the services’ containers stop; exit with the first one’s exit code')
    .argument('<service...>')
    .option('--down-project', 'remove the project once the first container stops')
    .action(async (only: string[], o: { downProject?: boolean }) => {
      const name = await projectName(p());
      await withLocalClient(g(), async (c) => {
        const services = await projectServices(c, name, only);
        if (services.length === 0)
          throw new SkiffError('not_found', `no containers for ${only.join(', ')} in project ${name}`, {
            hint: 'skiff compose ps -a lists them',
          });
        const ids = services.map((s) => s.ID);
        let first: Task | undefined;
        // A user's wait: no deadline, as docker compose's; polls the manager's tasks.
        for (;;) {
          const tasks = (await c.listTasks({ service: ids })).filter((t) => t.DesiredState !== 'remove');
          const done = tasks.filter((t) => STOPPED.has(t.Status.State ?? ''));
          first ??= done.sort((a, b) =>
            (a.Status.Timestamp ?? '').localeCompare(b.Status.Timestamp ?? ''),
          )[0];
          if (first && o.downProject) break;
          if (tasks.length > 0 && done.length === tasks.length) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        const code = first?.Status.ContainerStatus?.ExitCode ?? 0;
        process.stdout.write(`${code}\n`);
        if (o.downProject) await removeStack(c, name, (l) => process.stderr.write(`${l}\n`));
        if (code !== 0) throw new CliExit(code);
      });
    });

  compose
    .command('events')
    .description('stream the events of the project’s containers')
    .option('--json', 'one JSON object a line')
    .argument('[service...]')
    .action(async (only: string[], o: { json?: boolean }) => {
      const name = await projectName(p());
      await withLocalClient(g(), async (c) => {
        const label = [`${COMPOSE_PROJECT_LABEL}=${name}`];
        await c.events({ filters: { type: ['container'], label } }, (e) => {
          const actor = (e.Actor ?? {}) as { ID?: string; Attributes?: Record<string, string> };
          const attrs = actor.Attributes ?? {};
          const service = attrs[COMPOSE_SERVICE_LABEL] ?? '';
          if (only.length > 0 && !only.includes(service)) return;
          const time = new Date(Number(e.timeNano ?? 0) / 1e6);
          const action = String(e.Action ?? '');
          if (o.json) {
            process.stdout.write(
              `${JSON.stringify({ action, attributes: attrs, id: actor.ID ?? '', service, time: time.toISOString(), type: 'container' })}\n`,
            );
            return;
          }
          const shown = Object.entries(attrs)
            .filter(([k]) => !k.startsWith('com.docker.') && !k.startsWith('io.skiff.'))
            .map(([k, v]) => `${k}=${v}`)
            .join(', ');
          const stamp = time.toISOString().replace('T', ' ').replace('Z', '000');
          process.stdout.write(
            `${stamp} container ${action} ${actor.ID ?? ''}${shown ? ` (${shown})` : ''}\n`,
          );
        });
      });
    });

  compose
    .command('version')
    .description('show the compose version (skiff’s own)')
    .option('-f, --format <format>', 'pretty or json', 'pretty')
    .option('--short', 'only the version number')
    .action((o: { format: string; short?: boolean }) => {
      const v = skiffVersion();
      if (o.short) return void process.stdout.write(`${v}\n`);
      if (o.format === 'json') return printJson({ version: `v${v}` });
      if (o.format !== 'pretty') throw new CliUsageError(`unknown format "${o.format}": use pretty or json`);
      process.stdout.write(`skiff compose version v${v}\n`);
    });
}

/** `create`: a replicated service at 0 with its count kept for `compose start`; others cannot be held back. */
function heldBack(spec: ServiceSpec): ServiceSpec {
  const replicas = spec.Mode?.Replicated?.Replicas ?? (spec.Mode ? undefined : 1);
  if (replicas === undefined)
    throw new SkiffError(
      'unsupported',
      `compose create cannot hold back ${spec.Name} (not a replicated service) from starting`,
      {
        hint: 'use skiff compose up for global services and jobs',
      },
    );
  return {
    ...spec,
    Labels: { ...spec.Labels, [COMPOSE_STOPPED_REPLICAS_LABEL]: String(replicas) },
    Mode: { Replicated: { Replicas: 0 } },
  };
}

function running(tasks: Task[]): Task[] {
  return tasks
    .filter((t) => t.DesiredState === 'running' && t.Status.State !== 'shutdown')
    .sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0));
}

/** Docker's container states from a task's: created, running, exited… (what compose ls counts). */
function containerState(t: Task): string | undefined {
  const s = t.Status.State ?? 'new';
  if (s === 'running') return 'running';
  if (s === 'complete' || s === 'failed' || s === 'shutdown')
    return t.DesiredState === 'running' ? 'exited' : undefined;
  if (s === 'rejected' || s === 'orphaned' || s === 'remove') return undefined;
  return 'created';
}

/** A service with no container to run (its job done, or scaled to 0). */
function isIdle(s: Service): boolean {
  return s.Spec.Mode?.Replicated?.Replicas === 0;
}

function size(bytes: number): string {
  if (bytes < 1000) return `${bytes}B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)}kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)}MB`;
  return `${(bytes / 1e9).toFixed(2)}GB`;
}

async function waitTasksGone(c: ApiClient, ids: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await c.listTasks()).every((t) => !ids.includes(t.ServiceID))) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stderr.write('warning: some containers were still being removed after 60s\n');
}
