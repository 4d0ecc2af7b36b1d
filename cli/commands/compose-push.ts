// `skiff compose push`: as docker compose push, each service that is built (`build:`)
// and names its image (`image:`) has that image, and its `build.tags`, pushed from the
// node the CLI talks to to the registry the name points to, with the CLI's registry
// credentials (docker's config.json, as `skiff image push`). Other services are skipped.
import type { Command } from 'commander';
import { describeError, encodeRegistryAuth, type PushProgressEvent, SkiffError } from '../../lib/index.js';
import type { GlobalOptions } from '../context.js';
import { LiveLines } from '../live-lines.js';
import { CliExit } from '../output.js';
import { defaultAuthFile, readCredentials, registryOf } from '../registry-auth.js';
import { type ProjectOptions, withLocalClient } from './compose.js';
import { buildables } from './compose-build.js';

export function registerComposePush(compose: Command, g: () => GlobalOptions, p: () => ProjectOptions): void {
  compose
    .command('push')
    .description('push the built images of the project’s services (build: and image:) to their registries')
    .argument('[service...]', 'only these services')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--ignore-push-failures', 'push what can be pushed and exit 0 even if some fail')
    .option('--auth-file <path>', 'credentials file in ~/.docker/config.json format')
    .action(
      async (only: string[], o: { quiet?: boolean; ignorePushFailures?: boolean; authFile?: string }) => {
        const targets = await buildables(p(), only);
        const refs: { service: string; ref: string }[] = [];
        for (const t of targets) {
          if (!t.named) {
            if (!o.quiet) process.stderr.write(`Skipped ${t.service}: it names no image (image:)\n`);
            continue;
          }
          const tags = Array.isArray(t.build.tags) ? (t.build.tags as string[]) : [];
          for (const ref of [t.image, ...tags]) refs.push({ service: t.service, ref });
        }
        if (refs.length === 0) {
          if (!o.quiet) process.stderr.write('No service of the project has an image to push\n');
          return;
        }
        const lines = o.quiet ? undefined : new LiveLines(process.stderr);
        const failed: unknown[] = [];
        await withLocalClient(g(), async (c) => {
          // One after the other: pushes of one project share their base layers.
          for (const { ref } of refs) {
            try {
              const { repo, tag } = pushTarget(ref);
              const registry = registryOf(repo);
              const creds = await readCredentials(o.authFile ?? defaultAuthFile(), registry);
              const blobs = new Map<string, { size: number; done: boolean }>();
              let digest = '';
              lines?.set(ref, `Pushing ${ref}`);
              await c.pushImage(repo, tag, creds ? encodeRegistryAuth(creds, registry) : undefined, (m) => {
                const e = m.aux?.skiff as PushProgressEvent | undefined;
                if (!e) return;
                if (e.type === 'done') {
                  digest = e.digest;
                  return;
                }
                blobs.set(e.digest, { size: e.size, done: e.status !== 'pushing' });
                const all = [...blobs.values()];
                const bytes = all.filter((b) => b.done).reduce((a, b) => a + b.size, 0);
                lines?.set(
                  ref,
                  `Pushing ${ref}: ${all.filter((b) => b.done).length}/${all.length} blobs ${mb(bytes)}`,
                );
              });
              lines?.set(ref, `Pushed ${ref} ${digest}`);
            } catch (e) {
              lines?.set(ref, `Failed ${ref}`);
              failed.push(e);
            }
          }
        });
        for (const reason of failed) {
          process.stderr.write(`error: ${describeError(reason)}\n`);
          if (reason instanceof SkiffError && reason.hint) process.stderr.write(`hint: ${reason.hint}\n`);
        }
        if (failed.length && !o.ignorePushFailures) throw new CliExit(1);
      },
    );
}

/** name[:tag] as the push endpoint takes it (docker pushes `latest` when no tag is given). */
function pushTarget(ref: string): { repo: string; tag: string } {
  if (ref.includes('@'))
    throw new SkiffError(
      'invalid_argument',
      `cannot push ${ref}: a digest names content, not a tag to push to`,
    );
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/')
    ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) }
    : { repo: ref, tag: 'latest' };
}

function mb(bytes: number): string {
  if (bytes < 1e3) return `${bytes}B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)}kB`;
  return `${(bytes / 1e6).toFixed(1)}MB`;
}
