// `skiff system events|info|health|df|prune`: what the node serving the API is doing,
// whether it works and what its disk holds, as `docker system …` shows it.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { SystemDiskUsage, SystemPruneResult } from '../../lib/index.js';
import { parseDurationNs } from '../../lib/index.js';
import { type GlobalOptions, withClient } from '../context.js';
import {
  ago,
  CliExit,
  CliUsageError,
  humanSize,
  parseFormat,
  printJson,
  renderTable,
  shortId,
} from '../output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Docker's --since/--until: unix seconds (with a fraction), an RFC 3339 date, or a
 * duration back from now (`10m`, `1h30m`); answers unix seconds as the API takes them.
 */
export function eventTime(value: string, flag: string, now = Date.now()): string {
  if (/^\d+(\.\d{1,9})?$/.test(value)) return value;
  const ns = parseDurationNs(value);
  if (ns !== undefined) return secondsOf(now - ns / 1e6);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (!Number.isNaN(ms)) return secondsOf(ms);
  throw new CliUsageError(
    `${flag}: "${value}" is not a time: give unix seconds, an RFC 3339 date (2026-01-02T15:04:05Z) or a duration back from now (10m)`,
  );
}

function secondsOf(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/** `key=value` filters, several values per key as Docker takes them. */
export function eventFilters(list: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of list) {
    const i = f.indexOf('=');
    if (i <= 0) throw new CliUsageError(`--filter: "${f}" is not KEY=VALUE (e.g. type=service)`);
    const key = f.slice(0, i);
    out[key] = [...(out[key] ?? []), f.slice(i + 1)];
  }
  return out;
}

