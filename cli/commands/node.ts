// `skiff node …`: the docker node commands, against the manager API.
import type { Command } from 'commander';
import type { Node, NodeSpec, TLSInfo } from '../../lib/index.js';
import { isSkiffError, jsonEqual } from '../../lib/index.js';
import { type GlobalOptions, withClient } from '../context.js';
import { CliUsageError, printInspect, printList, quietLines } from '../output.js';
import { parseFilters, printTasks, type TaskListOptions } from './service.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerNode(program: Command): void {
  const node = program.command('node').description('manage the nodes of a cluster');
  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  node
    .command('ls')
    .description('list nodes')
    .option('-q, --quiet', 'only print IDs')
    .option(
      '-f, --filter <filter>',
      'filter (id=…, name=…, label=…, node.label=…, membership=…, role=…)',
      collect,
      [],
    )
    .option('--format <format>', 'table, json or a Go template')
    .action(async (o: { quiet?: boolean; format?: string; filter: string[] }) => {
      await withClient(g(), async (c) => {
        const nodes = await c.listNodes(parseFilters(o.filter));
        if (o.quiet)
          return void process.stdout.write(
            quietLines(
              nodes.map((n) => n.ID),
              'full',
            ),
          );
        const swarm = await swarmInfo(c);
        printList(
          o.format,
          [
            { header: 'ID', field: 'ID' },
            { header: 'HOSTNAME', field: 'Hostname' },
            { header: 'STATUS', field: 'Status' },
            { header: 'AVAILABILITY', field: 'Availability' },
            { header: 'MANAGER STATUS', field: 'ManagerStatus' },
            { header: 'ENGINE VERSION', field: 'EngineVersion' },
          ],
          nodes.map((n) => [
            `${n.ID}${n.ID === swarm.NodeID ? ' *' : ''}`,
            n.Description?.Hostname ?? '',
            cap(n.Status.State),
            cap(n.Spec.Availability ?? 'active'),
            n.ManagerStatus ? (n.ManagerStatus.Leader ? 'Leader' : cap(n.ManagerStatus.Reachability)) : '',
            n.Description?.Engine?.EngineVersion ?? '',
          ]),
          // docker's row: the ID alone (its table adds the `*`), Self and TLSStatus besides.
          nodes.map((n) => ({
            ID: n.ID,
            Self: n.ID === swarm.NodeID,
            TLSStatus: tlsStatus(n, swarm.Cluster?.TLSInfo),
          })),
        );
      });
    });

  node
    .command('ps')
    .description('list the tasks on nodes (the node the API runs on by default)')
    .argument('[node...]', 'node IDs or hostnames, or self', ['self'])
    .option('-f, --filter <filter>', 'filter (id=…, name=…, label=…, desired-state=…)', collect, [])
    .option('--format <format>', 'table, json or a Go template')
    .option('--no-trunc', 'do not truncate output')
    .option('--no-resolve', 'do not map node IDs to hostnames')
    .option('-q, --quiet', 'only print task IDs')
    .action(async (ids: string[], o: TaskListOptions) => {
      await withClient(g(), async (c) => {
        const nodeIds: string[] = [];
        for (const id of ids) nodeIds.push((await c.inspectNode(await resolve(c, id))).ID);
        await printTasks(c, { ...parseFilters(o.filter), node: nodeIds }, o);
      });
    });

  node
    .command('inspect')
    .description('show nodes in detail (JSON); "self" is the node the API runs on')
    .argument('<node...>', 'node IDs or hostnames, or self')
    .option('-f, --format <format>', "json or a Go template ('{{.Status.Addr}}')")
    .action(async (ids: string[], o: { format?: string }) => {
      await withClient(g(), async (c) =>
        printInspect(o.format, await Promise.all(ids.map(async (id) => c.inspectNode(await resolve(c, id))))),
      );
    });

  node
    .command('update')
    .description("change a node's availability, role or labels")
    .argument('<node>', 'node ID or hostname')
    .option('--availability <state>', 'active, pause or drain')
    .option('--role <role>', 'worker or manager')
    .option('--label-add <key=value>', 'add or change a label (repeatable)', collect, [])
    .option('--label-rm <key>', 'remove a label (repeatable)', collect, [])
    .action(async (id: string, o: UpdateOptions) => {
      await withClient(g(), async (c) => {
        await update(c, id, (spec) => {
          if (o.availability)
            spec.Availability = oneOf(
              o.availability,
              ['active', 'pause', 'drain'] as const,
              '--availability',
            );
          if (o.role) spec.Role = oneOf(o.role, ['worker', 'manager'] as const, '--role');
          const labels = { ...spec.Labels };
          for (const l of o.labelAdd) {
            const i = l.indexOf('=');
            labels[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
          }
          for (const k of o.labelRm) delete labels[k];
          spec.Labels = labels;
        });
        process.stdout.write(`${id}\n`);
      });
    });

  for (const [verb, role] of [
    ['promote', 'manager'],
    ['demote', 'worker'],
  ] as const) {
    node
      .command(verb)
      .description(`make nodes ${role}s`)
      .argument('<node...>')
      .action(async (ids: string[]) => {
        await withClient(g(), async (c) => {
          for (const id of ids) {
            await update(c, id, (spec) => {
              spec.Role = role;
            });
            process.stdout.write(`Node ${id} ${verb}d to a ${role} in the swarm.\n`);
          }
        });
      });
  }

  node
    .command('rm')
    .alias('remove')
    .description('remove nodes from the cluster')
    .option('-f, --force', 'remove a node that is not down')
    .argument('<node...>')
    .action(async (ids: string[], o: { force?: boolean }) => {
      await withClient(g(), async (c) => {
        for (const id of ids) {
          await c.removeNode(await resolve(c, id), o.force ?? false);
          process.stdout.write(`${id}\n`);
        }
      });
    });
}

