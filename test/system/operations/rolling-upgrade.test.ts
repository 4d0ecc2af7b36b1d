// A rolling upgrade of three manager daemons, from the build of an earlier commit to this
// one, one manager at a time, as docs/operations.md tells an operator to do it: the
// earlier commit is exported from git and built with tsc here, a lab cluster of its
// daemons runs a replicated service publishing a port, a request loop asks every host
// throughout, and each manager in turn is stopped cleanly (`skiff daemon stop`) and
// started again from this checkout's build on the same state, followers first, the
// leader last; the next one only once it is back and the cluster is whole. At the end:
// three managers of this build with a leader, a write acknowledged, the service's
// replicas running and its spec as the earlier build stored it.
//
// The earlier commit is 24d0b4d, the first main to carry every format version (store
// `v`, the `skiff-raft-format` stream metadata, the dispatcher `protocol`): a build
// before it cannot tell a newer format from its own, so upgrades are supported from
// there on. Between it and this build lie the routing mesh, the engine API, the raft
// data-key rotation and the VIP batching, so the test crosses real changes of the data
// path and of the state at rest. Its package-lock.json is this one's, so it runs with
// this checkout's node_modules.
import { execFile as execFileCb } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Node, Service, Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import {
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  logTail,
  SKIFF_BIN,
  startLabCluster,
} from '../cluster/helpers.js';

const execFile = promisify(execFileCb);

/** The earlier build (see above for why this commit). */
const EARLIER = '24d0b4d532a5ccd72df3e2959b8c413c2ee6a01f';
const REPO = resolve(import.meta.dirname, '../../..');
/**
 * "Throughout": no host's published port fails for longer than this at a stretch. A
 * stopped daemon's containers and port rules stay, so a host should not fail at all; the
 * bound leaves room for a leader change (0.4 to 0.8 s here) and a loaded machine.
 */
const MAX_OUTAGE_MS = 3000;

const STACK = [
  'services:',
  '  web:',
  `    image: ${LAB_IMAGE}`,
  '    command: ["sh", "-c", "busybox mkdir -p /www && busybox hostname > /www/index.html && exec httpd -f -p 80 -h /www"]',
  '    ports: ["8080:80"]',
  '    healthcheck:',
  '      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]',
  '      interval: 1s',
  '      timeout: 5s',
  '      retries: 3',
  '    deploy:',
  '      replicas: 3',
  '      placement:',
  '        max_replicas_per_node: 1',
  '',
].join('\n');

/** One GET on a fresh connection: whether it got a 200. */
function get(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode === 200));
      res.on('error', () => done(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(false));
    req.end();
  });
}

interface Probe {
  at: number;
  host: string;
  ok: boolean;
}

