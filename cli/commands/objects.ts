// `skiff network|secret|config ls|create|inspect|rm`: the cluster's networks, secrets and
// configs through Docker's /networks, /secrets and /configs endpoints, as docker's
// commands of the same names (a stack's own are created and removed by its deploys).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type GlobalOptions, withClient } from '../context.js';
import {
  ago,
  CliUsageError,
  goTime,
  labelList,
  printInspect,
  printList,
  quietLines,
  readStdin,
  shortId,
} from '../output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function labelsOf(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    if (eq === 0) throw new CliUsageError(`bad label "${l}": use KEY=VALUE`);
    if (eq === -1) out[l] = '';
    else out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return out;
}

function filtersOf(list: string[]): Record<string, string[]> | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, string[]> = {};
  for (const f of list) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new CliUsageError(`bad filter "${f}": use KEY=VALUE (name=…, label=…, id=…)`);
    const k = f.slice(0, eq);
    out[k] = [...(out[k] ?? []), f.slice(eq + 1)];
  }
  return out;
}

export function registerNetwork(program: Command): void {
  const g = (): GlobalOptions => program.opts<GlobalOptions>();
  const network = program.command('network').description('manage the networks of a cluster');

  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'only print IDs')
    .option('--no-trunc', 'do not truncate IDs')
    .option('-f, --filter <filter>', 'filter (name=…, label=…, driver=…, id=…)', collect, [])
    .option('--format <format>', 'table, json or a Go template')
    .action(async (o: { quiet?: boolean; trunc: boolean; filter: string[]; format?: string }) => {
      await withClient(g(), async (c) => {
        const nets = await c.listNetworks(filtersOf(o.filter));
        nets.sort((a, b) => a.Name.localeCompare(b.Name));
        const id = (s: string) => (o.trunc ? shortId(s) : s);
        if (o.quiet)
          return void process.stdout.write(
            quietLines(
              nets.map((n) => n.Id),
              'trunc',
              o.trunc,
            ),
          );
        printList(
          o.format,
          [
            { header: 'NETWORK ID', field: 'ID' },
            { header: 'NAME', field: 'Name' },
            { header: 'DRIVER', field: 'Driver' },
            { header: 'SCOPE', field: 'Scope' },
          ],
          nets.map((n) => [id(n.Id), n.Name, n.Driver ?? '', n.Scope ?? '']),
          nets.map((n) => ({
            CreatedAt: goTime(n.Created),
            // skiff's networks are IPv4 and say nothing of it; docker prints the API's EnableIPv4.
            IPv4: String((n as { EnableIPv4?: boolean }).EnableIPv4 === true),
            IPv6: String(n.EnableIPv6 === true),
            Internal: String(n.Internal === true),
            Labels: labelList(n.Labels),
          })),
        );
      });
    });

  network
    .command('create')
    .description('create a network (overlay by default)')
    .argument('<name>')
    .option('-d, --driver <driver>', 'network driver', 'overlay')
    .option('--attachable', 'let containers outside services attach')
    .option('--internal', 'no route to the outside')
    .option('--subnet <cidr>', 'subnet (repeatable)', collect, [])
    .option('--gateway <ip>', 'gateway (repeatable, one per subnet)', collect, [])
    .option('-o, --opt <key=value>', 'driver option (repeatable)', collect, [])
    .option('-l, --label <key=value>', 'label (repeatable)', collect, [])
    .action(
      async (
        name: string,
        o: {
          driver: string;
          attachable?: boolean;
          internal?: boolean;
          subnet: string[];
          gateway: string[];
          opt: string[];
          label: string[];
        },
      ) => {
        if (o.gateway.length > o.subnet.length)
          throw new CliUsageError('every --gateway needs a --subnet it belongs to');
        await withClient(g(), async (c) => {
          const r = await c.createNetwork({
            Name: name,
            Driver: o.driver,
            Labels: labelsOf(o.label),
            Options: labelsOf(o.opt),
            ...(o.attachable ? { Attachable: true } : {}),
            ...(o.internal ? { Internal: true } : {}),
            ...(o.subnet.length > 0
              ? {
                  IPAM: {
                    Config: o.subnet.map((s, i) => ({
                      Subnet: s,
                      ...(o.gateway[i] ? { Gateway: o.gateway[i] } : {}),
                    })),
                  },
                }
              : {}),
          });
          process.stdout.write(`${r.Id}\n`);
        });
      },
    );

  network
    .command('inspect')
    .description('show networks in detail (JSON)')
    .argument('<network...>', 'names or IDs')
    .option('-f, --format <format>', "json or a Go template ('{{.IPAM.Config}}')")
    .action(async (ids: string[], o: { format?: string }) => {
      await withClient(g(), async (c) =>
        printInspect(o.format, await Promise.all(ids.map((id) => c.inspectNetwork(id)))),
      );
    });

  network
    .command('prune')
    .description('remove the networks no service uses')
    .option('-f, --force', 'do not ask (accepted for docker compatibility; skiff never prompts)')
    .option('--filter <filter>', 'only networks matching (label=…, label!=…, until=24h)', collect, [])
    .action(async (o: { filter: string[] }) => {
      await withClient(g(), async (c) => {
        const r = await c.pruneNetworks(filtersOf(o.filter));
        const gone = r.NetworksDeleted ?? [];
        if (gone.length > 0) process.stdout.write(`Deleted Networks:\n${gone.map((n) => `${n}\n`).join('')}`);
      });
    });

  network
    .command('rm')
    .alias('remove')
    .description('remove networks')
    .argument('<network...>', 'names or IDs')
    .action(async (ids: string[]) => {
      await withClient(g(), async (c) => {
        for (const id of ids) {
          await c.removeNetwork(id);
          process.stdout.write(`${id}\n`);
        }
      });
    });
}

