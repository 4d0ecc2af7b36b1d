// `skiff daemon run|status|stop`: the node process (single-node mode: manager and
// agent in one process). `run` stays in the foreground (systemd-friendly); `compose`
// commands start it in the background on demand.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { image } from '../../agent/index.js';
import { createLogger, parseByteSize, parseDurationNs } from '../../lib/index.js';
import { DEFAULT_CONFIG_FILE, daemonPaths, nodeMode, readDaemonConfig, runNode } from '../../node/index.js';
import { daemonStatus, ensureLocalDaemon, keepLogRotated, stopLocalDaemon } from '../daemon/index.js';
import { CliExit, CliUsageError, printJson, readStdin } from '../output.js';
import { started } from '../started.js';
import { skiffVersion } from '../version.js';

export function registerDaemon(program: Command): void {
  const daemon = program.command('daemon').description('run or manage this machine’s skiff node');

  daemon
    .command('run')
    .description('run the node in the foreground (manager and agent, single-node cluster)')
    .option('--state-dir <dir>', 'state directory', daemonPaths().stateDir)
    .option('--run-dir <dir>', 'runtime directory (API socket, pid file)', daemonPaths().runDir)
    .option('--log-level <level>', 'debug, info, warn or error', process.env.SKIFF_LOG_LEVEL ?? 'info')
    .option(
      '--log-file <file>',
      "the file this process's output goes to (set by a background start): kept 0600 and rotated by size",
    )
    .option(
      '--log-max-size <size>',
      'rotate the log file once it is this large (e.g. 10m, 512k)',
      process.env.SKIFF_LOG_MAX_SIZE ?? '10m',
    )
    .option('--log-max-files <n>', 'rotated log files kept', process.env.SKIFF_LOG_MAX_FILES ?? '5')
    .option('--advertise-addr <ip>', 'cluster mode: the address other nodes reach this one at')
    .option('--port <port>', 'cluster mode: API port (raft uses port+1, the dispatcher port+2)', '2377')
    .option('--join <manager:port>', 'join the cluster of this manager (first start only)')
    .option(
      '--token-file <file>',
      'a file holding the join token (the worker or the manager token decides the role); - for stdin. Never on the command line: any user can read it there',
    )
    .option(
      '--dispatcher-heartbeat <duration>',
      'cluster mode, manager: how often agents heartbeat; a node is marked down after 3 missed',
      process.env.SKIFF_DISPATCHER_HEARTBEAT ?? '5s',
    )
    .option(
      '--api-body-timeout <duration>',
      'cluster mode, manager: how long a request body may take to arrive on the TCP API; a streamed one (docker import, cp, load, build, exec input) may last longer but not send nothing this long',
      process.env.SKIFF_API_BODY_TIMEOUT ?? '60s',
    )
    .option(
      '--raft-tick <duration>',
      'cluster mode, manager: the raft tick; a leader is replaced after 10 to 20 ticks without it',
      process.env.SKIFF_RAFT_TICK ?? '100ms',
    )
    .option(
      '--raft-snapshot-interval <entries>',
      "managers: snapshot the store and compact the raft log every this many entries (docker swarm's --snapshot-interval)",
      process.env.SKIFF_RAFT_SNAPSHOT_INTERVAL ?? '10000',
    )
    .option(
      '--default-addr-pool <cidrs>',
      "a new cluster's address pools for networks, comma-separated (docker swarm init's --default-addr-pool)",
      process.env.SKIFF_DEFAULT_ADDR_POOL,
    )
    .option(
      '--default-addr-pool-mask-length <bits>',
      'prefix length of the subnets taken from those pools',
      process.env.SKIFF_DEFAULT_ADDR_POOL_MASK_LENGTH,
    )
    .option('--max-layer-size <bytes>', 'largest a pulled layer may unpack to (e.g. 32GiB)', '32GiB')
    .option('--max-image-size <bytes>', 'largest the layers of one pull may unpack to', '64GiB')
    .option('--max-layer-entries <count>', 'most files, directories and links one layer may hold', '1000000')
    .option('--max-image-config-size <bytes>', 'largest image config blob a pull accepts', '8MiB')
    .option(
      '--min-free-space <bytes>',
      'space a pull leaves free on the file system of the state directory',
      '256MiB',
    )
    .option(
      '--metrics-addr <host:port>',
      'also serve Prometheus metrics over plain HTTP at http://HOST:PORT/metrics (as dockerd; keep it on a protected address)',
      process.env.SKIFF_METRICS_ADDR,
    )
    .option(
      '--force-new-cluster',
      'manager: start as the only manager of a new cluster made from this node’s own state (after the cluster lost quorum)',
    )
    .option(
      '--config <file>',
      "a JSON file with these settings under the flags' names (flags win)",
      DEFAULT_CONFIG_FILE,
    )
    .hook('preAction', async (run) => {
      const explicit = run.getOptionValueSource('config') === 'cli';
      const values = await readDaemonConfig(String(run.getOptionValue('config')), explicit);
      for (const [key, value] of Object.entries(values ?? {})) {
        if (run.getOptionValueSource(key) !== 'cli') run.setOptionValueWithSource(key, value, 'config');
      }
    })
    .action(async (o: RunOptions) => {
      const base = daemonPaths({ runDir: o.runDir });
      const paths = { ...base, stateDir: o.stateDir, logFile: `${o.stateDir}/daemon.log` };
      const log = createLogger({ level: o.logLevel });
      const maxBytes = parseByteSize(o.logMaxSize);
      if (maxBytes === undefined || maxBytes < 1024)
        throw new CliUsageError(`--log-max-size: "${o.logMaxSize}" is not a size of at least 1k (e.g. 10m)`);
      const keep = Number(o.logMaxFiles);
      if (!Number.isInteger(keep) || keep < 1 || keep > 100)
        throw new CliUsageError(`--log-max-files: "${o.logMaxFiles}" is not a number from 1 to 100`);
      const stopRotation = o.logFile ? keepLogRotated(o.logFile, { maxBytes, keep }, log) : () => {};
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 1 || port > 65532)
        throw new CliUsageError(`--port: "${o.port}" is not a port`);
      if (o.join && !o.tokenFile) throw new CliUsageError('--join needs --token-file');
      const heartbeatNs = parseDurationNs(o.dispatcherHeartbeat);
      if (heartbeatNs === undefined || heartbeatNs < 100e6 || heartbeatNs > 3600e9)
        throw new CliUsageError(
          `--dispatcher-heartbeat: "${o.dispatcherHeartbeat}" is not a duration from 100ms to 1h (e.g. 5s)`,
        );
      const bodyTimeoutNs = parseDurationNs(o.apiBodyTimeout);
      if (bodyTimeoutNs === undefined || bodyTimeoutNs < 100e6 || bodyTimeoutNs > 3600e9)
        throw new CliUsageError(
          `--api-body-timeout: "${o.apiBodyTimeout}" is not a duration from 100ms to 1h (e.g. 60s)`,
        );
      const tickNs = parseDurationNs(o.raftTick);
      if (tickNs === undefined || tickNs < 10e6 || tickNs > 10e9)
        throw new CliUsageError(
          `--raft-tick: "${o.raftTick}" is not a duration from 10ms to 10s (e.g. 100ms)`,
        );
      const snapshotInterval = Number(o.raftSnapshotInterval);
      if (!Number.isInteger(snapshotInterval) || snapshotInterval < 1)
        throw new CliUsageError(
          `--raft-snapshot-interval: "${o.raftSnapshotInterval}" is not a positive number of entries`,
        );
      const addressPool = addressPoolOption(o);
      const token = o.join && o.tokenFile ? await readToken(o.tokenFile) : undefined;
      const join = o.join && token ? { manager: o.join, token } : undefined;
      const pullLimits = pullLimitsOption(o);
      const mode = await nodeMode(o.stateDir, { ...(join ? { join } : {}) });
      if ((mode === 'worker' || mode === 'join') && !o.advertiseAddr) {
        throw new CliUsageError(
          'a cluster node needs --advertise-addr (the address other nodes reach it at)',
        );
      }
      const node = await runNode(
        paths,
        {
          version: skiffVersion(),
          port,
          heartbeatPeriodMs: heartbeatNs / 1e6,
          raftTickMs: tickNs / 1e6,
          apiBodyTimeoutMs: bodyTimeoutNs / 1e6,
          raftSnapshotInterval: snapshotInterval,
          ...(o.advertiseAddr ? { advertiseAddr: o.advertiseAddr } : {}),
          ...(join ? { join } : {}),
          ...(addressPool ? { addressPool } : {}),
          pullLimits,
          ...(o.metricsAddr ? { metricsAddr: o.metricsAddr } : {}),
          ...(o.forceNewCluster ? { forceNewCluster: true } : {}),
        },
        log,
      );
      started();
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          log.info({ signal }, 'stopping; containers keep running');
          stopRotation();
          node.stop().then(resolve, (e: unknown) => {
            log.error({ err: String(e) }, 'stop failed');
            resolve();
          });
        };
        void node.left?.then(() => stop('left the cluster'));
        void node.failed?.then((err) => {
          // As etcd does: a manager that cannot make its raft log durable must not keep
          // answering as if it could. Exit non-zero so a supervisor notices (and restarts it
          // once the disk is fixed); containers keep running and are adopted on restart.
          log.fatal(
            { err: err.message },
            'the raft log cannot be written (disk full or failing?): stopping the node; free space or fix the disk, then start it again',
          );
          // A stop that hangs on the dead store must not keep the process alive.
          setTimeout(() => process.exit(70), 10_000).unref();
          void node
            .stop()
            .catch(() => undefined)
            .finally(() => process.exit(70));
        });
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });

  daemon
    .command('start')
    .description('start the local node in the background (single-node cluster) unless it runs already')
    .action(async () => {
      const host = await ensureLocalDaemon({ log: (l) => process.stderr.write(`${l}\n`) });
      process.stdout.write(`running, API on ${host}\n`);
    });

  daemon
    .command('status')
    .description('tell whether the local node runs')
    .option('--format <format>', 'table or json')
    .action(async (o: { format?: string }) => {
      const s = await daemonStatus();
      if (o.format === 'json') printJson(s);
      else if (s.running) process.stdout.write(`running (pid ${s.pid ?? '?'}), API on unix://${s.socket}\n`);
      else process.stdout.write('not running\n');
      if (!s.running) throw new CliExit(3);
    });

  daemon
    .command('stop')
    .description('stop the local node; containers keep running until `compose down`')
    .action(async () => {
      const stopped = await stopLocalDaemon();
      process.stdout.write(stopped ? 'stopped\n' : 'not running\n');
    });
}

