// `skiff lab up|down|status|env|import`: a cluster of N simulated hosts on this one
// machine, to try multi-host skiff without N machines. Each host is a network
// namespace on a virtual switch (lab/) running a real skiff node: a manager on the
// first (`cluster init`), workers joined with the worker token on the others.
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  checkLabHosts,
  checkLabName,
  createLastingLab,
  destroyLastingLab,
  execOnLabHost,
  type LabNodeRecord,
  type LastingLabRecord,
  leftoversOf,
  readLastingLab,
} from '../../lab/index.js';
import { type Node, SkiffError } from '../../lib/index.js';
import { ApiClient } from '../api/index.js';
import { skiffCommand } from '../entry.js';
import { CliUsageError, parseFormat, printJson, printTable } from '../output.js';

const DEFAULT_NAME = 'lab';
const API_PORT = 2377;

interface NameOption {
  name: string;
}

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .description('try a multi-host cluster on this machine: hosts simulated with network namespaces');
  const nameOption = (c: Command) =>
    c.option('--name <name>', 'which lab (several can run side by side)', DEFAULT_NAME);

  nameOption(lab.command('up'))
    .description('create N hosts, a manager on the first, workers joined on the others')
    .argument('[hosts]', 'how many hosts (1 to 9)', '3')
    .option('--timeout <seconds>', 'how long to wait for every node to be ready', '180')
    .action(async (hostsArg: string, o: NameOption & { timeout: string }) => {
      if (!/^\d+$/.test(hostsArg)) throw new CliUsageError(`hosts must be a number, not "${hostsArg}"`);
      const hosts = Number(hostsArg);
      const timeoutMs = Number(o.timeout) * 1000;
      if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
        throw new CliUsageError(`--timeout must be a number of seconds, not "${o.timeout}"`);
      checkLabName(o.name);
      checkLabHosts(hosts);
      requireRoot();
      const record = await createLastingLab(o.name, hosts);
      try {
        await startCluster(record, timeoutMs);
      } catch (e) {
        destroyLastingLab(o.name);
        throw e;
      }
      await printStatus(record);
      const socket = managerSocket(record);
      process.stdout.write(
        `\nLab "${record.name}" is up: ${hosts} host(s) on ${record.subnet}, reachable from this machine.\n` +
          'Point the CLI at its manager:\n\n' +
          `    export SKIFF_HOST=unix://${socket}     # or: eval "$(skiff lab env${nameFlag(record.name)})"\n` +
          `    skiff -H unix://${socket} node ls\n\n` +
          `Images: the lab has no registry; put one on every host with \`skiff lab import${nameFlag(record.name)} TARBALL REF\`.\n` +
          `Published ports answer on the hosts' addresses (e.g. http://${record.hosts[0]?.addr}:PORT/).\n` +
          `Remove everything with \`skiff lab down${nameFlag(record.name)}\`.\n`,
      );
    });

  nameOption(lab.command('down'))
    .description("stop the lab's nodes and containers and remove its hosts, switch and state")
    .action((o: NameOption) => {
      checkLabName(o.name);
      requireRoot();
      const found = destroyLastingLab(o.name);
      const left = leftoversOf(o.name);
      if (left.length > 0)
        throw new SkiffError(
          'internal',
          `lab "${o.name}" could not be removed entirely: ${left.join(', ')}`,
          {
            hint: `run \`skiff lab down${nameFlag(o.name)}\` again`,
          },
        );
      process.stdout.write(
        found.length > 0 ? `Lab "${o.name}" removed.\n` : `No lab named "${o.name}": nothing to remove.\n`,
      );
    });

  nameOption(lab.command('status'))
    .description("the lab's hosts and the cluster's nodes")
    .option('--format <format>', 'table or json')
    .action(async (o: NameOption & { format?: string }) => {
      const json = parseFormat(o.format) === 'json';
      const record = existingLab(o.name);
      if (json) {
        const nodes = await listNodes(record).catch(() => []);
        printJson({ ...record, socket: managerSocket(record), nodes });
        return;
      }
      await printStatus(record);
    });

  nameOption(lab.command('env'))
    .description('print the line that points the CLI at the lab: eval "$(skiff lab env)"')
    .action((o: NameOption) => {
      process.stdout.write(`export SKIFF_HOST=unix://${managerSocket(existingLab(o.name))}\n`);
    });

  nameOption(lab.command('import'))
    .description("import an image from a root filesystem tarball into every lab host's image store")
    .argument('<tarball>')
    .argument('<reference>', 'name[:tag] for the image')
    .option('--cmd <json>', 'default command, as a JSON array')
    .action(async (tarball: string, ref: string, o: NameOption & { cmd?: string }) => {
      const record = existingLab(o.name);
      await Promise.all(
        record.hosts.map((h) =>
          // Each host's own node, through its API (a worker serves the image endpoints too).
          skiffOn(h, ['image', 'import', ...(o.cmd ? ['--cmd', o.cmd] : []), tarball, ref]),
        ),
      );
      process.stdout.write(`${ref} imported on ${record.hosts.map((h) => h.name).join(', ')}\n`);
    });
}

