// `skiff volume ls|inspect|rm|prune`: the named local volumes of the node serving the
// API (the local node by default), through Docker's /volumes endpoints.
import type { Command } from 'commander';
import { SkiffError } from '../../lib/index.js';
import { type GlobalOptions, withClient } from '../context.js';
import { CliExit, CliUsageError, humanSize, labelList, printInspect, printList } from '../output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `label=KEY=VALUE` (or `label=KEY`) filters as Docker's label filter values. */
function labelFilters(filters: string[]): string[] {
  return filters.map((f) => {
    const m = /^label=([^=]+(?:=.*)?)$/.exec(f);
    if (!m) throw new CliUsageError(`unsupported filter "${f}": use label=KEY=VALUE`);
    return m[1]!;
  });
}

export function registerVolume(program: Command): void {
  const volume = program
    .command('volume')
    .description('manage the named local volumes of the node serving the API');
  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  volume
    .command('ls')
    .description('list volumes')
    .option('-q, --quiet', 'only print volume names')
    .option('--format <format>', 'table, json or a Go template')
    .option('-f, --filter <filter>', 'filter (label=KEY=VALUE)', collect, [])
    .action(async (o: { quiet?: boolean; format?: string; filter: string[] }) => {
      const labels = labelFilters(o.filter);
      const vols = await withClient(g(), (c) =>
        c.listVolumesFull(labels.length ? { label: labels } : undefined),
      );
      if (o.quiet) return void process.stdout.write(vols.map((v) => `${v.Name}\n`).join(''));
      printList(
        o.format,
        [
          { header: 'DRIVER', field: 'Driver' },
          { header: 'VOLUME NAME', field: 'Name' },
        ],
        vols.map((v) => [v.Driver, v.Name]),
        vols.map((v) => ({
          // Cluster volumes' fields: a local volume has none (docker's N/A).
          Availability: 'N/A',
          Group: 'N/A',
          Status: 'N/A',
          Labels: labelList(v.Labels),
          Links: v.UsageData ? String(v.UsageData.RefCount) : 'N/A',
          Mountpoint: v.Mountpoint,
          Scope: v.Scope,
          Size: v.UsageData ? humanSize(v.UsageData.Size) : 'N/A',
        })),
      );
    });

  volume
    .command('inspect')
    .description('show volumes in detail (JSON)')
    .argument('<name...>', 'volume names')
    .option('-f, --format <format>', "json or a Go template ('{{.Mountpoint}}')")
    .action(async (names: string[], o: { format?: string }) => {
      const out = await withClient(g(), async (c) => {
        const vols = [];
        for (const n of names) vols.push(await c.inspectVolume(n));
        return vols;
      });
      printInspect(
        o.format,
        out.map(({ UsageData: _usage, ...v }) => v),
      );
    });

  volume
    .command('rm')
    .description('remove volumes (refused while a container uses one)')
    .argument('<name...>', 'volume names')
    .option('-f, --force', 'do not fail on volumes that do not exist')
    .action(async (names: string[], o: { force?: boolean }) => {
      let failed = false;
      await withClient(g(), async (c) => {
        for (const n of names) {
          try {
            await c.removeVolume(n);
            process.stdout.write(`${n}\n`);
          } catch (e) {
            if (o.force && e instanceof SkiffError && e.code === 'not_found') continue;
            failed = true;
            process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
          }
        }
      });
      if (failed) throw new CliExit(1);
    });

  volume
    .command('prune')
    .description('remove every volume no container uses')
    .option('-f, --force', 'do not ask (accepted for docker compatibility; skiff never prompts)')
    .option('--filter <filter>', 'only volumes matching (label=KEY=VALUE)', collect, [])
    .action(async (o: { filter: string[] }) => {
      const labels = labelFilters(o.filter);
      const r = await withClient(g(), (c) => c.pruneVolumes(labels));
      const removed = r.VolumesDeleted ?? [];
      process.stdout.write(
        removed.length > 0 ? `Deleted Volumes:\n${removed.map((n) => `${n}\n`).join('')}` : '',
      );
      process.stdout.write(`\nTotal reclaimed volumes: ${removed.length}\n`);
    });
}