interface EventLine {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

/** Docker's text line: `TIME TYPE ACTION ID (attr=value, …)`. */
export function eventText(e: EventLine): string {
  // Nanoseconds past 2^53 are not exact in a number; the events carry milliseconds anyway.
  const ms = Math.round(e.timeNano !== undefined ? e.timeNano / 1e6 : (e.time ?? 0) * 1000);
  const when = `${new Date(ms - (ms % 1000)).toISOString().slice(0, 19)}.${String(ms % 1000).padStart(3, '0')}000000Z`;
  const attrs = Object.entries(e.Actor?.Attributes ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `${when} ${e.Type ?? ''} ${e.Action ?? ''} ${e.Actor?.ID ?? ''}${attrs ? ` (${attrs})` : ''}`;
}

/** `skiff system df`: one row per kind of thing on the node's disk. */
export function diskUsageTable(du: SystemDiskUsage): string {
  return renderTable(
    ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
    du.Usage.map((r) => [
      r.Type,
      String(r.Total),
      String(r.Active),
      humanSize(r.Size),
      `${humanSize(r.Reclaimable)} (${r.Size > 0 ? Math.round((100 * r.Reclaimable) / r.Size) : 0}%)`,
    ]),
  );
}

/** `skiff system df -v`: the images, containers and volumes one by one. */
export function diskUsageVerbose(du: SystemDiskUsage, now = Date.now()): string {
  const when = (unix: number) => (unix > 0 ? ago(new Date(unix * 1000).toISOString(), now) : '');
  const state = du.Usage.find((r) => r.Type === 'State');
  const logs = du.Usage.find((r) => r.Type === 'Logs');
  const images = renderTable(
    ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'],
    du.Images.flatMap((i) => {
      const tags = i.RepoTags.length > 0 ? i.RepoTags : ['<none>:<none>'];
      return tags.map((t) => {
        const at = t.lastIndexOf(':');
        return [
          at > 0 ? t.slice(0, at) : t,
          at > 0 ? t.slice(at + 1) : '<none>',
          shortId(i.Id.replace(/^sha256:/, '')),
          when(i.Created),
          humanSize(i.Size),
          humanSize(i.SharedSize),
          humanSize(i.Size - i.SharedSize),
          String(i.Containers),
        ];
      });
    }),
  );
  const containers = renderTable(
    ['CONTAINER ID', 'IMAGE', 'SIZE', 'LOGS', 'CREATED', 'STATE', 'TASK', 'NAMES'],
    du.Containers.map((c) => [
      shortId(c.Id),
      c.Image.startsWith('sha256:') ? shortId(c.Image.slice(7)) : c.Image,
      humanSize(c.SizeRw),
      humanSize(c.LogSize),
      when(c.Created),
      c.State,
      c.Task ? 'yes' : 'no',
      c.Names.map((n) => n.replace(/^\//, '')).join(','),
    ]),
  );
  const volumes = renderTable(
    ['VOLUME NAME', 'LINKS', 'SIZE'],
    du.Volumes.map((v) => [v.Name, String(v.UsageData.RefCount), humanSize(v.UsageData.Size)]),
  );
  return [
    `State (raft) space usage: ${humanSize(state?.Size ?? 0)}\n`,
    `Images space usage:\n\n${images}`,
    `Containers space usage:\n\n${containers}`,
    `Local Volumes space usage:\n\n${volumes}`,
    `Logs space usage: ${humanSize(logs?.Size ?? 0)} (daemon log and containers' logs)\n`,
  ].join('\n');
}

/** Docker's prune report: what went, then the space it gave back. */
export function pruneReport(r: SystemPruneResult): string {
  const out: string[] = [];
  const section = (title: string, lines: string[]) => {
    if (lines.length > 0) out.push(`${title}:\n${lines.join('\n')}\n`);
  };
  section('Deleted Containers', r.ContainersDeleted);
  section('Deleted Networks', r.NetworksDeleted);
  section(
    'Deleted Images',
    r.ImagesDeleted.map((d) => (d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted ?? ''}`)),
  );
  section('Deleted Volumes', r.VolumesDeleted);
  out.push(`Total reclaimed space: ${humanSize(r.SpaceReclaimed)}`);
  return `${out.join('\n')}\n`;
}

/** What `system prune` is about to remove, as docker's warning lists it. */
export function pruneWarning(o: { all: boolean; volumes: boolean }): string {
  return [
    'WARNING! This will remove:',
    '  - all stopped containers that no task owns',
    '  - all networks set up on this node that no container uses',
    ...(o.volumes ? ['  - all volumes not used by at least one container'] : []),
    o.all ? '  - all images without at least one container associated to them' : '  - all dangling images',
    '',
    'Are you sure you want to continue? [y/N] ',
  ].join('\n');
}

/** One answer line from stdin; no answer (end of input) is no. */
async function confirmed(question: string): Promise<boolean> {
  process.stderr.write(question);
  const rl = createInterface({ input: process.stdin });
  try {
    const line = await new Promise<string>((done) => {
      rl.once('line', done);
      rl.once('close', () => done(''));
    });
    return /^y(es)?$/i.test(line.trim());
  } finally {
    rl.close();
  }
}

export function registerSystem(program: Command): void {
  const system = program
    .command('system')
    .description('what the node serving the API is doing, and whether it works');
  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  system
    .command('events')
    .description("stream the cluster's and this node's events as they happen (docker system events)")
    .option('--since <time>', 'also show events since this time (unix seconds, RFC 3339, or a duration: 10m)')
    .option('--until <time>', 'stop at this time')
    .option(
      '-f, --filter <filter>',
      'KEY=VALUE: type, event, service, node, network, secret, config, container, label, scope',
      collect,
      [],
    )
    .option('--format <format>', 'json: one event per line as the API sends it')
    .action(async (o: { since?: string; until?: string; filter: string[]; format?: string }) => {
      const json = parseFormat(o.format) === 'json';
      const now = Date.now();
      const query = {
        ...(o.since ? { since: eventTime(o.since, '--since', now) } : {}),
        ...(o.until ? { until: eventTime(o.until, '--until', now) } : {}),
        filters: eventFilters(o.filter),
      };
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await withClient(g(), (c) =>
          c.events(
            query,
            (e) => process.stdout.write(`${json ? JSON.stringify(e) : eventText(e as EventLine)}\n`),
            abort.signal,
          ),
        );
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });

  system
    .command('info')
    .description('show what the node serving the API is and runs (docker system info)')
    .option('--format <format>', 'table or json')
    .action(async (o: { format?: string }) => {
      const info = await withClient(g(), (c) => c.info());
      if (parseFormat(o.format) === 'json') return printJson(info);
      const swarm = (info.Swarm ?? {}) as Record<string, unknown>;
      const cluster = (swarm.Cluster ?? {}) as Record<string, unknown>;
      const lines: [string, unknown][] = [
        ['Server Version', info.ServerVersion],
        ['Name', info.Name],
        ['Node ID', swarm.NodeID],
        ['Cluster ID', cluster.ID],
        ['Swarm', swarm.LocalNodeState],
        ['Is Manager', swarm.ControlAvailable],
        ['Managers', swarm.Managers],
        ['Nodes', swarm.Nodes],
        ['Containers', info.Containers],
        [' Running', info.ContainersRunning],
        [' Stopped', info.ContainersStopped],
        ['Images', info.Images],
        ['Storage Driver', info.Driver],
        ['Logging Driver', info.LoggingDriver],
        ['Cgroup Driver', info.CgroupDriver],
        ['Cgroup Version', info.CgroupVersion],
        ['Default Runtime', info.DefaultRuntime],
        ['Init Binary', info.InitBinary],
        ['Kernel Version', info.KernelVersion],
        ['Architecture', info.Architecture],
        ['CPUs', info.NCPU],
        [
          'Total Memory',
          typeof info.MemTotal === 'number' ? `${(info.MemTotal / 2 ** 30).toFixed(1)}GiB` : '',
        ],
        ['Root Dir', info.DockerRootDir],
      ];
      for (const [k, v] of lines)
        if (v !== undefined && v !== '') process.stdout.write(`${k}: ${String(v)}\n`);
    });

  system
    .command('health')
    .description("whether the node's raft, store, agent and runtime work (exit status 1 when not)")
    .option('--format <format>', 'table or json')
    .action(async (o: { format?: string }) => {
      const h = await withClient(g(), (c) => c.health());
      if (parseFormat(o.format) === 'json') printJson(h.body);
      else {
        const checks = (h.body.checks ?? {}) as Record<string, { ok: boolean; message?: string }>;
        process.stdout.write(`${h.status === 200 ? 'healthy' : 'unhealthy'}\n`);
        for (const [name, c] of Object.entries(checks))
          process.stdout.write(
            `  ${name}: ${c.ok ? 'ok' : 'failing'}${c.message ? ` (${c.message})` : ''}\n`,
          );
      }
      if (h.status !== 200) throw new CliExit(1);
    });

  system
    .command('df')
    .description(
      "show what the node's disk holds: state, images, containers, volumes, logs (docker system df)",
    )
    .option('-v, --verbose', 'show each image, container and volume')
    .option('--format <format>', 'table or json')
    .action(async (o: { verbose?: boolean; format?: string }) => {
      const du = await withClient(g(), (c) => c.diskUsage());
      if (parseFormat(o.format) === 'json') return printJson(o.verbose ? du : du.Usage);
      process.stdout.write(o.verbose ? diskUsageVerbose(du) : diskUsageTable(du));
    });

  system
    .command('prune')
    .description(
      'remove stopped containers no task owns, unused networks and dangling images of the node (docker system prune)',
    )
    .option('-a, --all', 'remove every image no container uses, not only dangling ones')
    .option('--volumes', 'remove volumes no container uses too')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--format <format>', 'table or json')
    .action(async (o: { all?: boolean; volumes?: boolean; force?: boolean; format?: string }) => {
      const opts = { all: o.all === true, volumes: o.volumes === true };
      const json = parseFormat(o.format) === 'json';
      if (!o.force && !(await confirmed(pruneWarning(opts)))) {
        process.stderr.write('Nothing removed.\n');
        return;
      }
      const r = await withClient(g(), (c) => c.systemPrune(opts));
      if (json) return printJson(r);
      process.stdout.write(pruneReport(r));
    });
}