interface UpdateOptions {
  availability?: string;
  role?: string;
  labelAdd: string[];
  labelRm: string[];
}

/** Conflicts on a node whose spec nobody else changed, before giving up. */
const STATUS_RACE_RETRIES = 5;

async function update(c: Client, id: string, change: (spec: NodeSpec) => void): Promise<Node> {
  const nodeId = await resolve(c, id);
  for (let attempt = 1; ; attempt++) {
    const n = await c.inspectNode(nodeId);
    const spec = structuredClone(n.Spec);
    change(spec);
    try {
      await c.updateNode(n.ID, n.Version.Index, spec);
      return n;
    } catch (e) {
      // A node's version moves with its status too (a heartbeat's state, a role switch
      // under way): a conflict while its spec is still the one read is not someone else's
      // edit, so read it again and go on. A changed spec is a real conflict.
      if (attempt >= STATUS_RACE_RETRIES || !isSkiffError(e) || e.code !== 'conflict') throw e;
      if (!jsonEqual((await c.inspectNode(nodeId)).Spec, n.Spec)) throw e;
    }
  }
}

function oneOf<T extends string>(v: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(v))
    throw new CliUsageError(`${flag}: "${v}" is not one of ${allowed.join(', ')}`);
  return v as T;
}

type Client = import('../api/index.js').ApiClient;

/** What `/info` says of the swarm: the ID of the node the API runs on (docker's "self"), the cluster's TLS. */
async function swarmInfo(c: Client): Promise<{ NodeID?: string; Cluster?: { TLSInfo?: TLSInfo } }> {
  return ((await c.info()).Swarm as { NodeID?: string; Cluster?: { TLSInfo?: TLSInfo } } | undefined) ?? {};
}

async function selfId(c: Client): Promise<string> {
  return (await swarmInfo(c)).NodeID ?? '';
}

/** docker's TLS STATUS: Ready when the node's trust root and issuer are the cluster's. */
function tlsStatus(n: Node, cluster: TLSInfo | undefined): string {
  const tls = n.Description?.TLSInfo;
  const empty = (t: TLSInfo | undefined) => !t?.TrustRoot && !t?.CertIssuerSubject && !t?.CertIssuerPublicKey;
  if (empty(cluster) || empty(tls)) return 'Unknown';
  const same =
    tls?.TrustRoot === cluster?.TrustRoot &&
    tls?.CertIssuerSubject === cluster?.CertIssuerSubject &&
    tls?.CertIssuerPublicKey === cluster?.CertIssuerPublicKey;
  return same ? 'Ready' : 'Needs Rotation';
}

async function resolve(c: Client, id: string): Promise<string> {
  return id === 'self' ? selfId(c) : id;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
