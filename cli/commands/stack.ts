// `skiff stack deploy|ls|ps|services|rm`: compose files onto a cluster, with the exit
// code CI relies on: `deploy --wait` exits 0 only when every service converged, and
// non-zero naming each service that paused, rolled back or timed out (unlike
// `docker stack deploy`, which exits 0 after a rollback: docker/cli#6752).
import type { Command } from 'commander';
import { parseDurationNs, STACK_NAMESPACE_LABEL } from '../../lib/index.js';
import { type GlobalOptions, withClient } from '../context.js';
import { deployStack, removeRetiredAfterRollout, removeStack } from '../deploy.js';
import { followRollouts, RolloutDisplay } from '../follow.js';
import { CliExit, CliUsageError, parseFormat, printJson, printList, quietLines } from '../output.js';
import { asDryRun, DRY_RUN_HELP, printPlan } from '../plan-report.js';
import { loadStack } from './compose.js';
import { buildForStack, withPinnedImages } from './compose-build.js';
import { parseFilters, printServices, printTasks, type TaskListOptions } from './service.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerStack(program: Command): void {
  const stack = program.command('stack').description('deploy and manage stacks of services on a cluster');
  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  stack
    .command('deploy')
    .description('deploy or update a stack from compose files')
    .requiredOption('-c, --compose-file <file>', 'compose file (repeatable)', collect, [])
    .option('--env-file <file>', 'environment file (repeatable)', collect, [])
    .option('--profile <profile>', 'activate a profile (repeatable)', collect, [])
    .option('--prune', 'remove services the files no longer have')
    .option(
      '--build',
      'build the images of services with a build section on the node the CLI talks to (missing ones are always built); other nodes fetch them from it',
    )
    .option('--wait', 'follow every service until it converges; exit 1 if any does not')
    .option('--timeout <duration>', 'how long --wait waits', '10m')
    .option('--dry-run', DRY_RUN_HELP)
    .option('--format <format>', 'table or json (the deploy report, or the plan with --dry-run)')
    .option('-q, --quiet', 'no progress output; only what failed')
    .argument('<stack>', 'stack name')
    .action(async (name: string, o: DeployOptions) => {
      const timeoutNs = parseDurationNs(o.timeout);
      if (timeoutNs === undefined)
        throw new CliUsageError(`invalid --timeout "${o.timeout}": use e.g. 90s or 10m`);
      const json = parseFormat(o.format) === 'json';
      const project = {
        file: o.composeFile,
        projectName: name,
        profile: o.profile,
        envFile: o.envFile,
      };
      const load = () => loadStack(project, [], { composeLabels: false });
      if (o.dryRun) {
        // Planned with the images as they are: a dry run builds nothing.
        const changes = await asDryRun(async () => {
          const spec = await load();
          return withClient(g(), (c) => printPlan(c, spec, { prune: o.prune ?? false, json }));
        });
        if (changes) throw new CliExit(1);
        return;
      }
      const loaded = await load();
      await withClient(g(), async (c) => {
        const log = (l: string) => (o.quiet ? undefined : process.stderr.write(`${l}\n`));
        const pinned = await buildForStack(c, project, { build: o.build === true }, log);
        const spec = { ...loaded, services: withPinnedImages(loaded.services, loaded.namespace, pinned) };
        const result = await deployStack(c, spec, { prune: o.prune ?? false, log });
        if (!o.wait) {
          if (json) printJson({ stack: name, services: result.services, removed: result.removed });
          return;
        }
        // Without --wait, old secret and config versions still in use are removed by the next deploy.
        const display = o.quiet ? undefined : new RolloutDisplay();
        const outcomes = await followRollouts(
          c,
          result.services.map((s) => s.id),
          {
            timeoutMs: timeoutNs / 1e6,
            ...(display ? { onProgress: display.onProgress, onOutcome: display.onOutcome } : {}),
          },
        );
        const report = result.services.map((s, i) => ({
          service: s.service,
          action: s.action,
          previousImage: s.previousImage ?? null,
          image: s.image,
          replicas: s.replicas ?? null,
          outcome: outcomes[i]?.outcome ?? 'failed',
          reason: outcomes[i]?.reason ?? null,
        }));
        const failed = report.filter((r) => r.outcome !== 'converged');
        // Converged: the old versions of rotated secrets and configs are no longer used.
        if (failed.length === 0) await removeRetiredAfterRollout(c, result.retired, log);
        if (json)
          printJson({
            stack: name,
            converged: failed.length === 0,
            services: report,
            removed: result.removed,
          });
        else if (!display?.live) {
          for (const r of report.filter((x) => !o.quiet || x.outcome !== 'converged')) {
            process.stderr.write(
              r.outcome === 'converged'
                ? `${r.service}: converged\n`
                : `${r.service}: ${r.outcome.replace('_', ' ')}: ${r.reason ?? ''}\n`,
            );
          }
        }
        if (failed.length > 0) {
          process.stderr.write(
            `error: stack ${name} did not converge: ${failed.map((f) => `${f.service} (${f.outcome.replace('_', ' ')})`).join(', ')}\n`,
          );
          throw new CliExit(1);
        }
      });
    });

  stack
    .command('ls')
    .description('list stacks')
    .option('--format <format>', 'table, json or a Go template')
    .action(async (o: { format?: string }) => {
      await withClient(g(), async (c) => {
        const counts = new Map<string, number>();
        for (const s of await c.listServices()) {
          const ns = s.Spec.Labels?.[STACK_NAMESPACE_LABEL];
          if (ns) counts.set(ns, (counts.get(ns) ?? 0) + 1);
        }
        const rows = [...counts].sort(([a], [b]) => a.localeCompare(b));
        printList(
          o.format,
          [
            { header: 'NAME', field: 'Name' },
            { header: 'SERVICES', field: 'Services' },
          ],
          rows.map(([n, c]) => [n, String(c)]),
        );
      });
    });

  stack
    .command('services')
    .description("list a stack's services")
    .option('-q, --quiet', 'only print IDs')
    .option('-f, --filter <filter>', 'filter (id=…, name=…, label=…, mode=…)', collect, [])
    .option('--format <format>', 'table, json or a Go template')
    .argument('<stack>')
    .action(async (name: string, o: { quiet?: boolean; format?: string; filter: string[] }) => {
      await withClient(g(), async (c) => {
        const f = parseFilters(o.filter) ?? {};
        const services = await c.listServices({
          ...f,
          label: [...(f.label ?? []), `${STACK_NAMESPACE_LABEL}=${name}`],
        });
        if (services.length === 0) process.stderr.write(`Nothing found in stack: ${name}\n`);
        if (o.quiet)
          return void process.stdout.write(
            quietLines(
              services.map((s) => s.ID),
              'short',
            ),
          );
        printServices(services, o.format);
      });
    });

  stack
    .command('ps')
    .description("list a stack's tasks")
    .option('-f, --filter <filter>', 'filter (id=…, name=…, node=…, desired-state=…)', collect, [])
    .option('--format <format>', 'table, json or a Go template')
    .option('--no-trunc', 'do not truncate output')
    .option('--no-resolve', 'do not map node IDs to hostnames')
    .option('-q, --quiet', 'only print task IDs')
    .argument('<stack>')
    .action(async (name: string, o: TaskListOptions) => {
      await withClient(g(), async (c) => {
        const services = await c.listServices({ label: [`${STACK_NAMESPACE_LABEL}=${name}`] });
        if (services.length === 0) {
          process.stderr.write(`Nothing found in stack: ${name}\n`);
          return;
        }
        await printTasks(c, { ...parseFilters(o.filter), service: services.map((s) => s.ID) }, o);
      });
    });

  stack
    .command('rm')
    .alias('remove')
    .description('remove stacks')
    .argument('<stack...>')
    .action(async (names: string[]) => {
      await withClient(g(), async (c) => {
        for (const n of names) {
          const count = await removeStack(c, n, (l) => process.stderr.write(`${l}\n`));
          if (count === 0) process.stderr.write(`Nothing found in stack: ${n}\n`);
        }
      });
    });
}

interface DeployOptions {
  composeFile: string[];
  envFile: string[];
  profile: string[];
  prune?: boolean;
  build?: boolean;
  wait?: boolean;
  timeout: string;
  format?: string;
  quiet?: boolean;
  dryRun?: boolean;
}
