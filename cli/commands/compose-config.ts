// `skiff compose config`: loads the compose files like every compose command does and
// prints the model as docker compose's loader (compose-go) does, so a user can diff it
// against `docker compose config`: env_file and label_file folded in, every declared
// network/volume/secret/config kept, the same flags (--no-normalize, --no-interpolate,
// --hash, --variables, …). Errors print one per line as file:line:col.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import yaml from 'js-yaml';
import {
  type ComposeProject,
  extractVariables,
  formatComposeErrors,
  type LoadOptions,
  loadProject,
  serviceNames,
  toCanonical,
} from '../../compose/index.js';
import { CliExit, CliUsageError, renderTable } from '../output.js';

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
  networks?: boolean;
  images?: boolean;
  profiles?: boolean;
  variables?: boolean;
  environment?: boolean;
  hash?: string;
  quiet?: boolean;
  output?: string;
  consistency: boolean;
  normalize: boolean;
  interpolate: boolean;
  pathResolution: boolean;
  resolveImageDigests?: boolean;
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
    .description('validate the compose files and print the model as docker compose does')
    .argument('[services...]', 'only these services (and what they depend on)')
    .option('-f, --file <file>', 'compose file (repeatable)', collect, [])
    .option('-p, --project-name <name>', 'project name')
    .option('--profile <profile>', 'activate a profile (repeatable)', collect, [])
    .option('--env-file <file>', 'environment file (repeatable)', collect, [])
    .option('--project-directory <dir>', 'project directory (default: the first file’s directory)')
    .option('--format <format>', 'yaml or json', 'yaml')
    .option('-o, --output <file>', 'write the model to this file instead of standard output')
    .option('--services', 'print the service names, one per line')
    .option('--volumes', 'print the volume names, one per line')
    .option('--networks', 'print the network names, one per line')
    .option('--images', 'print the image of each service, one per line')
    .option('--profiles', 'print the profiles the files define, one per line')
    .option('--variables', 'print the variables the files use, with their defaults')
    .option('--environment', 'print the environment used for interpolation')
    .option('--hash <services>', 'print "<service> <hash>" of the services ("*" for all)')
    .option('--no-consistency', 'do not check references between services and resources')
    .option('--no-normalize', 'do not add implied defaults (default network, resource names, …)')
    .option('--no-interpolate', 'do not substitute variables: print the values as written')
    .option('--no-path-resolution', 'keep relative paths relative')
    .option('--resolve-image-digests', 'pin images to their digests (refused: see the message)')
    .option('-q, --quiet', 'only validate; print nothing but errors')
    .action(async (only: string[], o: ConfigOptions) => {
      if (o.format !== 'yaml' && o.format !== 'json') {
        throw new CliUsageError(`unknown format "${o.format}": use yaml or json`);
      }
      if (o.resolveImageDigests) {
        throw new CliUsageError(
          '--resolve-image-digests is not supported: the skiff CLI does not contact registries itself (the nodes pull); pin images with `image: name@sha256:…` in the file instead',
        );
      }
      const base: LoadOptions = {
        files: o.file,
        ...(o.projectDirectory ? { workingDir: o.projectDirectory } : {}),
        ...(o.projectName ? { projectName: o.projectName } : {}),
        envFiles: o.envFile,
        profiles: o.profile,
      };
      if (o.variables) {
        // Variables are read from the files as written: no substitution, no cross-checks.
        const project = await load({ ...base, interpolate: false, consistency: false, keepUnused: true });
        return printVariables(project, o.format);
      }
      if (o.profiles) {
        const project = await load({ ...base, profiles: ['*'], consistency: o.consistency });
        const all = new Set<string>();
        for (const s of Object.values(project.services)) for (const p of s.profiles ?? []) all.add(p);
        return write(
          o,
          [...all]
            .sort()
            .map((p) => `${p}\n`)
            .join(''),
        );
      }
      let project = await load({
        ...base,
        interpolate: o.interpolate,
        normalize: o.normalize,
        consistency: o.consistency,
        resolvePaths: o.pathResolution,
        resolveFiles: true,
        keepUnused: true,
      });
      if (only.length > 0) project = selectServices(project, only);
      if (o.quiet) return;
      if (o.environment) {
        const env = project.environment;
        return write(
          o,
          Object.keys(env)
            .sort()
            .map((k) => `${k}=${env[k]}\n`)
            .join(''),
        );
      }
      if (o.services)
        return write(
          o,
          serviceNames(project)
            .map((s) => `${s}\n`)
            .join(''),
        );
      if (o.volumes) return write(o, lines(Object.keys(project.volumes)));
      if (o.networks) return write(o, lines(Object.keys(project.networks)));
      if (o.images) {
        // A service that is only built gets the name compose gives its image.
        return write(
          o,
          serviceNames(project)
            .map((s) => `${project.services[s]!.image ?? `${project.name}-${s}`}\n`)
            .join(''),
        );
      }
      const canonical = toCanonical(project, { escapeDollars: o.interpolate, json: o.format === 'json' });
      if (o.hash !== undefined) return write(o, hashes(project, canonical, o.hash));
      write(
        o,
        o.format === 'json'
          ? `${JSON.stringify(canonical, null, 2)}\n`
          : yaml.dump(canonical, { lineWidth: -1, noRefs: true }),
      );
    });
}

