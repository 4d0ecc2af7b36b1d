// `skiff compose config`: loads the compose files like every compose command does and
// prints the normalized model, so a user sees what skiff understood (and can diff it
// against `docker compose config`). Errors print one per line as file:line:col.

import type { Command } from 'commander';
import yaml from 'js-yaml';
import { formatComposeErrors, loadProject, serviceNames, toCanonical } from '../../compose/index.js';
import { CliExit, CliUsageError } from '../output.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface ConfigOptions {
  file: string[];
  projectName?: string;
  profile: string[];
  envFile: string[];
  projectDirectory?: string;
  format: string;
  services?: boolean;
  volumes?: boolean;
  quiet?: boolean;
}

/** The `compose` parent command, created when no other module has made it yet. */
export function composeCommandOf(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'compose') ??
    program.command('compose').description('run multi-container apps from compose files')
  );
}

export function registerComposeConfig(composeCommand: Command): Command {
  return composeCommand
    .command('config')
    .description('validate the compose files and print the normalized model')
    .option('-f, --file <file>', 'compose file (repeatable)', collect, [])
    .option('-p, --project-name <name>', 'project name')
    .option('--profile <profile>', 'activate a profile (repeatable)', collect, [])
    .option('--env-file <file>', 'environment file (repeatable)', collect, [])
    .option('--project-directory <dir>', 'project directory (default: the first file’s directory)')
    .option('--format <format>', 'yaml or json', 'yaml')
    .option('--services', 'print the service names, one per line')
    .option('--volumes', 'print the volume names, one per line')
    .option('-q, --quiet', 'only validate; print nothing but errors')
    .action(async (o: ConfigOptions) => {
      if (o.format !== 'yaml' && o.format !== 'json') {
        throw new CliUsageError(`unknown format "${o.format}": use yaml or json`);
      }
      const result = await loadProject({
        files: o.file,
        ...(o.projectDirectory ? { workingDir: o.projectDirectory } : {}),
        ...(o.projectName ? { projectName: o.projectName } : {}),
        envFiles: o.envFile,
        profiles: o.profile,
      });
      if (!result.ok) {
        process.stderr.write(`${formatComposeErrors(result.errors)}\n`);
        throw new CliExit(1);
      }
      if (result.warnings.length > 0) {
        const text = formatComposeErrors(result.warnings)
          .split('\n')
          .map((l) => `warning: ${l}`)
          .join('\n');
        process.stderr.write(`${text}\n`);
      }
      if (o.quiet) return;
      if (o.services) {
        for (const s of serviceNames(result.project)) process.stdout.write(`${s}\n`);
        return;
      }
      if (o.volumes) {
        for (const v of Object.keys(result.project.volumes).sort()) process.stdout.write(`${v}\n`);
        return;
      }
      const canonical = toCanonical(result.project);
      if (o.format === 'json') process.stdout.write(`${JSON.stringify(canonical, null, 2)}\n`);
      else process.stdout.write(yaml.dump(canonical, { lineWidth: -1, noRefs: true }));
    });
}
