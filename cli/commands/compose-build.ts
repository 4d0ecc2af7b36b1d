// `skiff compose build` and the builds of `compose up`: each service with a `build:`
// section is built on the node the CLI talks to (its context sent as a tar, as docker's
// CLI does) and tagged with the service's image name (`image:`, else <project>-<service>).
// What the builder cannot honour of a `build:` section is refused by name.
import type { Command } from 'commander';
import {
  type ComposeProject,
  formatComposeErrors,
  loadProject,
  projectToStack,
} from '../../compose/index.js';
import { COMPOSE_IMAGE_LABEL, type ServiceSpec, SkiffError } from '../../lib/index.js';
import type { ApiClient } from '../api/index.js';
import type { GlobalOptions } from '../context.js';
import { CliExit } from '../output.js';
import { loadOptions, type ProjectOptions, shortName, withLocalClient } from './compose.js';

export interface BuildFlags {
  noCache?: boolean;
  pull?: boolean;
  quiet?: boolean;
}

/** The keys of compose's `build:` that skiff's builder honours; any other is refused by name. */
const HONOURED = new Set([
  'context',
  'dockerfile',
  'dockerfile_inline',
  'args',
  'labels',
  'target',
  'no_cache',
  'pull',
  'tags',
  'secrets',
  'ssh',
]);

interface Buildable {
  service: string;
  image: string;
  /** Whether the file names the image (`image:`); else it is `<project>-<service>`, which compose push skips. */
  named: boolean;
  build: NonNullable<ComposeProject['services'][string]['build']>;
  /** Where the build's secrets come from. */
  project: Pick<ComposeProject, 'secrets' | 'environment' | 'workingDir'>;
}

export function registerComposeBuild(
  compose: Command,
  g: () => GlobalOptions,
  p: () => ProjectOptions,
): void {
  compose
    .command('build')
    .description('build the images of the project’s services that have a build section, on the node')
    .argument('[service...]', 'only these services')
    .option('--no-cache', 'do not use a build cache')
    .option('--pull', 'pull newer versions of the base images first')
    .option('-q, --quiet', 'print nothing but errors')
    .action(async (only: string[], o: { cache?: boolean; pull?: boolean; quiet?: boolean }) => {
      const targets = await buildables(p(), only);
      if (targets.length === 0) {
        process.stderr.write('No service of the project has a build section\n');
        return;
      }
      await withLocalClient(g(), async (c) => {
        for (const t of targets)
          await buildOne(c, t, {
            noCache: o.cache === false,
            pull: o.pull ?? false,
            quiet: o.quiet ?? false,
          });
      });
    });
}

/** The services of the project (or `only` those) that have a build section, with their image names. */
export async function buildables(o: ProjectOptions, only: string[] = []): Promise<Buildable[]> {
  const result = await loadProject(loadOptions(o));
  if (!result.ok) {
    process.stderr.write(`${formatComposeErrors(result.errors)}\n`);
    throw new CliExit(1);
  }
  const project = result.project;
  const stack = projectToStack(project);
  const unknown = only.filter((s) => !(s in project.services));
  if (unknown.length)
    throw new SkiffError('not_found', `no such service: ${unknown.join(', ')}`, {
      hint: `the project has: ${Object.keys(project.services).join(', ')}`,
    });
  const out: Buildable[] = [];
  for (const spec of stack.services) {
    const service = shortName(stack.namespace, spec.Name);
    const build = project.services[service]?.build;
    const image = spec.TaskTemplate?.ContainerSpec?.Image;
    if (!build || !image || (only.length > 0 && !only.includes(service))) continue;
    out.push({
      service,
      image,
      build,
      named: project.services[service]?.image !== undefined,
      project,
    });
  }
  return out;
}