/** `secret` and `config` share their commands; a config's data may be shown, a secret's never is. */
function registerSwarmObjects(program: Command, kind: 'secret' | 'config'): void {
  const g = (): GlobalOptions => program.opts<GlobalOptions>();
  const cmd = program
    .command(kind)
    .description(kind === 'secret' ? 'manage the secrets of a cluster' : 'manage the configs of a cluster');

  cmd
    .command('ls')
    .alias('list')
    .description(`list ${kind}s`)
    .option('-q, --quiet', 'only print IDs')
    .option('-f, --filter <filter>', 'filter (name=…, label=…, id=…)', collect, [])
    .option('--format <format>', 'table, json or a Go template')
    .action(async (o: { quiet?: boolean; filter: string[]; format?: string }) => {
      await withClient(g(), async (c) => {
        const f = filtersOf(o.filter);
        const list = await (kind === 'secret' ? c.listSecrets(f) : c.listConfigs(f));
        list.sort((a, b) => (a.Spec.Name ?? '').localeCompare(b.Spec.Name ?? ''));
        if (o.quiet)
          return void process.stdout.write(
            quietLines(
              list.map((s) => s.ID),
              'full',
            ),
          );
        printList(
          o.format,
          [
            { header: 'ID', field: 'ID' },
            { header: 'NAME', field: 'Name' },
            { header: 'CREATED', field: 'CreatedAt' },
            { header: 'UPDATED', field: 'UpdatedAt' },
          ],
          list.map((s) => {
            const o2 = s as { CreatedAt?: string; UpdatedAt?: string };
            return [s.ID, s.Spec.Name ?? '', ago(o2.CreatedAt), ago(o2.UpdatedAt)];
          }),
          list.map((s) => ({
            Labels: labelList(s.Spec.Labels),
            // A secret's row names its driver (none: ''); a config's has no such field.
            ...(kind === 'secret'
              ? { Driver: (s.Spec as { Driver?: { Name?: string } }).Driver?.Name ?? '' }
              : {}),
          })),
        );
      });
    });

  cmd
    .command('create')
    .description(`create a ${kind} from a file, or from standard input with "-"`)
    .argument('<name>')
    .argument('<file>', 'file with the data, or - for standard input')
    .option('-l, --label <key=value>', 'label (repeatable)', collect, [])
    .option('--template-driver <driver>', 'template driver (golang)')
    .action(async (name: string, file: string, o: { label: string[]; templateDriver?: string }) => {
      let data: Buffer;
      try {
        data = file === '-' ? Buffer.from(await readStdin()) : readFileSync(file);
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw new CliUsageError(
          `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(e)}`,
        );
      }
      const spec = {
        Name: name,
        Labels: labelsOf(o.label),
        Data: data.toString('base64'),
        ...(o.templateDriver ? { Templating: { Name: o.templateDriver } } : {}),
      };
      await withClient(g(), async (c) => {
        const r = await (kind === 'secret' ? c.createSecret(spec) : c.createConfig(spec));
        process.stdout.write(`${r.ID}\n`);
      });
    });

  cmd
    .command('inspect')
    .description(`show ${kind}s in detail (JSON)`)
    .argument(`<${kind}...>`, 'names or IDs')
    .option('-f, --format <format>', "json or a Go template ('{{.Spec.Name}}')")
    .action(async (ids: string[], o: { format?: string }) => {
      await withClient(g(), async (c) =>
        printInspect(
          o.format,
          await Promise.all(ids.map((id) => (kind === 'secret' ? c.inspectSecret(id) : c.inspectConfig(id)))),
        ),
      );
    });

  cmd
    .command('rm')
    .alias('remove')
    .description(`remove ${kind}s`)
    .argument(`<${kind}...>`, 'names or IDs')
    .action(async (ids: string[]) => {
      await withClient(g(), async (c) => {
        for (const id of ids) {
          await (kind === 'secret' ? c.removeSecret(id) : c.removeConfig(id));
          process.stdout.write(`${id}\n`);
        }
      });
    });
}

export function registerSecret(program: Command): void {
  registerSwarmObjects(program, 'secret');
}

export function registerConfig(program: Command): void {
  registerSwarmObjects(program, 'config');
}
