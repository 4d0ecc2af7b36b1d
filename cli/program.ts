import { Command, CommanderError } from 'commander';
import { describeError, isSkiffError } from '../lib/index.js';
import { CliExit, CliUsageError } from './output.js';
import { skiffVersion } from './version.js';

type Register = (program: Command) => void;

// Each command family's module, loaded on demand: a command loads only its own code
// (the CLI's start-up is most of a short command's time), help and completion all.
const FAMILIES: [name: string, load: () => Promise<Register>][] = [
  ['service', async () => (await import('./commands/service.js')).registerService],
  ['daemon', async () => (await import('./commands/daemon.js')).registerDaemon],
  ['stack', async () => (await import('./commands/stack.js')).registerStack],
  ['node', async () => (await import('./commands/node.js')).registerNode],
  ['cluster', async () => (await import('./commands/cluster.js')).registerCluster],
  ['completion', async () => (await import('./commands/completion.js')).registerCompletion],
  ['image', async () => (await import('./commands/image.js')).registerImage],
  ['volume', async () => (await import('./commands/volume.js')).registerVolume],
  ['lab', async () => (await import('./commands/lab.js')).registerLab],
  ['dashboard', async () => (await import('./commands/dashboard.js')).registerDashboard],
  [
    'compose',
    async () => {
      const [compose, config] = await Promise.all([
        import('./commands/compose.js'),
        import('./commands/compose-config.js'),
      ]);
      return (program) => config.registerComposeConfig(compose.registerCompose(program));
    },
  ],
];
/** Top-level commands registered by another family's module. */
const REGISTERED_BY: Record<string, string> = { login: 'image' };
const GLOBAL_FLAGS_WITH_VALUE = new Set(['-H', '--host', '--tlscacert', '--tlscert', '--tlskey']);

/** The family a command line runs, or undefined when it needs them all (help, completion, typos). */
export function familyOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (GLOBAL_FLAGS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    const family = REGISTERED_BY[a] ?? a;
    return family !== 'completion' && FAMILIES.some(([name]) => name === family) ? family : undefined;
  }
  return undefined;
}

// commander: a well-kept argument parser with subcommands, generated help and
// typed options; parsing flags is not the heart of skiff.
/** The whole command tree, or only `family`'s commands (plus `version`). */
export async function buildProgram(family?: string): Promise<Command> {
  const program = new Command('skiff')
    .description('Docker Swarm mode and Docker Compose in one tool, with the container stack built in.')
    .version(skiffVersion(), '-v, --version', 'print the version')
    .option('-H, --host <host>', 'manager to talk to: unix:///path or tcp://host:port (env SKIFF_HOST)')
    .option('--tlscacert <file>', 'the cluster CA certificate, for a manager on tcp://')
    .option('--tlscert <file>', "a manager's client certificate, for a manager on tcp://")
    .option('--tlskey <file>', 'the key of --tlscert')
    .exitOverride()
    // Global flags go before the command, as with docker (`skiff -H tcp://m:2375 service ls`),
    // so subcommands may reuse letters (compose's -f for files, logs' -f for follow).
    .enablePositionalOptions();

  program
    .command('version')
    .description('show the skiff version')
    .option('--format <format>', 'output format: text or json', 'text')
    .action((opts: { format: string }) => {
      const v = { Version: skiffVersion(), Node: process.version, Os: process.platform, Arch: process.arch };
      if (opts.format === 'json') process.stdout.write(`${JSON.stringify(v)}\n`);
      else process.stdout.write(`skiff ${v.Version} (node ${v.Node}, ${v.Os}/${v.Arch})\n`);
    });

  const wanted = FAMILIES.filter(([name]) => family === undefined || name === family);
  const registers = await Promise.all(wanted.map(([, load]) => load()));
  for (const register of registers) register(program);

  // A usage error names the command's usage line (commander prints the error itself).
  for (const cmd of allCommands(program)) cmd.showHelpAfterError(usageLines(cmd));
  program.hook('preAction', (_self, action) => {
    running = action;
  });
  return program;
}

/** The command whose action runs, for the usage line of a usage error it throws. */
let running: Command | undefined;

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** "Usage: skiff compose exec [options] <service> <command...>" and where the help is. */
export function usageLines(cmd: Command): string {
  const path = commandPath(cmd);
  return `Usage: ${path} ${cmd.usage()}\nSee '${path} --help'.`;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = await buildProgram(familyOf(argv));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CliExit) return e.exitCode;
    if (e instanceof CliUsageError) {
      process.stderr.write(`error: ${e.message}\n${usageLines(running ?? program)}\n`);
      return 2;
    }
    if (e instanceof CommanderError) {
      // help and --version exit through here with code 0; usage errors with 2.
      return e.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`error: ${describeError(e)}\n`);
    if (isSkiffError(e) && e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    return 1;
  }
}