/** Asks every host's published port in turn until stopped; bounded by `maxMs`. */
function requestLoop(hosts: LabClusterNode[], maxMs: number) {
  const probes: Probe[] = [];
  let stop = false;
  const until = Date.now() + maxMs;
  const done = (async () => {
    while (!stop && Date.now() < until) {
      for (const h of hosts) {
        const at = Date.now();
        probes.push({ at, host: h.host.name, ok: await get(`http://${h.addr}:8080/`, 1000) });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    probes,
    async stop() {
      stop = true;
      await done;
    },
  };
}

/** The longest time from a failed probe to the next good one, among `probes` (ms). */
function longestOutage(probes: Probe[]): number {
  let worst = 0;
  let failingSince: number | undefined;
  for (const p of probes) {
    if (!p.ok) failingSince ??= p.at;
    else if (failingSince !== undefined) {
      worst = Math.max(worst, p.at - failingSince);
      failingSince = undefined;
    }
  }
  const last = probes.at(-1);
  if (failingSince !== undefined && last) worst = Math.max(worst, last.at - failingSince + 1);
  return worst;
}

async function git(args: string[]): Promise<string> {
  return (await execFile('git', ['-C', REPO, ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/** Exports EARLIER into `dir` and builds it with tsc, on this checkout's node_modules. */
async function buildEarlier(dir: string): Promise<string> {
  try {
    await git(['cat-file', '-e', `${EARLIER}^{commit}`]);
  } catch {
    throw new Error(
      `the upgrade test builds commit ${EARLIER}, which this clone does not have (a shallow clone?): fetch the history (git fetch --unshallow) and run it again`,
    );
  }
  const lock = await git(['show', `${EARLIER}:package-lock.json`]);
  if (lock !== readFileSync(join(REPO, 'package-lock.json'), 'utf8'))
    throw new Error(
      `package-lock.json differs from ${EARLIER}'s: the earlier build cannot run on this checkout's node_modules; give it its own (npm ci in ${dir}) or pick a commit with this lock file`,
    );
  await git(['archive', '--output', join(dir, 'src.tar'), EARLIER]);
  await execFile('tar', ['-xf', join(dir, 'src.tar'), '-C', dir]);
  symlinkSync(realpathSync(join(REPO, 'node_modules')), join(dir, 'node_modules'));
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  await execFile(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: dir,
    maxBuffer: 16 * 1024 * 1024,
  });
  const bin = join(dir, 'bin', 'skiff.js');
  if (!existsSync(join(dir, 'dist', 'cli', 'main.js')))
    throw new Error(`the build of ${EARLIER} made no CLI`);
  return bin;
}

describe(`a rolling upgrade of three managers from ${EARLIER.slice(0, 7)}`, () => {
  let c: LabCluster | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-upgrade-'));
    const bin = await buildEarlier(dir);
    c = await startLabCluster({ managers: 3, image: true, bin });
  }, 300_000);

  afterAll(async () => {
    await c?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('keeps the service answering and the cluster whole, one manager at a time', async () => {
    const cl = c as LabCluster;
    const logs = () => cl.nodes.map((n) => `${n.host.name} (${n.bin}):\n${logTail(n, 40)}`).join('\n');
    const running = async (on?: LabClusterNode) =>
      (await cl.json<Task[]>(['service', 'ps', 'up_web'], on)).filter(
        (t) => t.Status.State === 'running' && t.DesiredState === 'running',
      );
    /** Three managers ready and reachable with one leader, as `on` sees them. */
    const whole = async (on: LabClusterNode) => {
      const ns = await cl.json<Node[]>(['node', 'ls'], on);
      return ns.length === 3 &&
        ns.every((n) => n.Status.State === 'ready' && n.ManagerStatus?.Reachability === 'reachable') &&
        ns.filter((n) => n.ManagerStatus?.Leader).length === 1
        ? ns
        : undefined;
    };

    const file = join(dir as string, 'stack.yml');
    writeFileSync(file, STACK);
    const deployed = await cl.skiff(['stack', 'deploy', '-c', file, 'up']);
    expect(deployed.code, deployed.stderr).toBe(0);
    const before = await waitFor(async () => ((await running()).length === 3 ? running() : undefined), {
      what: 'web running on the three hosts (earlier build)',
      timeoutMs: 120_000,
    });
    const spec = (await cl.json<Service[]>(['service', 'inspect', 'up_web']))[0]?.Spec;
    expect(spec).toBeDefined();
    await waitFor(
      async () =>
        (await Promise.all(cl.nodes.map((n) => get(`http://${n.addr}:8080/`, 1000)))).every(Boolean),
      {
        what: 'every host answering on 8080 (earlier build)',
        timeoutMs: 60_000,
      },
    );

    const loop = requestLoop(cl.nodes, 240_000);
    const steps: string[] = [];
    try {
      // Followers first, the leader last (its stop moves leadership to an upgraded one).
      const leader = await cl.leader();
      const order = [...cl.managers.filter((m) => m !== leader), leader];
      for (const m of order) {
        const t0 = Date.now();
        await cl.stopDaemon(m);
        const stoppedMs = Date.now() - t0;
        m.bin = SKIFF_BIN;
        await cl.restartDaemon(m);
        await waitFor(() => whole(m), { what: `${m.host.name} back in a whole cluster`, timeoutMs: 60_000 });
        await waitFor(
          async () => {
            const h = await cl.api(m).health();
            return h.status === 200 ? h : undefined;
          },
          { what: `${m.host.name} healthy`, timeoutMs: 60_000 },
        );
        await waitFor(async () => ((await running(m)).length === 3 ? true : undefined), {
          what: 'web running three times',
          timeoutMs: 60_000,
        });
        steps.push(
          `${m.host.name}: stopped in ${stoppedMs} ms, back and whole ${Date.now() - t0} ms after the stop`,
        );
      }
    } catch (e) {
      await loop.stop();
      throw new Error(`${String(e)}\n${steps.join('\n')}\n${logs()}`);
    }
    await loop.stop();

    // The figures: per host, and whether any host answered at each moment.
    const report: string[] = [...steps];
    for (const n of cl.nodes) {
      const mine = loop.probes.filter((p) => p.host === n.host.name);
      report.push(
        `${n.host.name}: ${mine.filter((p) => !p.ok).length}/${mine.length} requests failed, longest outage ${longestOutage(mine)} ms`,
      );
    }
    console.log(`rolling upgrade:\n${report.join('\n')}`);
    for (const n of cl.nodes) {
      expect(
        longestOutage(loop.probes.filter((p) => p.host === n.host.name)),
        report.join('\n'),
      ).toBeLessThan(MAX_OUTAGE_MS);
    }

    // All three run this build: their daemons' command lines name this checkout's bin.
    for (const m of cl.managers) {
      const pid = readFileSync(join(m.runDir, 'skiff.pid'), 'utf8').trim();
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(SKIFF_BIN);
    }
    const last = cl.managers[0] as LabClusterNode;
    expect(await whole(last)).toBeDefined();
    // A write is acknowledged, and read back through every manager.
    const wrote = await cl.api(last).createConfig({ Name: 'after-upgrade', Data: 'YQ==' });
    expect(wrote.ID).toBeTruthy();
    for (const m of cl.managers) {
      const configs = await cl.json<{ Spec: { Name: string } }[]>(['config', 'ls'], m);
      expect(configs.map((x) => x.Spec.Name)).toContain('after-upgrade');
    }
    // The service: its replicas run, its spec is the one the earlier build stored.
    const after = await running(last);
    expect(after).toHaveLength(3);
    const kept = after.filter((t) => before.some((b) => b.ID === t.ID)).length;
    console.log(`tasks kept through the upgrade: ${kept}/3`);
    expect((await cl.json<Service[]>(['service', 'inspect', 'up_web']))[0]?.Spec).toEqual(spec);
  }, 420_000);
});