/** Builds one service's image on the node; answers the image ID. */
export async function buildOne(c: ApiClient, t: Buildable, flags: BuildFlags): Promise<string> {
  const b = t.build as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (key === 'cache_from' && Array.isArray(b[key]) && b[key].length > 0)
      throw new SkiffError(
        'unsupported',
        `service "${t.service}": build.cache_from is not supported by skiff`,
        {
          hint: "each build starts from an empty builder storage on the node and never reads a registry itself (base images come from the node's store); remove cache_from",
        },
      );
    if (!HONOURED.has(key) && b[key] !== undefined)
      throw new SkiffError('unsupported', `service "${t.service}": build.${key} is not supported by skiff`, {
        hint: `skiff builds with: ${[...HONOURED].join(', ')}`,
      });
  }
  if (/^[a-z]+:\/\//i.test(t.build.context) || t.build.context.startsWith('git@'))
    throw new SkiffError('unsupported', `service "${t.service}": remote build contexts are not supported`);
  const inline = typeof b.dockerfile_inline === 'string' ? b.dockerfile_inline : undefined;
  // tar and the ignore matcher load only when something is built.
  const { buildContext } = await import('../build-context.js');
  const ctx = await buildContext(
    t.build.context,
    inline === undefined ? t.build.dockerfile : undefined,
    inline,
  );
  const { buildCredentials } = await import('../build-credentials.js');
  const credentials = buildCredentials(t.service, t.build, t.project, c.target.startsWith('unix://'));
  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries(t.build.args ?? {})) {
    // An arg named without a value takes the shell's, as docker compose does.
    const value = v ?? process.env[k];
    if (value !== undefined) args[k] = value;
  }
  const tags = [t.image, ...(Array.isArray(b.tags) ? (b.tags as string[]) : [])];
  if (!flags.quiet) process.stderr.write(`Building ${t.service}\n`);
  try {
    const id = await c.build(
      ctx.tar,
      {
        tags,
        dockerfile: ctx.dockerfile,
        buildArgs: args,
        labels: t.build.labels ?? {},
        ...(typeof b.target === 'string' ? { target: b.target } : {}),
        noCache: flags.noCache === true || b.no_cache === true,
        pull: flags.pull === true || b.pull === true,
        ...(credentials ? { credentials } : {}),
      },
      (text) => {
        if (!flags.quiet) process.stderr.write(text);
      },
    );
    if (!flags.quiet) process.stderr.write(`Built ${t.service}: ${tags.join(', ')} ${id.slice(7, 19)}\n`);
    return id;
  } catch (e) {
    if (e instanceof SkiffError)
      throw new SkiffError(e.code, `service "${t.service}" failed to build: ${e.message}`, {
        ...(e.hint ? { hint: e.hint } : {}),
      });
    throw e;
  } finally {
    await ctx.cleanup();
  }
}

/**
 * What `compose up` builds: with `--build` every buildable service, with `--no-build`
 * none, otherwise those whose image the node lacks (as docker compose). Answers the
 * image ID of every buildable service, for the label that rolls a service onto a
 * rebuilt image.
 */
export async function buildForUp(
  c: ApiClient,
  o: ProjectOptions,
  only: string[],
  mode: { build?: boolean; noBuild?: boolean },
): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  if (mode.build && mode.noBuild)
    throw new SkiffError('invalid_argument', '--build and --no-build exclude each other');
  for (const t of await buildables(o, only)) {
    const have = await c.inspectImage(t.image).catch(() => undefined);
    if (mode.build || (!have && !mode.noBuild)) ids.set(t.service, await buildOne(c, t, {}));
    else if (have) ids.set(t.service, have.Id);
  }
  return ids;
}

/**
 * What `stack deploy` builds, on the node the CLI talks to: with `--build` every
 * buildable service, otherwise those whose image that node lacks. Each such service
 * then runs its image pinned by manifest digest (`name:tag@sha256:…`), so every node
 * runs exactly this build, and the nodes lacking it fetch it from the nodes holding it
 * (no registry needed); a rebuild is a new digest, so the service rolls onto it.
 */
export async function buildForStack(
  c: ApiClient,
  o: ProjectOptions,
  mode: { build?: boolean },
  log: (line: string) => void,
): Promise<Map<string, string>> {
  const pinned = new Map<string, string>();
  for (const t of await buildables(o)) {
    let have = await c.inspectImage(t.image).catch(() => undefined);
    if (mode.build || !have) {
      await buildOne(c, t, { quiet: false });
      have = await c.inspectImage(t.image);
    }
    if (t.image.includes('@')) continue;
    pinned.set(t.service, `${t.image}@${have.Manifest.Digest}`);
    log(`${t.service}: ${t.image}@${have.Manifest.Digest}`);
  }
  return pinned;
}

/** Each service of `pinned` runs the image reference it maps to. */
export function withPinnedImages(
  specs: ServiceSpec[],
  ns: string,
  pinned: ReadonlyMap<string, string>,
): ServiceSpec[] {
  return specs.map((spec) => {
    const image = pinned.get(shortName(ns, spec.Name));
    const cs = spec.TaskTemplate?.ContainerSpec;
    if (!image || !cs) return spec;
    return { ...spec, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { ...cs, Image: image } } };
  });
}

/** Labels each built service's containers with its image ID (docker compose's label). */
export function withImageIds(
  specs: ServiceSpec[],
  ns: string,
  ids: ReadonlyMap<string, string>,
): ServiceSpec[] {
  return specs.map((spec) => {
    const id = ids.get(shortName(ns, spec.Name));
    const cs = spec.TaskTemplate?.ContainerSpec;
    if (!id || !cs) return spec;
    return {
      ...spec,
      TaskTemplate: {
        ...spec.TaskTemplate,
        ContainerSpec: { ...cs, Labels: { ...cs.Labels, [COMPOSE_IMAGE_LABEL]: id } },
      },
    };
  });
}