interface RunOptions {
  stateDir: string;
  runDir: string;
  logLevel: string;
  logFile?: string;
  logMaxSize: string;
  logMaxFiles: string;
  advertiseAddr?: string;
  port: string;
  join?: string;
  tokenFile?: string;
  dispatcherHeartbeat: string;
  raftTick: string;
  apiBodyTimeout: string;
  raftSnapshotInterval: string;
  defaultAddrPool?: string;
  defaultAddrPoolMaskLength?: string;
  forceNewCluster?: boolean;
  metricsAddr?: string;
  maxLayerSize: string;
  maxImageSize: string;
  maxLayerEntries: string;
  maxImageConfigSize: string;
  minFreeSpace: string;
}

/** The limits on what one pull may bring onto the node (see agent/image/limits.ts). */
function pullLimitsOption(o: RunOptions): image.PullLimits {
  const size = (flag: string, text: string, min: number): number => {
    const n = parseByteSize(text);
    if (n === undefined || n < min)
      throw new CliUsageError(
        `--${flag}: "${text}" is not a size of at least ${min} bytes (e.g. 8MiB, 32GiB)`,
      );
    return n;
  };
  const entries = Number(o.maxLayerEntries);
  if (!Number.isSafeInteger(entries) || entries < 1)
    throw new CliUsageError(`--max-layer-entries: "${o.maxLayerEntries}" is not a positive count`);
  return {
    layerBytes: size('max-layer-size', o.maxLayerSize, 1),
    imageBytes: size('max-image-size', o.maxImageSize, 1),
    layerEntries: entries,
    configBytes: size('max-image-config-size', o.maxImageConfigSize, 1024),
    minFreeBytes: size('min-free-space', o.minFreeSpace, 0),
  };
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** The address pools a new cluster hands network subnets out of, checked as docker checks them. */
function addressPoolOption(o: RunOptions): { pools: string[]; subnetSize?: number } | undefined {
  if (!o.defaultAddrPool) return undefined;
  const pools = o.defaultAddrPool.split(',').map((p) => p.trim());
  let widest = 32;
  for (const pool of pools) {
    const m = CIDR.exec(pool);
    const octets = m ? m.slice(1, 5).map(Number) : [];
    const prefix = Number(m?.[5]);
    if (!m || octets.some((x) => x > 255) || prefix < 8 || prefix > 29)
      throw new CliUsageError(
        `--default-addr-pool: "${pool}" is not an IPv4 pool such as 10.20.0.0/16 (prefix 8 to 29)`,
      );
    widest = Math.min(widest, prefix);
  }
  if (o.defaultAddrPoolMaskLength === undefined) return { pools };
  const size = Number(o.defaultAddrPoolMaskLength);
  if (!Number.isInteger(size) || size < widest || size > 29)
    throw new CliUsageError(
      `--default-addr-pool-mask-length: "${o.defaultAddrPoolMaskLength}" must be a whole number from ${widest} (the widest pool's prefix) to 29`,
    );
  return { pools, subnetSize: size };
}

/** The join token from a file, or from stdin for `-` (how `cluster join` hands it over). */
async function readToken(file: string): Promise<string> {
  const text =
    file === '-'
      ? await readStdin()
      : await readFile(file, 'utf8').catch((e: unknown) => {
          throw new CliUsageError(`--token-file: cannot read ${file}: ${(e as Error).message}`);
        });
  const token = text.trim();
  if (!token) throw new CliUsageError(`--token-file: ${file === '-' ? 'stdin' : file} holds no token`);
  return token;
}
