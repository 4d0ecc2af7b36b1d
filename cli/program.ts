import { Command, CommanderError } from 'commander';
import { describeError, isSkiffError } from '../lib/index.js';
import { COMMAND_FAMILIES } from './commands/index.js';
import { familyOf } from './family.js';
import { CliExit, CliFailure, CliUsageError } from './output.js';
import { skiffVersion } from './version.js';

export { familyOf };

// commander is imported (not required) so that the CLI's bundle carries it: ~12 ms of every
// command's start went to resolving and compiling its files from node_modules.

// commander: a well-kept argument parser with subcommands, generated help and
// typed options; parsing flags is not the heart of skiff.
/** The whole command tree, or only `family`'s commands (plus `version`). */
export async function buildProgram(family?: string): Promise<Command> {
  const program = new Command('skiff')
    .description('Docker Swarm mode and Docker Compose in one tool, with the container stack built in.')
    .version(skiffVersion(), '-v, --version', 'print the version')
    .option('-H, --host <host>', 'manager to talk to: unix:///path or tcp://host:port (env SKIFF_HOST)')
    .option('-c, --context <name>', 'context to use (env SKIFF_CONTEXT; see skiff context)')
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

  const wanted = COMMAND_FAMILIES.filter(([name]) => family === undefined || name === family);
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
    const error = e instanceof CliFailure ? e.error : e;
    process.stderr.write(`error: ${describeError(error)}\n`);
    if (isSkiffError(error) && error.hint) process.stderr.write(`hint: ${error.hint}\n`);
    return e instanceof CliFailure ? e.exitCode : 1;
  }
}
