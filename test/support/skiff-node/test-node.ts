// Runs the real `skiff` command against a node of the test's own: its own state root,
// run directory and API socket, so a test never touches /var/lib/skiff or another
// test's node.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from '../../lab/index.js';
import { removeNodeLeftovers, runQuiet } from './leftovers.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin', 'skiff.js');

export interface SkiffResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestNode {
  stateRoot: string;
  runDir: string;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  skiff(
    args: string[],
    opts?: { cwd?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<SkiffResult>;
  /** Stops the node and removes its directories (containers were removed by the test). */
  destroy(): Promise<void>;
}

export function testNode(): TestNode {
  const base = mkdtempSync(join(tmpdir(), 'skiff-e2e-'));
  const stateRoot = join(base, 'state');
  // Unix socket paths are limited to 108 bytes: keep the run directory short.
  const runDir = mkdtempSync('/run/skt-');
  const { SKIFF_HOST: _ignored, ...inherited } = process.env;
  const pool = takeAddressPool();
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    SKIFF_STATE_ROOT: stateRoot,
    SKIFF_RUN_DIR: runDir,
    SKIFF_DEFAULT_ADDR_POOL: pool.cidr,
  };
  const skiff = (
    args: string[],
    opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
  ) =>
    new Promise<SkiffResult>((done) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          cwd: opts.cwd ?? base,
          env: { ...env, ...opts.env },
          timeout: opts.timeoutMs ?? 120_000,
          maxBuffer: 16 << 20,
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          done({ code, stdout, stderr });
        },
      );
    });
  return {
    stateRoot,
    runDir,
    stateDir: join(stateRoot, 'local'),
    env,
    skiff,
    async destroy() {
      // Removed services' containers go away asynchronously: give them a bounded wait.
      const conmons = () => runQuiet('pgrep', ['-f', `conmon.*${runDir}`]);
      await waitFor(async () => (await conmons()).trim() === '', {
        what: `the conmons of ${runDir} to exit`,
        timeoutMs: 20_000,
        intervalMs: 200,
      }).catch(() => {}); // leftovers are killed below
      await skiff(['daemon', 'stop'], { timeoutMs: 30_000 });
      await removeNodeLeftovers(stateRoot, runDir);
      rmSync(base, { recursive: true, force: true });
      rmSync(runDir, { recursive: true, force: true });
      pool.release();
    },
  };
}

/** A busybox rootfs tarball with an index page, for `skiff image import`. */
export function busyboxTarball(dir: string, page: string): Promise<string> {
  const root = join(dir, 'rootfs');
  const tarball = join(dir, 'busybox.tgz');
  const script = [
    `mkdir -p ${root}/bin ${root}/etc ${root}/www ${root}/tmp`,
    `cp /bin/busybox ${root}/bin/busybox`,
    `for a in sh ls cat echo sleep httpd wget nc env id ps true false; do ln -sf busybox ${root}/bin/$a; done`,
    `echo 'root:x:0:0:root:/root:/bin/sh' > ${root}/etc/passwd`,
    `echo 'root:x:0:' > ${root}/etc/group`,
    `tar -C ${root} -czf ${tarball} .`,
  ].join(' && ');
  writeFileSync(join(dir, 'page.txt'), page);
  return new Promise((done, fail) => {
    const p = spawn('sh', [
      '-c',
      `${script} && cp ${join(dir, 'page.txt')} ${root}/www/index.html && tar -C ${root} -czf ${tarball} .`,
    ]);
    p.on('exit', (c) =>
      c === 0 ? done(tarball) : fail(new Error(`building the rootfs tarball failed (${c})`)),
    );
  });
}

/**
 * Builds a busybox tarball in `dir` (see busyboxTarball) and imports it on `node` as
 * `ref`, through the node's API: the node is started first if it does not run yet.
 */
export async function importBusybox(
  node: TestNode,
  dir: string,
  page: string,
  ref: string,
): Promise<SkiffResult> {
  const tarball = await busyboxTarball(dir, page);
  const started = await node.skiff(['daemon', 'start']);
  if (started.code !== 0) return started;
  return node.skiff(['image', 'import', tarball, ref]);
}

const POOL_LOCKS = '/run/skiff-test-pools';

/**
 * Test nodes share the host's network namespace, and two running at once would hand
 * out the same first subnets: each takes a /16 of its own (10.120–10.183), held by a
 * lock directory naming its owner, reclaimed when that process is gone.
 */
function takeAddressPool(): { cidr: string; release(): void } {
  mkdirSync(POOL_LOCKS, { recursive: true });
  for (let k = 0; k < 64; k++) {
    const lock = join(POOL_LOCKS, String(k));
    try {
      mkdirSync(lock);
    } catch {
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {}
      if (Number.isInteger(owner) && processAlive(owner)) continue;
      // Its owner died (or is still writing its pid: then the next index serves).
      if (!Number.isInteger(owner)) continue;
      rmSync(lock, { recursive: true, force: true });
      try {
        mkdirSync(lock);
      } catch {
        continue;
      }
    }
    writeFileSync(join(lock, 'pid'), String(process.pid));
    return { cidr: `10.${120 + k}.0.0/16`, release: () => rmSync(lock, { recursive: true, force: true }) };
  }
  throw new Error(`no free test address pool: 64 locks held in ${POOL_LOCKS}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
