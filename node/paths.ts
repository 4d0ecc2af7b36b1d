// Where the embedded single-node daemon keeps its state and sockets (DESIGN.md §4).
import { join } from 'node:path';
import { privateDirSync } from '../disk/index.js';

export interface DaemonPaths {
  /** /var/lib/skiff/<node> */
  stateDir: string;
  /** /run/skiff */
  runDir: string;
  socket: string;
  pidFile: string;
  logFile: string;
}

export function daemonPaths(opts: { stateRoot?: string; runDir?: string; node?: string } = {}): DaemonPaths {
  const node = opts.node ?? 'local';
  const stateRoot = opts.stateRoot ?? process.env.SKIFF_STATE_ROOT ?? '/var/lib/skiff';
  const runDir = opts.runDir ?? process.env.SKIFF_RUN_DIR ?? '/run/skiff';
  const stateDir = join(stateRoot, node);
  return {
    stateDir,
    runDir,
    socket: join(runDir, 'skiff.sock'),
    pidFile: join(runDir, 'skiff.pid'),
    logFile: join(stateDir, 'daemon.log'),
  };
}

/**
 * The state and run directories, only root's (0700; no container needs to traverse them:
 * crun enters a rootfs and mounts volumes as root, before the container's user takes
 * over), and narrowed when they exist with wider modes.
 */
export function prepareNodeDirs(paths: Pick<DaemonPaths, 'stateDir' | 'runDir'>): void {
  privateDirSync(paths.stateDir);
  privateDirSync(paths.runDir);
}

/** Where `daemon run` reads its settings unless `--config` names another file. */
export const DEFAULT_CONFIG_FILE = '/etc/skiff/daemon.json';
