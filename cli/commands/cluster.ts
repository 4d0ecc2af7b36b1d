// `skiff cluster init|join|backup|restore|join-token|leave|unlock-key|unlock`: create a cluster, join
// one (the token decides the role), the tokens other nodes join with, leave, autolock.
import { createWriteStream } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { type DaemonPaths, daemonPaths, isWorkerState, restoreBackup } from '../../node/index.js';
import { ApiClient } from '../api/index.js';
import { type GlobalOptions, withClient } from '../context.js';
import { daemonStatus, startDaemon } from '../daemon/index.js';
import { CliUsageError, readStdin } from '../output.js';

async function refuseIfRunning(paths: DaemonPaths): Promise<void> {
  const s = await daemonStatus(paths);
  if (s.running || s.pid !== undefined) {
    throw new CliUsageError(
      'a skiff node already runs on this machine; stop it first with `skiff daemon stop`',
    );
  }
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('create, join and manage a multi-host cluster');
  const g = (): GlobalOptions => program.opts<GlobalOptions>();

  cluster
    .command('init')
    .description('make this machine the first manager of a new cluster (starts the node in the background)')
    .requiredOption('--advertise-addr <ip>', 'the address other nodes reach this one at')
    .option('--port <port>', 'API port (raft uses port+1, the dispatcher port+2)', '2377')
    .option(
      '--force-new-cluster',
      "on a manager that lost quorum: a new cluster from this node's own state, with it as the only manager",
    )
    .action(async (o: { advertiseAddr: string; port: string; forceNewCluster?: boolean }) => {
      const paths = daemonPaths();
      await refuseIfRunning(paths);
      const force = o.forceNewCluster ? ['--force-new-cluster'] : [];
      await startDaemon(paths, ['--advertise-addr', o.advertiseAddr, '--port', o.port, ...force], {
        ready: async () => (await daemonStatus(paths)).running,
        timeoutMs: 60_000,
      });
      await withClient(g(), async (c) => {
        const swarm = await c.swarmInspect();
        process.stdout.write(
          `Cluster initialized: this node is now a manager at ${o.advertiseAddr}:${o.port}.\n\n` +
            `To add a worker, run on it:\n\n    skiff cluster join --advertise-addr <its address> --token ${swarm.JoinTokens?.Worker ?? ''} ${o.advertiseAddr}:${o.port}\n\n`,
        );
      });
    });

  cluster
    .command('join')
    .description(
      'join a cluster as a worker or a manager, as the token says (starts the node in the background)',
    )
    .requiredOption(
      '--token <token>',
      'the worker or manager join token (skiff cluster join-token worker|manager, on a manager); - reads it from stdin, off the command line',
    )
    .option(
      '--port <port>',
      'API port if the token makes this node a manager (raft port+1, dispatcher port+2)',
      '2377',
    )
    .requiredOption('--advertise-addr <ip>', 'the address managers and other nodes reach this one at')
    .argument('<manager>', "a manager's address, host:port")
    .action(async (manager: string, o: { token: string; advertiseAddr: string; port: string }) => {
      const paths = daemonPaths();
      await refuseIfRunning(paths);
      const token = o.token === '-' ? (await readStdin()).trim() : o.token;
      if (!token) throw new CliUsageError('--token -: stdin held no token');
      // The token goes to the node on its stdin: anyone may read a process's command line.
      await startDaemon(
        paths,
        ['--advertise-addr', o.advertiseAddr, '--port', o.port, '--join', manager, '--token-file', '-'],
        { timeoutMs: 90_000, stdin: `${token}\n` },
      );
      const role = isWorkerState(paths.stateDir) ? 'worker' : 'manager';
      process.stdout.write(`This node joined the cluster as a ${role}.\n`);
    });

  cluster
    .command('backup')
    .description(
      'write a consistent snapshot of the cluster state (services, secrets and configs still encrypted, networks, nodes, the CA) from this manager to FILE, while it runs',
    )
    .argument('<file>', 'the backup file to write (0600: it holds the CA key and the secrets key)')
    .action(async (file: string) => {
      await withClient(g(), async (c) => {
        const res = await c.request({ method: 'GET', path: '/skiff/backup' });
        if (res.statusCode !== 200) {
          const text = await res.text();
          let message = text;
          try {
            message = (JSON.parse(text) as { message?: string }).message ?? text;
          } catch {}
          throw new CliUsageError(`backup failed: ${message}`);
        }
        const tmp = `${file}.tmp-${process.pid}`;
        await pipeline(res.body, createWriteStream(tmp, { mode: 0o600 }));
        await rename(tmp, file);
        process.stdout.write(
          `Backed up the cluster state at log index ${res.body.headers['x-skiff-backup-index'] ?? '?'} to ${file}.\n`,
        );
      });
    });

  cluster
    .command('restore')
    .description(
      "write a backup into this node's empty state as a new cluster with this node as its only manager; `skiff daemon start` then runs it",
    )
    .argument('<file>', 'a file `skiff cluster backup` wrote')
    .option('--unlock-key <key>', 'the unlock key, for a backup of an autolocked cluster')
    .action(async (file: string, o: { unlockKey?: string }) => {
      const paths = daemonPaths();
      await refuseIfRunning(paths);
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (e) {
        throw new CliUsageError(`cannot read ${file}: ${(e as Error).message}`);
      }
      const r = await restoreBackup({
        stateDir: paths.stateDir,
        file: bytes,
        name: file,
        ...(o.unlockKey ? { unlockKey: o.unlockKey } : {}),
      });
      process.stdout.write(
        `Restored the cluster state at log index ${r.index}: this node (${r.nodeId}) is its only manager.\n` +
          'Start it with `skiff daemon start` (or `skiff daemon run` with the options it ran with).\n',
      );
    });

  cluster
    .command('join-token')
    .description('print the token a worker or a manager joins with')
    .argument('<role>', 'worker or manager')
    .option('-q, --quiet', 'only print the token')
    .option('--rotate', 'replace the token: the old one is refused from now on')
    .action(async (role: string, o: { quiet?: boolean; rotate?: boolean }) => {
      if (role !== 'worker' && role !== 'manager')
        throw new CliUsageError(`role must be worker or manager, not "${role}"`);
      await withClient(g(), async (c) => {
        if (o.rotate) {
          const before = await c.swarmInspect();
          await c.swarmUpdate(before.Version?.Index ?? 0, before.Spec, { [role]: true });
          if (!o.quiet) process.stdout.write(`Rotated the ${role} join token.\n\n`);
        }
        const swarm = await c.swarmInspect();
        const token = role === 'worker' ? swarm.JoinTokens?.Worker : swarm.JoinTokens?.Manager;
        if (o.quiet) process.stdout.write(`${token ?? ''}\n`);
        else {
          process.stdout.write(
            `To add a ${role} to this cluster, run on the new node:\n\n    skiff cluster join --advertise-addr <its address> --token ${token} <this manager>:2377\n\n`,
          );
        }
      });
    });

  cluster
    .command('leave')
    .description(
      "take this node out of its cluster: its tasks' containers are removed, the node stops, and its cluster state is deleted",
    )
    .option('-f, --force', 'leave even when this manager leaving breaks the raft quorum')
    .action(async (o: { force?: boolean }) => {
      const paths = daemonPaths();
      const status = await daemonStatus(paths);
      if (!status.running) throw new CliUsageError('no skiff node runs on this machine');
      const c = new ApiClient({ host: `unix://${paths.socket}` });
      try {
        await c.swarmLeave(o.force === true);
      } finally {
        await c.close();
      }
      const deadline = Date.now() + 60_000;
      while ((await daemonStatus(paths)).pid !== undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      process.stdout.write('Node left the cluster.\n');
    });

  cluster
    .command('unlock-key')
    .description('print (or rotate) the key that unlocks a manager of an autolocked cluster')
    .option('-q, --quiet', 'only print the key')
    .option('--rotate', 'replace the unlock key')
    .action(async (o: { quiet?: boolean; rotate?: boolean }) => {
      await withClient(g(), async (c) => {
        if (o.rotate) {
          const before = await c.swarmInspect();
          await c.swarmUpdate(before.Version?.Index ?? 0, before.Spec, { unlockKey: true });
        }
        const { UnlockKey } = await c.swarmUnlockKey();
        if (o.quiet) process.stdout.write(`${UnlockKey}\n`);
        else
          process.stdout.write(
            `To unlock a restarted manager, run on it \`skiff cluster unlock\` and give this key:\n\n    ${UnlockKey}\n\n`,
          );
      });
    });

  cluster
    .command('rotate-data-key')
    .description(
      'give every manager a new raft data key: each re-seals its log at its next snapshot and then forgets the old key',
    )
    .action(async () => {
      await withClient(g(), async (c) => {
        const before = await c.swarmInspect();
        await c.swarmUpdate(before.Version?.Index ?? 0, before.Spec, { dataKey: true });
      });
      process.stdout.write('Each manager now seals its raft log with a new data key.\n');
    });

  cluster
    .command('rotate-network-key')
    .description(
      "turn the encrypted overlays' key ring now (the leader does it every 12 hours): nodes add the new key, send with the next one, and drop the oldest, without dropping traffic",
    )
    .action(async () => {
      await withClient(g(), async (c) => {
        const before = await c.swarmInspect();
        await c.swarmUpdate(before.Version?.Index ?? 0, before.Spec, { networkKey: true });
      });
      process.stdout.write('The encrypted overlays now use the next key of the ring.\n');
    });

  cluster
    .command('unlock')
    .description('unlock this (autolocked) manager after a restart; reads the key from stdin')
    .action(async () => {
      const key = (await readStdin()).trim();
      if (!key)
        throw new CliUsageError('give the unlock key on stdin (skiff cluster unlock-key on another manager)');
      await withClient(g(), (c) => c.swarmUnlock(key));
      process.stdout.write('This manager is unlocked.\n');
    });
}