async function load(opts: LoadOptions): Promise<ComposeProject> {
  const result = await loadProject(opts);
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
  return result.project;
}

function lines(names: string[]): string {
  return names
    .sort()
    .map((n) => `${n}\n`)
    .join('');
}

function write(o: ConfigOptions, text: string): void {
  if (o.output) writeFileSync(o.output, text);
  else process.stdout.write(text);
}

/** The named services and, transitively, what they depend on; an unknown name is an error. */
function selectServices(project: ComposeProject, names: string[]): ComposeProject {
  const keep = new Set<string>();
  const visit = (n: string) => {
    if (keep.has(n)) return;
    keep.add(n);
    for (const d of Object.keys(project.services[n]?.depends_on ?? {})) if (project.services[d]) visit(d);
  };
  for (const n of names) {
    if (!project.services[n]) {
      throw new CliUsageError(
        `no such service: "${n}" (the project has ${serviceNames(project).join(', ') || 'no services'})`,
      );
    }
    visit(n);
  }
  const services = Object.fromEntries(Object.entries(project.services).filter(([n]) => keep.has(n)));
  return { ...project, services };
}

/**
 * `--hash`: one line per service with a digest of its printed configuration, leaving out
 * what does not recreate containers (the replica count). skiff's own digest: it changes
 * when the service's configuration does, but is not byte-equal to docker compose's.
 */
function hashes(project: ComposeProject, canonical: Record<string, unknown>, which: string): string {
  const services = canonical.services as Record<string, Record<string, unknown>>;
  const names = which === '*' ? serviceNames(project) : which.split(',').map((s) => s.trim());
  return names
    .map((n) => {
      const s = services[n];
      if (!s) throw new CliUsageError(`no such service: "${n}"`);
      const { scale: _scale, ...rest } = s;
      if (rest.deploy && typeof rest.deploy === 'object') {
        const { replicas: _r, ...deploy } = rest.deploy as Record<string, unknown>;
        rest.deploy = deploy;
      }
      return `${n} ${createHash('sha256').update(stableJson(rest)).digest('hex')}\n`;
    })
    .join('');
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function printVariables(project: ComposeProject, format: string): void {
  const vars = extractVariables(toCanonical(project, { escapeDollars: false }));
  const list = [...vars.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (format === 'json') {
    const out: Record<string, unknown> = {};
    for (const v of list) {
      out[v.name] = {
        Name: v.name,
        DefaultValue: v.defaultValue,
        PresenceValue: v.alternateValue,
        Required: v.required,
      };
    }
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    renderTable(
      ['NAME', 'REQUIRED', 'DEFAULT VALUE', 'ALTERNATE VALUE'],
      list.map((v) => [v.name, String(v.required), v.defaultValue, v.alternateValue]),
    ),
  );
}
