// Runs the real `skiff` command against a node of the test's own: its own state root,
// run directory and API socket, so a test never touches /var/lib/skiff or another
// test's node.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { network } from '../../../agent/index.js';

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
      const deadline = Date.now() + 20_000;
      while ((await conmons()).trim() !== '' && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      await skiff(['daemon', 'stop'], { timeoutMs: 30_000 });
      await removeNodeLeftovers(stateRoot, runDir);
      rmSync(base, { recursive: true, force: true });
      rmSync(runDir, { recursive: true, force: true });
      pool.release();
    },
  };
}

/**
 * Whatever a stopped node left because its test (or benchmark) failed midway: its
 * containers and their runtime state, its networks' bridges and chains, its mounts.
 */
export async function removeNodeLeftovers(stateRoot: string, runDir: string): Promise<void> {
  await runQuiet('pkill', ['-9', '-f', `conmon.*${runDir}`]);
  const crunRoot = join(runDir, 'runtime', 'crun');
  for (const id of (await runQuiet('crun', ['--root', crunRoot, 'list', '-q'])).split('\n').filter(Boolean)) {
    await runQuiet('crun', ['--root', crunRoot, 'delete', '-f', id]);
  }
  await removeLeftoverNetworks(join(stateRoot, 'local'), runDir);
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(stateRoot) || m.startsWith(runDir))
    .reverse();
  for (const m of mounts) await runQuiet('umount', ['-l', m]);
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

/**
 * Removes the bridges, VXLAN devices and firewall chains of a node whose test failed
 * before it could remove them: the network layer reloads its state, lets go of every
 * container (they were killed), then removes each network as it would at `down`.
 */
async function removeLeftoverNetworks(stateDir: string, runDir: string): Promise<void> {
  const stateOfNetworks = join(stateDir, 'network');
  const dns = new network.DnsServer({ port: 0 });
  const manager = new network.NetworkManager({
    stateDir: stateOfNetworks,
    runDir: join(runDir, 'network'),
    dns,
  });
  try {
    await manager.restore();
    let attachments: string[] = [];
    try {
      attachments = readdirSync(join(stateOfNetworks, 'attachments'));
    } catch {}
    for (const file of attachments.filter((f) => f.endsWith('.json'))) {
      await manager.releaseContainer(file.slice(0, -'.json'.length)).catch(() => {});
    }
    for (const def of manager.listNetworks()) await manager.removeNetwork(def.id).catch(() => {});
  } finally {
    await dns.close();
  }
}

/** Runs a command for its output; failures are not errors here (cleanup paths). */
function runQuiet(cmd: string, args: string[]): Promise<string> {
  return new Promise((done) => {
    execFile(cmd, args, { timeout: 30_000 }, (_err, stdout) => done(String(stdout ?? '')));
  });
}

/**
 * One Engine API call (`/v1.44…`) on a unix socket, without the CLI's start-up in the way
 * of timings: the status and the parsed JSON body. `what` names the server in errors.
 */
export function socketApi(
  socketPath: string,
  what: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: `/v1.44${path}`,
        method,
        timeout: 3000,
        headers: data === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} on ${what} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

export { freePort } from '../../lab/index.js';
