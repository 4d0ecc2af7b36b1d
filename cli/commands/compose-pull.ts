// `skiff compose pull`: pulls the images of the project's services on the node.
import type { Command } from 'commander';
import type { PullMessage } from '../../lib/index.js';
import { describeError, SkiffError } from '../../lib/index.js';
import type { GlobalOptions } from '../context.js';
import { LiveLines } from '../live-lines.js';
import { CliExit } from '../output.js';
import { loadStack, type ProjectOptions, shortName, withLocalClient } from './compose.js';

export function registerComposePull(compose: Command, g: () => GlobalOptions, p: () => ProjectOptions): void {
  compose
    .command('pull')
    .description('pull the images of the project’s services on the node')
    .argument('[service...]', 'only these services')
    .option('-q, --quiet', 'print nothing but errors')
    .option('--ignore-pull-failures', 'pull what can be pulled and exit 0 even if some fail')
    .action(async (only: string[], o: { quiet?: boolean; ignorePullFailures?: boolean }) => {
      const stack = await loadStack(p(), only);
      // One pull per image, however many services use it.
      const images = new Map<string, string[]>();
      for (const s of stack.services) {
        const image = s.TaskTemplate?.ContainerSpec?.Image;
        if (!image) continue;
        images.set(image, [...(images.get(image) ?? []), shortName(stack.namespace, s.Name)]);
      }
      const lines = o.quiet ? undefined : new LiveLines(process.stderr);
      await withLocalClient(g(), async (c) => {
        const results = await Promise.allSettled(
          [...images].map(async ([image, services]) => {
            const key = services.join(', ');
            const progress = new PullTally();
            lines?.set(key, `Pulling ${image}`);
            await c.pullImage(image, (m) => {
              const text = progress.add(m);
              if (text) lines?.set(key, text);
            });
            lines?.set(key, 'Pulled');
          }),
        );
        const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        for (const reason of failed) {
          process.stderr.write(`error: ${describeError(reason)}\n`);
          if (reason instanceof SkiffError && reason.hint) process.stderr.write(`hint: ${reason.hint}\n`);
        }
        if (failed.length && !o.ignorePullFailures) {
          process.stderr.write(
            `hint: ${failed.length} of ${images.size} images could not be pulled; --ignore-pull-failures pulls the rest and exits 0\n`,
          );
          throw new CliExit(1);
        }
      });
    });
}

/** Sums layer progress into one short line per image. */
class PullTally {
  private readonly layers = new Map<string, { current: number; total: number; done: boolean }>();

  add(m: PullMessage): string | undefined {
    if (!m.id || !m.progressDetail) return m.status === 'Extracting' ? 'Extracting' : undefined;
    const done = m.status === 'Download complete' || m.status === 'Already exists';
    const total = m.progressDetail.total ?? 0;
    this.layers.set(m.id, { current: done ? total : (m.progressDetail.current ?? 0), total, done });
    const all = [...this.layers.values()];
    const cur = all.reduce((a, l) => a + l.current, 0);
    const tot = all.reduce((a, l) => a + l.total, 0);
    return `Downloading ${all.filter((l) => l.done).length}/${all.length} layers ${size(cur)}/${size(tot)}`;
  }
}

function size(bytes: number): string {
  if (bytes < 1e3) return `${bytes}B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)}kB`;
  return `${(bytes / 1e6).toFixed(1)}MB`;
}
