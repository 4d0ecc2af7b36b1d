// The CLI's command families. Each is loaded on demand, so that a command loads only its own
// family's code (the CLI's start-up is most of a short command's time); help and completion
// load them all.
import type { Command } from 'commander';

/** Adds a family's commands to the program. */
export type RegisterFamily = (program: Command) => void;

export const COMMAND_FAMILIES: readonly [name: string, load: () => Promise<RegisterFamily>][] = [
  ['service', async () => (await import('./service.js')).registerService],
  ['daemon', async () => (await import('./daemon.js')).registerDaemon],
  ['stack', async () => (await import('./stack.js')).registerStack],
  ['node', async () => (await import('./node.js')).registerNode],
  ['cluster', async () => (await import('./cluster.js')).registerCluster],
  ['completion', async () => (await import('./completion.js')).registerCompletion],
  ['image', async () => (await import('./image.js')).registerImage],
  ['volume', async () => (await import('./volume.js')).registerVolume],
  ['network', async () => (await import('./objects.js')).registerNetwork],
  ['secret', async () => (await import('./objects.js')).registerSecret],
  ['config', async () => (await import('./objects.js')).registerConfig],
  ['context', async () => (await import('./context.js')).registerContext],
  ['system', async () => (await import('./system.js')).registerSystem],
  ['lab', async () => (await import('./lab.js')).registerLab],
  ['dashboard', async () => (await import('./dashboard.js')).registerDashboard],
  [
    'compose',
    async () => {
      const [compose, config] = await Promise.all([import('./compose.js'), import('./compose-config.js')]);
      return (program) => config.registerComposeConfig(compose.registerCompose(program));
    },
  ],
];

/** Top-level commands registered by another family's module. */
export const REGISTERED_BY: Readonly<Record<string, string>> = { login: 'image' };
