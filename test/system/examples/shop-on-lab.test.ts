// `skiff lab up 3` and examples/shop on it, as a user runs them: three hosts with ready
// nodes (a manager and two workers), the shop deployed with `stack deploy --wait` and
// spread so that web talks to api across hosts, its page answering on web's host, the
// database password readable inside api and db but not inside web, services started in
// depends_on order once healthy, and `skiff lab down` leaving nothing behind. One lab
// for the whole file.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  destroyLastingLab,
  type LastingLabRecord,
  leftoversOf,
  readLastingLab,
  runCommand,
} from '../../../lab/index.js';
import type { Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { type SkiffResult, socketNodes, socketTasks } from '../../support/skiff-node/index.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = resolve(ROOT, 'bin/skiff.js');
const SHOP = resolve(ROOT, 'examples/shop');
// A name of this run only: labs of parallel runs never meet.
const NAME = `t${process.pid.toString(36)}`;

function skiff(args: string[], env: Record<string, string> = {}): Promise<SkiffResult> {
  const { SKIFF_HOST: _ignored, ...inherited } = process.env;
  return new Promise((done) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: SHOP, env: { ...inherited, ...env }, timeout: 300_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('skiff lab up 3, and examples/shop on it', () => {
  let lab: LastingLabRecord;
  let host: Record<string, string>;
  const onLab = (args: string[]) => skiff(args, host);
  // The manager's API socket (`lab env`'s SKIFF_HOST), read for tasks' and nodes' state.
  const socket = () => (host.SKIFF_HOST ?? '').replace(/^unix:\/\//, '');
  const tasksOf = async (service: string) =>
    (await socketTasks(socket(), [service])).filter((t) => t.Status.State === 'running');
  /** The lab host a task runs on. */
  const hostOf = async (task: Task) => {
    const node = (await socketNodes(socket())).find((n) => n.ID === task.NodeID);
    const host = lab.hosts.find((h) => h.addr === node?.Status.Addr);
    if (!host) throw new Error(`task ${task.ID} runs on no lab host (${node?.Status.Addr})`);
    return host;
  };
  /** `cat` run inside the service's container on its host, as `docker exec` would. */
  const readSecretIn = async (service: string) => {
    const [task] = await tasksOf(service);
    if (!task) throw new Error(`${service} has no running task`);
    const crunRoot = resolve((await hostOf(task)).runDir, 'runtime', 'crun');
    return runCommand('crun', ['--root', crunRoot, 'exec', task.ID, 'cat', '/run/secrets/db_password']);
  };
  let scratch: string;

  // An interrupted run must not leave the lab behind (teardown is synchronous on purpose).
  const teardownOnExit = () => {
    if (leftoversOf(NAME).length > 0) destroyLastingLab(NAME);
  };

  beforeAll(async () => {
    process.once('exit', teardownOnExit);
    const up = await skiff(['lab', 'up', '3', '--name', NAME]);
    expect(up.code, up.stderr).toBe(0);
    lab = readLastingLab(NAME) as LastingLabRecord;
    expect(up.stdout).toContain(`export SKIFF_HOST=unix://${lab.hosts[0]?.runDir}/skiff.sock`);
    const env = await skiff(['lab', 'env', '--name', NAME]);
    host = { SKIFF_HOST: /SKIFF_HOST=(\S+)/.exec(env.stdout)?.[1] ?? '' };
  }, 300_000);

  afterAll(async () => {
    // `lab down` is the last test; this only runs when it could not.
    teardownOnExit();
    process.off('exit', teardownOnExit);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('has three ready nodes: a manager on h1, workers on the others', async () => {
    const nodes = await socketNodes(socket());
    expect(nodes.filter((n) => n.Status.State === 'ready')).toHaveLength(3);
    const roleAt = new Map(nodes.map((n) => [n.Status.Addr, n.Spec.Role]));
    expect(lab.hosts.map((h) => roleAt.get(h.addr))).toEqual(['manager', 'worker', 'worker']);
    const status = await skiff(['lab', 'status', '--name', NAME]);
    expect(status.stdout).toMatch(/h3\s+10\.199\.\d+\.13\s+\S+\s+worker\s+ready/);
  });

  it('runs examples/shop: the page answers, the secret stays in its services, start order follows health', async () => {
    const build = await runCommand('bash', [resolve(SHOP, 'build-images.sh'), '--lab', NAME]);
    expect(build.code, build.stderr).toBe(0);
    expect(build.stdout).toContain('imported on h1, h2, h3');

    // web on the manager, api and db on workers: web's requests to api cross hosts.
    scratch = mkdtempSync(join(tmpdir(), 'skiff-shop-'));
    const spread = join(scratch, 'spread.yaml');
    writeFileSync(
      spread,
      ['web', 'api', 'db']
        .map(
          (s) =>
            `  ${s}:\n    deploy:\n      placement:\n        constraints: [node.role == ${s === 'web' ? 'manager' : 'worker'}]\n`,
        )
        .reduce((all, s) => all + s, 'services:\n'),
    );
    const deploy = await onLab([
      'stack',
      'deploy',
      '-c',
      'compose.yaml',
      '-c',
      spread,
      '--wait',
      '--timeout',
      '3m',
      'shop',
    ]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const [webTask] = await tasksOf('shop_web');
    const [apiTask] = await tasksOf('shop_api');
    const webHost = await hostOf(webTask as Task);
    expect(webHost.name).toBe('h1');
    expect((await hostOf(apiTask as Task)).name).not.toBe('h1');

    const page = await waitFor(
      async () => {
        const r = await runCommand('busybox', [
          'wget',
          '-q',
          '-O',
          '-',
          `http://${webHost.addr}:8082/cgi-bin/page`,
        ]);
        return r.stdout.includes('class="product"') ? r.stdout : undefined;
      },
      { what: `the shop page on ${webHost.name}`, timeoutMs: 60_000 },
    );
    expect(page).toContain('<h1>The skiff shop</h1>');
    expect(page).toContain('<li class="product">anchor: 80 EUR</li>');

    const password = 'demo-only-not-a-real-password';
    expect((await readSecretIn('shop_api')).stdout.trim()).toBe(password);
    expect((await readSecretIn('shop_db')).stdout.trim()).toBe(password);
    const inWeb = await readSecretIn('shop_web');
    expect(inWeb.code).not.toBe(0);
    expect(inWeb.stdout).not.toContain(password);

    // depends_on with service_healthy: a task is created only once its dependency's task
    // runs, and a task with a health check runs only once healthy.
    const [db] = await tasksOf('shop_db');
    const [api] = await tasksOf('shop_api');
    const [web] = await tasksOf('shop_web');
    expect(Date.parse(api?.CreatedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(db?.Status.Timestamp ?? ''));
    expect(Date.parse(web?.CreatedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(api?.Status.Timestamp ?? ''));
  }, 300_000);

  it('lab down removes the nodes, containers, namespaces, links and state', async () => {
    const down = await skiff(['lab', 'down', '--name', NAME]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain(`Lab "${NAME}" removed.`);
    expect(leftoversOf(NAME)).toEqual([]);
    const conmons = await runCommand('pgrep', ['-f', `conmon.*/run/skiff-lab/${NAME}/`]);
    expect(conmons.stdout.trim()).toBe('');
    const again = await skiff(['lab', 'status', '--name', NAME]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no lab named "${NAME}"`);
  }, 120_000);
});