async function startCluster(record: LastingLabRecord, timeoutMs: number): Promise<void> {
  const [first, ...others] = record.hosts;
  if (!first) return;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`${first.name} (${first.addr}): starting the manager`);
  await skiffOn(first, ['cluster', 'init', '--advertise-addr', first.addr, '--port', String(API_PORT)]);
  const token = await withLabClient(record, async (c) => (await c.swarmInspect()).JoinTokens?.Worker);
  if (!token) throw new SkiffError('internal', 'the lab manager gave no worker join token');
  await Promise.all(
    others.map(async (h) => {
      log(`${h.name} (${h.addr}): joining as a worker`);
      await skiffOn(h, [
        'cluster',
        'join',
        '--advertise-addr',
        h.addr,
        '--token',
        token,
        `${first.addr}:${API_PORT}`,
      ]);
    }),
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nodes = await listNodes(record).catch(() => []);
    if (nodes.filter((n) => n.Status.State === 'ready').length === record.hosts.length) return;
    if (Date.now() > deadline)
      throw new SkiffError(
        'timeout',
        `the lab's nodes were not all ready within ${timeoutMs / 1000}s (${nodes.length} known)`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Runs this skiff program on a lab host, with the host's roots; fails with its stderr. */
async function skiffOn(host: LabNodeRecord, args: string[]): Promise<string> {
  const [cmd, ...pre] = skiffArgv();
  const r = await execOnLabHost(host, cmd, [...pre, ...args], { timeoutMs: 180_000 });
  if (r.code !== 0)
    throw new SkiffError(
      'unavailable',
      `on lab host ${host.name}: skiff ${args.slice(0, 2).join(' ')} failed: ${(r.stderr || r.stdout).trim()}`,
    );
  return r.stdout;
}

/** The command line of this very skiff. */
const skiffArgv = skiffCommand;

async function printStatus(record: LastingLabRecord): Promise<void> {
  const nodes = await listNodes(record).catch(() => [] as Node[]);
  const byAddr = new Map(nodes.map((n) => [n.Status.Addr, n]));
  printTable(
    ['HOST', 'ADDRESS', 'NODE', 'ROLE', 'STATUS'],
    record.hosts.map((h) => {
      const n = byAddr.get(h.addr);
      return [
        h.name,
        h.addr,
        n?.ID.slice(0, 12) ?? '-',
        n?.Spec.Role ?? '-',
        n?.Status.State ?? 'unreachable',
      ];
    }),
  );
}

function listNodes(record: LastingLabRecord): Promise<Node[]> {
  return withLabClient(record, (c) => c.listNodes());
}

async function withLabClient<T>(record: LastingLabRecord, fn: (c: ApiClient) => Promise<T>): Promise<T> {
  const client = new ApiClient({ host: `unix://${managerSocket(record)}`, timeoutMs: 5000 });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

function managerSocket(record: LastingLabRecord): string {
  return join(record.hosts[0]?.runDir ?? '', 'skiff.sock');
}

function existingLab(name: string): LastingLabRecord {
  const record = readLastingLab(name);
  if (!record)
    throw new SkiffError('not_found', `no lab named "${name}" on this machine`, {
      hint: `create one with \`skiff lab up${nameFlag(name)}\``,
    });
  return record;
}

function nameFlag(name: string): string {
  return name === DEFAULT_NAME ? '' : ` --name ${name}`;
}

function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new SkiffError('forbidden', 'the lab makes network namespaces and runs containers: it needs root', {
      hint: 'run it as root (sudo)',
    });
}
