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
// "Throughout": the service (some host's published port) never fails longer than a
// failover, and neither does a host whose task the new build adopted. A host whose
// daemon was away longer than the heartbeat grace (15 s: on a loaded machine a stop and
// a start can take that) was marked down and its task replaced, as Swarm does; its own
// port is down while the replacement starts, which the figures show.
//
// The earlier commit is 24d0b4d, the first main to carry every format version (store
// `v`, the `skiff-raft-format` stream metadata, the dispatcher `protocol`): a build
// before it cannot tell a newer format from its own, so upgrades are supported from
// there on. Between it and this build lie the routing mesh, the engine API, the raft
// data-key rotation and the VIP batching, so the test crosses real changes of the data
// path and of the state at rest. Its packages are all in this one's lock file at the same
// versions (added ones aside), so it runs with this checkout's node_modules.
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
import { waitFor } from '../../lab/index.js';
import {
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  logTail,
  SKIFF_BIN,
  startLabCluster,
} from '../../support/lab-cluster.js';

const execFile = promisify(execFileCb);

/** The earlier build (see above for why this commit). */
const EARLIER = '24d0b4d532a5ccd72df3e2959b8c413c2ee6a01f';
const REPO = resolve(import.meta.dirname, '../../..');
/**
 * A failover: the longest a port may fail at a stretch. A stopped daemon's containers
 * and port rules stay, so an adopted task's host should not fail at all; the bound
 * leaves room for a leader change (0.4 to 0.8 s here) and a loaded machine.
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

/** Each stretch of failed probes: from its first failure to the next good probe (ms). */
function outages(probes: Probe[]): { from: number; ms: number }[] {
  const out: { from: number; ms: number }[] = [];
  let failingSince: number | undefined;
  for (const p of probes) {
    if (!p.ok) failingSince ??= p.at;
    else if (failingSince !== undefined) {
      out.push({ from: failingSince, ms: p.at - failingSince });
      failingSince = undefined;
    }
  }
  const last = probes.at(-1);
  if (failingSince !== undefined && last) out.push({ from: failingSince, ms: last.at - failingSince + 1 });
  return out;
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

/**
 * The packages of the earlier lock file this checkout's lock does not hold at the same
 * version and integrity: packages added since are fine (the earlier build never loads
 * them), a removed or changed one is not.
 */
function lockPackagesChanged(earlierLock: string, currentLock: string): string[] {
  type Lock = { packages?: Record<string, { version?: string; integrity?: string }> };
  const earlier = (JSON.parse(earlierLock) as Lock).packages ?? {};
  const current = (JSON.parse(currentLock) as Lock).packages ?? {};
  return Object.entries(earlier)
    .filter(([path]) => path !== '') // the root entry lists this checkout's own dependencies
    .filter(
      ([path, meta]) =>
        current[path]?.version !== meta.version || current[path]?.integrity !== meta.integrity,
    )
    .map(([path, meta]) => `${path.replace(/^node_modules\//, '')}@${meta.version ?? '?'}`);
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
  const changed = lockPackagesChanged(
    await git(['show', `${EARLIER}:package-lock.json`]),
    readFileSync(join(REPO, 'package-lock.json'), 'utf8'),
  );
  if (changed.length > 0)
    throw new Error(
      `${EARLIER}'s packages are not all in this checkout's node_modules at the same version (${changed.slice(0, 5).join(', ')}): the earlier build cannot run on them; give it its own (npm ci in ${dir}) or pick a later commit`,
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

  /** Why the earlier build or its cluster could not be made: the test fails with it (never skips). */
  let setupError: unknown;

  beforeAll(async () => {
    try {
      dir = mkdtempSync(join(tmpdir(), 'skiff-upgrade-'));
      const bin = await buildEarlier(dir);
      // The default heartbeat (5 s, a node down after 15 s without one), as an operator
      // runs it: a daemon's restart within that keeps its tasks (adopted, not replaced).
      c = await startLabCluster({ managers: 3, image: true, bin, heartbeat: '5s' });
    } catch (e) {
      setupError = e;
    }
  }, 300_000);

  afterAll(async () => {
    await c?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('keeps the service answering and the cluster whole, one manager at a time', async () => {
    if (setupError) throw setupError;
    const cl = c as LabCluster;
    const logs = () => cl.nodes.map((n) => `${n.host.name} (${n.bin}):\n${logTail(n, 40)}`).join('\n');
    const running = async (on?: LabClusterNode) =>
      (await cl.apiTasks(['up_web'], on)).filter(
        (t) => t.Status.State === 'running' && t.DesiredState === 'running',
      );
    /** Three managers ready and reachable with one leader, as `on` sees them. */
    const whole = async (on: LabClusterNode) => {
      const ns = await cl.apiNodes(on);
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
    const spec = (await cl.api().inspectService('up_web')).Spec;
    expect(spec).toBeDefined();
    await waitFor(
      async () =>
        (await Promise.all(cl.nodes.map((n) => get(`http://${n.addr}:8080/`, 1000)))).every(Boolean),
      {
        what: 'every host answering on 8080 (earlier build)',
        timeoutMs: 60_000,
      },
    );

    const loopStart = Date.now();
    const loop = requestLoop(cl.nodes, 400_000);
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
          `${m.host.name}: stop at +${t0 - loopStart} ms took ${stoppedMs} ms, back and whole ${Date.now() - t0} ms after the stop`,
        );
      }
    } catch (e) {
      await loop.stop();
      throw new Error(`${String(e)}\n${steps.join('\n')}\n${logs()}`);
    }
    await loop.stop();

    // Which tasks the new build adopted: a node back within the heartbeat grace keeps its
    // task; one that was not (it was marked down) has it replaced, on its own host here
    // (one replica per node), once it is back.
    const after = await running(cl.managers[0]);
    expect(after).toHaveLength(3);
    const keptOn = (n: LabClusterNode) =>
      before.some((b) => b.NodeID === n.id && after.some((t) => t.ID === b.ID));

    // The figures: per host, and for the service (any host answering in a round).
    const hostProbes = (n: LabClusterNode) => loop.probes.filter((p) => p.host === n.host.name);
    const rounds: Probe[] = [];
    for (let i = 0; i < loop.probes.length; i += cl.nodes.length) {
      const round = loop.probes.slice(i, i + cl.nodes.length);
      rounds.push({ at: round[0]?.at ?? 0, host: 'any', ok: round.some((p) => p.ok) });
    }
    const report: string[] = [...steps];
    for (const n of cl.nodes) {
      const mine = hostProbes(n);
      const list = outages(mine).map((o) => `+${o.from - loopStart}:${o.ms}`);
      report.push(
        `${n.host.name} (task ${keptOn(n) ? 'adopted' : 'replaced'}): ${mine.filter((p) => !p.ok).length}/${mine.length} requests failed, longest outage ${longestOutage(mine)} ms${list.length ? ` (at ms:length ${list.join(' ')})` : ''}`,
      );
    }
    report.push(`the service (some host answering): longest outage ${longestOutage(rounds)} ms`);
    console.log(`rolling upgrade:\n${report.join('\n')}`);
    // The service answers throughout, and every host whose task was adopted did too.
    expect(longestOutage(rounds), report.join('\n')).toBeLessThan(MAX_OUTAGE_MS);
    for (const n of cl.nodes.filter(keptOn)) {
      expect(longestOutage(hostProbes(n)), report.join('\n')).toBeLessThan(MAX_OUTAGE_MS);
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
      const configs = await cl.api(m).listConfigs();
      expect(configs.map((x) => x.Spec.Name)).toContain('after-upgrade');
    }
    // The service: its replicas run, its spec is the one the earlier build stored.
    expect(await running(last)).toHaveLength(3);
    expect((await cl.api(last).inspectService('up_web')).Spec).toEqual(spec);
  }, 420_000);
});
