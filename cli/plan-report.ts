// `--dry-run` of `stack deploy` and `compose up`: the plan as text or JSON, and the exit
// code pipelines test, as `kubectl diff` has it: 0 no change, 1 changes, >1 an error.
import type { ApiClient } from './api/index.js';
import { planDeploy, type StackLike } from './deploy.js';
import { CliExit, CliFailure, CliUsageError, printJson } from './output.js';
import type { FieldChange, StackPlan } from './plan.js';

/** The help text's account of the exit codes. */
export const DRY_RUN_HELP =
  'print what the deploy would create, update (field by field) or remove, and change nothing; exit 0 when nothing would change, 1 when something would, 2 or more on an error';

/** Plans the deploy and prints it; whether it changes anything. Run it under `asDryRun`. */
export async function printPlan(
  c: ApiClient,
  stack: StackLike,
  opts: { prune?: boolean; forceUpdate?: boolean; json: boolean },
): Promise<boolean> {
  const plan = await planDeploy(c, stack, opts);
  if (opts.json) printJson(planJson(plan));
  else process.stdout.write(planText(plan));
  return plan.changes;
}

/**
 * Runs a dry run's steps (loading the files, planning) so that an error exits 2, as
 * `kubectl diff` does: exit 1 means "something would change".
 */
export async function asDryRun<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    // A compose file's errors are printed already and exit 1: 2 here.
    if (e instanceof CliExit) throw e.exitCode === 1 ? new CliExit(2) : e;
    if (e instanceof CliUsageError || e instanceof CliFailure) throw e;
    throw new CliFailure(e, 2);
  }
}

export function planJson(plan: StackPlan): unknown {
  return {
    stack: plan.namespace,
    changes: plan.changes,
    services: plan.services.map((s) => ({
      service: s.service,
      action: s.action,
      image: s.image,
      ...(s.previousImage !== undefined && s.action !== 'create' ? { previousImage: s.previousImage } : {}),
      ...(s.action === 'update' ? { diff: s.diff } : {}),
    })),
    networks: plan.networks.map((n) => ({ name: n.name, action: n.action })),
    secrets: plan.secrets.map(versionJson),
    configs: plan.configs.map(versionJson),
  };
}

function versionJson(v: StackPlan['secrets'][number]): unknown {
  return { name: v.name, version: v.version, action: v.action, remove: v.retired.map((r) => r.name) };
}

/** `+` create, `~` update or rotate, `-` remove; an update's fields indented below it. */
export function planText(plan: StackPlan): string {
  const lines: string[] = [];
  let create = 0;
  let update = 0;
  let remove = 0;
  for (const n of plan.networks.filter((x) => x.action === 'create')) {
    lines.push(`+ network ${n.name}`);
    create++;
  }
  for (const v of [...plan.secrets, ...plan.configs]) {
    if (v.action === 'create') {
      lines.push(`+ ${v.kind} ${v.version}`);
      create++;
    } else if (v.action === 'rotate') {
      lines.push(`~ ${v.kind} ${v.name}: content changed, new version ${v.version}`);
      update++;
    }
    for (const r of v.retired) {
      lines.push(`- ${v.kind} ${r.name} (old version of ${v.name}, removed once no task uses it)`);
      remove++;
    }
  }
  for (const s of plan.services) {
    if (s.action === 'create') {
      lines.push(`+ service ${s.service} (image ${s.image})`);
      create++;
    } else if (s.action === 'update') {
      lines.push(`~ service ${s.service}`);
      for (const d of s.diff) lines.push(`    ${fieldLine(d)}`);
      if (s.diff.length === 0) lines.push('    (forced update, no field changed)');
      update++;
    } else if (s.action === 'remove') {
      lines.push(`- service ${s.service}`);
      remove++;
    }
  }
  if (!plan.changes) return `Stack ${plan.namespace}: no changes.\n`;
  lines.push(
    `Plan for stack ${plan.namespace}: ${create} to create, ${update} to update, ${remove} to remove.`,
  );
  return `${lines.join('\n')}\n`;
}

function fieldLine(d: FieldChange): string {
  const show = (v: unknown) => JSON.stringify(v);
  if (d.from === undefined) return `+ ${d.path}: ${show(d.to)}`;
  if (d.to === undefined) return `- ${d.path}: ${show(d.from)}`;
  return `~ ${d.path}: ${show(d.from)} => ${show(d.to)}`;
}
