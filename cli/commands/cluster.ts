// `skiff cluster join-token worker|manager`: the tokens other nodes join with.
import type { Command } from 'commander';
import { type GlobalOptions, withClient } from '../context.js';
import { CliUsageError } from '../output.js';

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('manage the cluster (join tokens)');
  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  cluster
    .command('join-token')
    .description('print the token a worker or a manager joins with')
    .argument('<role>', 'worker or manager')
    .option('-q, --quiet', 'only print the token')
    .action(async (role: string, o: { quiet?: boolean }) => {
      if (role !== 'worker' && role !== 'manager')
        throw new CliUsageError(`role must be worker or manager, not "${role}"`);
      await withClient(g(), async (c) => {
        const swarm = await c.swarmInspect();
        const token = role === 'worker' ? swarm.JoinTokens?.Worker : swarm.JoinTokens?.Manager;
        if (o.quiet) process.stdout.write(`${token ?? ''}\n`);
        else {
          process.stdout.write(
            `To add a ${role} to this cluster, run on the new node:\n\n    skiff daemon run --advertise-addr <its address> --join <this manager>:2377 --token ${token}\n\n`,
          );
        }
      });
    });
}
