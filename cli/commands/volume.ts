// `skiff volume ls|inspect|rm|prune`: a node's named local volumes, read and changed
// directly in its state directory (no manager involved: volumes are node-local).
import { join } from 'node:path';
import type { Command } from 'commander';
import { VolumeManager } from '../../agent/volume/index.js';
import { SkiffError } from '../../lib/index.js';
import { CliExit, CliUsageError, parseFormat, printJson, printTable } from '../output.js';

import { DEFAULT_ROOT } from './image.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface RootOption {
  root: string;
}

function manager(o: RootOption): VolumeManager {
  return new VolumeManager({ root: join(o.root, 'volumes') });
}

function labelFilters(filters: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const f of filters) {
    const m = /^label=([^=]+)(?:=(.*))?$/.exec(f);
    if (!m) throw new CliUsageError(`unsupported filter "${f}": use label=KEY=VALUE`);
    labels[m[1]!] = m[2] ?? '';
  }
  return labels;
}

export function registerVolume(program: Command): void {
  const volume = program.command('volume').description("manage a node's named local volumes");
  const rootOption = ['--root <dir>', "the node's state directory", DEFAULT_ROOT] as const;

  volume
    .command('ls')
    .description('list volumes')
    .option(...rootOption)
    .option('-q, --quiet', 'only print volume names')
    .option('--format <format>', 'table or json')
    .option('-f, --filter <filter>', 'filter (label=KEY=VALUE)', collect, [])
    .action(async (o: RootOption & { quiet?: boolean; format?: string; filter: string[] }) => {
      const want = Object.entries(labelFilters(o.filter));
      const vols = (await manager(o).list()).filter((v) => want.every(([k, val]) => v.Labels[k] === val));
      if (o.quiet) return void process.stdout.write(vols.map((v) => `${v.Name}\n`).join(''));
      if (parseFormat(o.format) === 'json') return printJson(vols);
      printTable(
        ['DRIVER', 'VOLUME NAME'],
        vols.map((v) => [v.Driver, v.Name]),
      );
    });

  volume
    .command('inspect')
    .description('show volumes in detail (JSON)')
    .argument('<name...>', 'volume names')
    .option(...rootOption)
    .action(async (names: string[], o: RootOption) => {
      const vm = manager(o);
      const out = [];
      for (const n of names) out.push(await vm.inspect(n));
      printJson(out);
    });

  volume
    .command('rm')
    .description('remove volumes (refused while a container uses one)')
    .argument('<name...>', 'volume names')
    .option(...rootOption)
    .option('-f, --force', 'do not fail on volumes that do not exist')
    .action(async (names: string[], o: RootOption & { force?: boolean }) => {
      const vm = manager(o);
      let failed = false;
      for (const n of names) {
        try {
          await vm.remove(n);
          process.stdout.write(`${n}\n`);
        } catch (e) {
          if (o.force && e instanceof SkiffError && e.code === 'not_found') continue;
          failed = true;
          process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
        }
      }
      if (failed) throw new CliExit(1);
    });

  volume
    .command('prune')
    .description('remove every volume no container uses')
    .option(...rootOption)
    .option('-f, --force', 'do not ask (accepted for docker compatibility; skiff never prompts)')
    .option('--filter <filter>', 'only volumes matching (label=KEY=VALUE)', collect, [])
    .action(async (o: RootOption & { filter: string[] }) => {
      const removed = await manager(o).prune({ labels: labelFilters(o.filter) });
      process.stdout.write(
        removed.length > 0 ? `Deleted Volumes:\n${removed.map((n) => `${n}\n`).join('')}` : '',
      );
      process.stdout.write(`\nTotal reclaimed volumes: ${removed.length}\n`);
    });
}
