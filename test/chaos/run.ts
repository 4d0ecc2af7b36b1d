// The chaos run: 3 managers + 3 workers of the real daemon on lab hosts, real containers.
// Clients write services, secrets and configs through random managers, a request loop
// calls a replicated service through its published port, and a seeded nemesis does one
// fault at a time and heals it. Then, everything healed, it waits for convergence and
// checks the history (history.ts), the services' tasks and each host's leftovers.
//
//   const result = await runChaos({ minutes: 2, seed: 1, log: console.log });
//   result.summary.lost === 0 && result.summary.linearizable && result.summary.orphans === 0
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bridgeNameFor, chainNameFor, nftTableFor, vxlanNameFor } from '../../agent/network/names.js';
import { ApiClient } from '../../cli/api/client.js';
import { isEncryptedNetwork, type Network, type Node, type ServiceSpec, type Task } from '../../lib/index.js';
import { waitFor } from '../lab/index.js';
import {
  containerPids,
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  startLabCluster,
} from '../support/lab-cluster.js';
import {
  type HistoryVerdict,
  judgeHistory,
  type ObjectKind,
  type OpKind,
  type OpRecord,
  type Probe,
  requestFigures,
} from './history.js';
import { type FaultKind, nemesisSchedule, type ScheduledFault } from './nemesis.js';
import { type Rng, rng } from './rng.js';

export interface ChaosOptions {
  minutes: number;
  seed: number;
  /** Where the history, schedule and summary go (JSON). */
  out?: string;
  /** Concurrent writing clients (default 3). */
  clients?: number;
  /** Names per object kind (default 3: svc-0..2, sec-0..2, cfg-0..2). */
  keys?: number;
  /**
   * Call the published port on every host, not only on the hosts that run a replica:
   * for a cluster with a routing mesh (default false: without one, a published port
   * answers only on a node that runs a task).
   */
  everyHost?: boolean;
  /** Only these kinds of fault (default: every kind). */
  kinds?: readonly FaultKind[];
  /** Keep the daemons' logs beside the history even when the run passes (default: on failure only). */
  keepLogs?: boolean;
  log?: (line: string) => void;
}

export interface FaultRecord extends ScheduledFault {
  target: string;
  startedAt: number;
  healedAt: number | null;
  /** How long the cluster took to be whole again after the healing. */
  recoveredMs: number | null;
  /** The daemon exited by itself during the fault (a manager whose raft log could not be written). */
  exited?: boolean;
  error?: string;
}

export interface Orphan {
  host: string;
  what:
    | 'container'
    | 'conmon'
    | 'mount'
    | 'netns'
    | 'veth'
    | 'link'
    | 'iptables chain'
    | 'portmap rule'
    | 'nftables table'
    | 'xfrm state'
    | 'xfrm policy';
  id: string;
}

export interface ChaosSummary {
  seed: number;
  minutes: number;
  faults: Partial<Record<FaultKind, number>>;
  acknowledged: number;
  failed: number;
  unknown: number;
  lost: number;
  linearizable: boolean;
  converged: boolean;
  orphans: number;
  /** Daemons that stopped while their disk was full (and were started again). */
  stoppedOnFullDisk: number;
  requests: number;
  successRate: number;
  longestOutageMs: number;
  /** What the harness itself could not do (a daemon that would not start again at the end): the run fails. */
  harnessErrors: string[];
}

export interface ChaosResult {
  summary: ChaosSummary;
  verdict: HistoryVerdict;
  history: OpRecord[];
  schedule: FaultRecord[];
  probes: Probe[];
  orphans: Orphan[];
  convergence: string[];
  /** Whether the run passes: nothing lost, linearizable, converged, no orphan, no harness error. */
  ok: boolean;
}

const WEB = 'chaos-web';
/** The overlay every client-made service is attached to, so services come and go on it under faults. */
const NET = 'chaos-net';
const WEB_PORT = 18080;
const LABEL = 'chaos.v';
/** A client's request waits this long for an answer before its outcome is unknown. */
const CLIENT_TIMEOUT_MS = 8000;
/** Each host's state filesystem (a tmpfs): an image unpack keeps 256 MiB free (min-free-space). */
const STATE_SIZE = '512m';

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? (() => {});
  const totalMs = Math.round(o.minutes * 60_000);
  const keys = o.keys ?? 3;
  log(`chaos: seed ${o.seed}, ${o.minutes} min; starting 3 managers + 3 workers`);
  const c = await startLabCluster({
    managers: 3,
    workers: 3,
    image: true,
    heartbeat: '1s',
    apiTimeoutMs: 8000,
    // Room for the image, the containers' layers and the raft log, and little more: the
    // fill-disk fault runs it out.
    stateSize: STATE_SIZE,
  });
  const history: OpRecord[] = [];
  const probes: Probe[] = [];
  const schedule: FaultRecord[] = [];
  const paused = new Set<LabClusterNode>();
  const cut = new Set<LabClusterNode>();
  const clients = new Map<LabClusterNode, ApiClient>();
  let t0 = Date.now();
  // Every daemon's log is copied beside the history when the cluster is destroyed; kept
  // only when the run fails.
  const logs = `${o.out ?? join(tmpdir(), `chaos-${o.seed}.json`)}.logs`;
  const logsBefore = process.env.SKIFF_LAB_LOGS;
  process.env.SKIFF_LAB_LOGS = logs;
  let passed = false;
  const now = () => Date.now() - t0;
  const clientOf = (n: LabClusterNode) => {
    let a = clients.get(n);
    if (!a) {
      a = new ApiClient({ host: `unix://${n.runDir}/skiff.sock`, timeoutMs: CLIENT_TIMEOUT_MS });
      clients.set(n, a);
    }
    return a;
  };
  try {
    await c.api().createNetwork({ Name: NET, Driver: 'overlay' });
    await createWeb(c);
    await waitFor(async () => (await runningTasks(c, WEB)).length === 2, {
      what: `2 running replicas of ${WEB}`,
      timeoutMs: 120_000,
      intervalMs: 250,
    });
    log('chaos: cluster up; load and nemesis start');
    t0 = Date.now();
    let stop = false;
    const loops: Promise<void>[] = [];
    // Clients.
    for (let i = 0; i < (o.clients ?? 3); i++) {
      const r = rng(o.seed * 1000 + i + 1);
      loops.push(
        (async () => {
          while (!stop && now() < totalMs) {
            await clientOp(c, r, i, keys, history, now, clientOf);
            await sleep(r.int(100, 400));
          }
        })(),
      );
    }
    // The request loop and its view of where the replicas run.
    let targets: LabClusterNode[] = [];
    const refresh = async () => {
      if (o.everyHost) {
        targets = c.nodes;
        return;
      }
      const m = c.managers.filter((n) => !paused.has(n) && !cut.has(n) && c.alive(n));
      if (m.length === 0) return;
      const ts = await clientOf(m[Math.floor(Math.random() * m.length)]!)
        .listTasks({ service: [WEB] })
        .catch(() => undefined);
      if (!ts) return;
      const hosts = ts.filter(isRunning).map((t) => c.nodeOf(t.NodeID));
      targets = hosts.filter((h): h is LabClusterNode => h !== undefined);
    };
    await refresh();
    loops.push(
      (async () => {
        let lastRefresh = 0;
        let k = 0;
        while (!stop && now() < totalMs) {
          if (now() - lastRefresh > 1000) {
            await refresh();
            lastRefresh = now();
          }
          const target = targets.length ? targets[k++ % targets.length] : undefined;
          const at = now();
          const ok = target ? await httpOk(target.addr, WEB_PORT, 1000) : false;
          probes.push({ at, host: target?.host.name ?? '-', ok });
          await sleep(100);
        }
      })(),
    );
    // The nemesis.
    const plan = nemesisSchedule({ seed: o.seed, totalMs, ...(o.kinds ? { kinds: o.kinds } : {}) });
    const nemesis = (async () => {
      for (const f of plan) {
        if (now() < f.at) await sleep(f.at - now());
        // A fault that would outlast the load is not started (recoveries delay the plan).
        if (stop || now() + f.durationMs > totalMs) return;
        const rec = await doFault(c, f, now, { paused, cut }, log);
        schedule.push(rec);
      }
    })();
    loops.push(nemesis);
    await Promise.all(loops);
    stop = true;
    const loadEnd = now();
    log(`chaos: load over after ${Math.round(loadEnd / 1000)} s; healing and waiting for convergence`);

    // Heal whatever is left (the nemesis heals each fault; this is for a failed healing).
    // What cannot be healed is the run's failure, with its reason, not an exception
    // that would leave no summary.
    const harnessErrors: string[] = [];
    const attempt = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (e) {
        harnessErrors.push(`${what}: ${(e as Error).message}`);
        log(`chaos: ${what} failed: ${(e as Error).message}`);
      }
    };
    for (const n of paused) signal(n, 'SIGCONT');
    paused.clear();
    await attempt('healing the network', () => c.lab.heal());
    cut.clear();
    for (const n of c.nodes)
      if (!c.alive(n) || !c.running(n))
        await attempt(`starting the daemon on ${n.host.name} again`, () => c.restartDaemon(n));
    let healed = harnessErrors.length === 0;
    const convergence: string[] = [];
    try {
      await clusterWhole(c, 120_000);
    } catch (e) {
      healed = false;
      convergence.push(`not whole after healing: ${(e as Error).message}`);
    }

    // Final reads: every manager agrees on every name (those that run, when one would not
    // start again: the writes are still checked).
    const names = objectNames(keys);
    const finals: Map<string, string | null> = await waitFor(
      async () => {
        const seen = await Promise.all(
          c.managers
            .filter((m) => c.running(m))
            .map(async (m) => {
              const out = new Map<string, string | null>();
              for (const [object, name] of names) {
                const invoke = now();
                const value = await readValue(clientOf(m), object, name);
                history.push({
                  id: history.length,
                  client: -1,
                  kind: 'read',
                  object,
                  name,
                  value,
                  via: m.host.name,
                  invoke,
                  response: now(),
                  outcome: 'ok',
                });
                out.set(`${object}/${name}`, value);
              }
              return out;
            }),
        );
        const [first, ...rest] = seen;
        return first && rest.every((s) => [...s].every(([k, v]) => first.get(k) === v)) ? first : undefined;
      },
      {
        what: 'every manager to hold the same services, secrets and configs',
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    ).catch((e: unknown) => {
      convergence.push(`no final state: ${(e as Error).message}`);
      return new Map<string, string | null>();
    });
    const verdict = judgeHistory(history, finals);

    // Convergence: every service on its last spec with its tasks running on ready nodes;
    // nothing of a removed service anywhere; no leftovers on the hosts.
    let orphans: Orphan[] = [];
    if (healed && convergence.length === 0) {
      let problems: string[] = [];
      const converged = await waitFor(
        async () => {
          problems = await convergenceProblems(c, finals);
          orphans = problems.length === 0 ? await findOrphans(c) : [];
          return problems.length === 0 && orphans.length === 0;
        },
        { what: 'convergence and no leftovers', timeoutMs: 180_000, intervalMs: 1000 },
      ).catch(() => false);
      if (!converged && problems.length === 0) log('chaos: converged, but leftovers remain');
      convergence.push(...problems);
    }
    // Probes ran during the load only.
    const figures = requestFigures(probes);
    const faults: Partial<Record<FaultKind, number>> = {};
    for (const f of schedule) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
    const summary: ChaosSummary = {
      seed: o.seed,
      minutes: o.minutes,
      faults,
      acknowledged: verdict.acknowledged,
      failed: verdict.failed,
      unknown: verdict.unknown,
      lost: verdict.lost.length,
      linearizable: verdict.linearizable,
      converged: convergence.length === 0,
      orphans: orphans.length,
      stoppedOnFullDisk: schedule.filter((f) => f.exited).length,
      requests: figures.requests,
      successRate: figures.successRate,
      longestOutageMs: figures.longestOutageMs,
      harnessErrors,
    };
    const ok =
      summary.lost === 0 &&
      summary.linearizable &&
      summary.converged &&
      summary.orphans === 0 &&
      harnessErrors.length === 0;
    const result: ChaosResult = { summary, verdict, history, schedule, probes, orphans, convergence, ok };
    if (o.out) writeFileSync(o.out, `${JSON.stringify(result, jsonSafe, 1)}\n`);
    passed = ok;
    if (!ok || o.keepLogs) log(`chaos: ${ok ? 'passed' : 'failed'}; the daemons' logs go to ${logs}`);
    return result;
  } finally {
    for (const n of paused) signal(n, 'SIGCONT');
    for (const a of clients.values()) await a.close().catch(() => {});
    await c.destroy();
    if (logsBefore === undefined) delete process.env.SKIFF_LAB_LOGS;
    else process.env.SKIFF_LAB_LOGS = logsBefore;
    if (passed && !o.keepLogs) rmSync(logs, { recursive: true, force: true });
  }
}

/** The summary as lines, for the terminal. */
export function formatSummary(s: ChaosSummary): string[] {
  const faults = Object.entries(s.faults)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `seed: ${s.seed}, minutes: ${s.minutes}`,
    `faults: ${faults || 'none'}`,
    `daemons stopped on a full disk: ${s.stoppedOnFullDisk}`,
    `operations acknowledged: ${s.acknowledged} (refused ${s.failed}, unknown outcome ${s.unknown})`,
    `lost: ${s.lost}`,
    `linearizable: ${s.linearizable ? 'yes' : 'no'}`,
    `converged: ${s.converged ? 'yes' : 'no'}`,
    `orphans: ${s.orphans}`,
    `request success rate: ${(s.successRate * 100).toFixed(2)} % of ${s.requests}`,
    `longest outage: ${(s.longestOutageMs / 1000).toFixed(1)} s`,
    ...s.harnessErrors.map((e) => `harness error: ${e}`),
  ];
}

const jsonSafe = (_k: string, v: unknown) => (v === Number.POSITIVE_INFINITY ? 'Infinity' : v);

// ---- the replicated service and the request loop

async function createWeb(c: LabCluster): Promise<void> {
  const spec: ServiceSpec = {
    Name: WEB,
    TaskTemplate: {
      ContainerSpec: {
        Image: LAB_IMAGE,
        Command: ['sh', '-c', 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www'],
        StopGracePeriod: 1e9,
      },
      // Two replicas on two different hosts.
      Placement: { MaxReplicas: 1 },
      RestartPolicy: { Condition: 'any', Delay: 500e6 },
    },
    Mode: { Replicated: { Replicas: 2 } },
    EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishedPort: WEB_PORT }] },
  };
  await c.api().createService(spec);
}

function httpOk(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: '/', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

const isRunning = (t: Task) => t.Status.State === 'running' && t.DesiredState === 'running' && !!t.NodeID;

async function runningTasks(c: LabCluster, service: string): Promise<Task[]> {
  return (await c.api().listTasks({ service: [service] })).filter(isRunning);
}

// ---- clients

const KIND_PREFIX: Record<ObjectKind, string> = { service: 'svc', secret: 'sec', config: 'cfg' };

function objectNames(keys: number): [ObjectKind, string][] {
  const out: [ObjectKind, string][] = [];
  for (const object of ['service', 'secret', 'config'] as const)
    for (let i = 0; i < keys; i++) out.push([object, `${KIND_PREFIX[object]}-${i}`]);
  return out;
}

interface Answer {
  status: number;
  body: string;
}

/** One request; an error means the request may or may not have reached the manager. */
async function call(a: ApiClient, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await a.request({
    method,
    path,
    signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS + 2000),
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: await res.text() };
}

/** A connection that was never made: the request certainly did nothing. */
function neverSent(e: unknown): boolean {
  const code =
    (e as { code?: string; cause?: { code?: string } }).code ??
    (e as { cause?: { code?: string } }).cause?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT';
}

async function readValue(a: ApiClient, object: ObjectKind, name: string): Promise<string | null> {
  const r = await call(a, 'GET', `/${object}s/${name}`);
  if (r.status === 404) return null;
  if (r.status !== 200) throw new Error(`GET /${object}s/${name}: ${r.status} ${r.body}`);
  const o = JSON.parse(r.body) as { Spec: { Labels?: Record<string, string> } };
  return o.Spec.Labels?.[LABEL] ?? '';
}

function serviceSpec(name: string, value: string, replicas: number): ServiceSpec {
  return {
    Name: name,
    Labels: { [LABEL]: value },
    TaskTemplate: {
      ContainerSpec: {
        Image: LAB_IMAGE,
        Command: ['sleep', '3600'],
        Env: [`V=${value}`],
        StopGracePeriod: 1e9,
      },
      RestartPolicy: { Condition: 'any', Delay: 500e6 },
      Networks: [{ Target: NET }],
    },
    Mode: { Replicated: { Replicas: replicas } },
    UpdateConfig: { Parallelism: 0, FailureAction: 'continue', Monitor: 1e9 },
  };
}

async function clientOp(
  c: LabCluster,
  r: Rng,
  client: number,
  keys: number,
  history: OpRecord[],
  now: () => number,
  clientOf: (n: LabClusterNode) => ApiClient,
): Promise<void> {
  const via = r.pick(c.managers);
  const a = clientOf(via);
  const object = r.pick(['service', 'secret', 'config'] as const);
  const name = `${KIND_PREFIX[object]}-${r.int(0, keys - 1)}`;
  // What is there now, through the same manager (not part of the history: see history.ts).
  let current: { ID: string; Version: { Index: number }; Spec: Record<string, unknown> } | null;
  try {
    const got = await call(a, 'GET', `/${object}s/${name}`);
    if (got.status === 404) current = null;
    else if (got.status === 200) current = JSON.parse(got.body);
    else return;
  } catch {
    return;
  }
  const id = history.length;
  const value = `${client}.${id}`;
  let kind: OpKind;
  let method = 'POST';
  let path: string;
  let body: unknown;
  let written: string | null = value;
  if (!current) {
    kind = 'create';
    path = `/${object}s/create`;
    body =
      object === 'service'
        ? serviceSpec(name, value, r.int(1, 2))
        : { Name: name, Labels: { [LABEL]: value }, Data: Buffer.from(`data ${value}`).toString('base64') };
  } else {
    const choice = r.int(0, 4);
    if (choice === 0) {
      kind = 'remove';
      method = 'DELETE';
      path = `/${object}s/${current.ID}`;
      written = null;
    } else {
      const version = current.Version.Index;
      path = `/${object}s/${current.ID}/update?version=${version}`;
      if (object === 'service') {
        const replicas =
          (current.Spec.Mode as { Replicated?: { Replicas?: number } }).Replicated?.Replicas ?? 1;
        kind = choice <= 2 ? 'update' : 'scale';
        body = serviceSpec(name, value, kind === 'scale' ? (replicas % 3) + 1 : replicas);
      } else {
        kind = 'update';
        body = { Name: name, Labels: { [LABEL]: value } };
      }
    }
  }
  const op: OpRecord = {
    id,
    client,
    kind,
    object,
    name,
    value: written,
    via: via.host.name,
    invoke: now(),
    response: null,
    outcome: 'unknown',
  };
  history.push(op);
  try {
    const res = await call(a, method, path, body);
    if (res.status < 300) {
      op.outcome = 'ok';
      op.response = now();
    } else if (res.status < 500) {
      op.outcome = 'fail';
      op.response = now();
      op.detail = `${res.status} ${res.body.slice(0, 200)}`;
    } else op.detail = `${res.status} ${res.body.slice(0, 200)}`;
  } catch (e) {
    if (neverSent(e)) {
      op.outcome = 'fail';
      op.response = now();
    }
    op.detail = (e as Error).message.slice(0, 200);
  }
}

// ---- the nemesis

function pidOf(n: LabClusterNode): number | undefined {
  try {
    const pid = Number(readFileSync(join(n.runDir, 'skiff.pid'), 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function signal(n: LabClusterNode, sig: NodeJS.Signals): void {
  const pid = pidOf(n);
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** The nodes the nemesis has stopped or cut off right now. */
interface FaultState {
  paused: Set<LabClusterNode>;
  cut: Set<LabClusterNode>;
}

/** The managers whose daemon runs, not stopped nor cut off by the nemesis. */
function reachableManagers(c: LabCluster, state: FaultState): LabClusterNode[] {
  return c.managers.filter((m) => c.alive(m) && c.running(m) && !state.paused.has(m) && !state.cut.has(m));
}

/** The nodes as the first reachable manager that answers lists them. */
async function nodesView(c: LabCluster, state: FaultState): Promise<Node[]> {
  let last: unknown = new Error('no manager is reachable');
  for (const m of reachableManagers(c, state)) {
    try {
      return await c.api(m).listNodes();
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

async function doFault(
  c: LabCluster,
  f: ScheduledFault,
  now: () => number,
  state: FaultState,
  log: (line: string) => void,
): Promise<FaultRecord> {
  const rec: FaultRecord = { ...f, target: '?', startedAt: now(), healedAt: null, recoveredMs: null };
  try {
    // Asked through any manager that can answer: one that is down, stopped or cut off is not "no leader".
    const leader = await waitFor(
      async () => {
        for (const m of reachableManagers(c, state)) {
          const nodes = await c
            .api(m)
            .listNodes()
            .catch(() => undefined);
          const it = c.nodeOf(nodes?.find((n) => n.ManagerStatus?.Leader)?.ID);
          if (it) return it;
        }
        return undefined;
      },
      { what: 'a leader', timeoutMs: 30_000, intervalMs: 200 },
    );
    const followers = c.managers.filter((m) => m !== leader);
    const choose = <T>(xs: readonly T[]) => xs[f.pick % xs.length]!;
    let heal: () => Promise<void>;
    switch (f.kind) {
      case 'kill-leader':
      case 'kill-follower':
      case 'kill-agent': {
        const n =
          f.kind === 'kill-leader' ? leader : choose(f.kind === 'kill-follower' ? followers : c.workers);
        rec.target = n.host.name;
        await c.killDaemon(n);
        heal = () => c.restartDaemon(n);
        break;
      }
      case 'pause-manager': {
        const n = choose(c.managers);
        rec.target = n.host.name;
        signal(n, 'SIGSTOP');
        state.paused.add(n);
        heal = async () => {
          signal(n, 'SIGCONT');
          state.paused.delete(n);
        };
        break;
      }
      case 'partition-host': {
        const n = choose(c.nodes);
        rec.target = n.host.name;
        await c.lab.cut(n.host);
        state.cut.add(n);
        heal = async () => {
          await c.lab.restore(n.host);
          state.cut.delete(n);
        };
        break;
      }
      case 'restart-daemon': {
        const n = choose(c.nodes);
        rec.target = n.host.name;
        await c.stopDaemon(n);
        heal = () => c.restartDaemon(n);
        break;
      }
      case 'fill-disk': {
        const n = choose(c.nodes);
        rec.target = n.host.name;
        const free = await c.fillState(n);
        heal = async () => {
          free();
          // A manager whose raft log could not be written stops (as etcd does), within
          // 10 s of the failure (cli/commands/daemon.ts); a worker's agent runs on.
          if (n.role === 'manager')
            await waitFor(() => !c.running(n), {
              what: `the daemon on ${n.host.name} to stop`,
              timeoutMs: 12_000,
              intervalMs: 100,
            }).catch(() => false);
          if (!c.running(n)) {
            rec.exited = true;
            log(`chaos: the daemon on ${n.host.name} stopped on the full disk; starting it again`);
            await c.restartDaemon(n);
          }
        };
        break;
      }
      case 'promote-demote': {
        const n = choose(c.workers);
        rec.target = n.host.name;
        await setRole(c, state, n, 'manager');
        heal = async () => {
          // Demoting a node before it has joined raft would leave the membership half-changed.
          await waitFor(
            async () =>
              (await nodesView(c, state)).find((x) => x.ID === n.id)?.ManagerStatus?.Reachability ===
              'reachable',
            { what: `${n.host.name} a reachable manager`, timeoutMs: 60_000, intervalMs: 250 },
          );
          await setRole(c, state, n, 'worker');
          await waitFor(
            async () => {
              const x = (await nodesView(c, state)).find((y) => y.ID === n.id);
              return x?.Spec.Role === 'worker' && x.ManagerStatus === undefined && x.Status.State === 'ready';
            },
            { what: `${n.host.name} a ready worker again`, timeoutMs: 60_000, intervalMs: 250 },
          );
        };
        break;
      }
    }
    log(`chaos: ${Math.round(now() / 1000)} s ${f.kind} ${rec.target} for ${f.durationMs} ms`);
    await sleep(f.durationMs);
    await heal();
    rec.healedAt = now();
    await clusterWhole(c, 60_000);
    rec.recoveredMs = now() - rec.healedAt;
  } catch (e) {
    rec.error = (e as Error).message;
    log(`chaos: fault ${f.kind} ${rec.target}: ${rec.error}`);
  }
  return rec;
}

/**
 * Sets a node's role through `skiff node promote|demote`, retried (through another manager)
 * until the store says it is done; throws when it never is.
 */
async function setRole(
  c: LabCluster,
  state: FaultState,
  n: LabClusterNode,
  role: 'manager' | 'worker',
): Promise<void> {
  const args = ['node', role === 'manager' ? 'promote' : 'demote', n.id];
  await waitFor(
    async () => {
      if ((await nodesView(c, state)).find((x) => x.ID === n.id)?.Spec.Role === role) return true;
      const via = reachableManagers(c, state)[0];
      if (!via) throw new Error('no manager is reachable');
      const r = await c.skiff(args, via);
      if (r.code !== 0) throw new Error(`skiff ${args.join(' ')}: ${r.stderr.trim()}`);
      return true;
    },
    { what: `skiff ${args.join(' ')}`, timeoutMs: 30_000, intervalMs: 500 },
  );
}

/** Every node ready and every manager reachable under one leader; throws what is missing. */
async function clusterWhole(c: LabCluster, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const views = await Promise.all(
        c.managers.map(async (m) => ({ m, nodes: (await c.api(m).listNodes()) as Node[] })),
      );
      const leaders = new Set<string>();
      let whole = true;
      const seen = views.map(({ m, nodes }) => {
        const leader = c.nodeOf(nodes.find((n) => n.ManagerStatus?.Leader)?.ID)?.host.name ?? 'none';
        leaders.add(leader);
        const notReady = nodes
          .filter((n) => n.Status.State !== 'ready')
          .map((n) => `${c.nodeOf(n.ID)?.host.name ?? n.ID} ${n.Status.State}`);
        if (nodes.length !== c.nodes.length || notReady.length > 0) whole = false;
        return `${m.host.name} sees leader ${leader}, not ready: ${notReady.join(', ') || '-'}`;
      });
      if (!whole || leaders.size !== 1 || leaders.has('none')) throw new Error(seen.join('; '));
      return true;
    },
    { what: 'every node ready and every manager agreeing on the leader', timeoutMs, intervalMs: 250 },
  );
}

// ---- the end: convergence and leftovers

async function convergenceProblems(
  c: LabCluster,
  finals: ReadonlyMap<string, string | null>,
): Promise<string[]> {
  const problems: string[] = [];
  const [services, tasks, nodes] = await Promise.all([
    c.api().listServices(),
    c.api().listTasks(),
    c.api().listNodes(),
  ]);
  const ready = new Set(nodes.filter((n) => n.Status.State === 'ready').map((n) => n.ID));
  const byName = new Map(services.map((s) => [s.Spec.Name, s]));
  const check = (name: string, replicas: number, env?: string) => {
    const s = byName.get(name);
    if (!s) return problems.push(`${name}: missing`);
    const mine = tasks.filter((t) => t.ServiceID === s.ID && isRunning(t));
    const good = mine.filter(
      (t) => ready.has(t.NodeID ?? '') && (!env || t.Spec.ContainerSpec?.Env?.includes(env)),
    );
    if (good.length !== replicas || mine.length !== replicas)
      problems.push(
        `${name}: ${good.length} of ${mine.length} running tasks on the last spec, want ${replicas}`,
      );
    return 0;
  };
  check(WEB, 2);
  for (const [key, value] of finals) {
    if (!key.startsWith('service/')) continue;
    const name = key.slice('service/'.length);
    if (value === null) {
      if (byName.has(name)) problems.push(`${name}: removed, still listed`);
      continue;
    }
    const s = byName.get(name);
    const replicas = s?.Spec.Mode?.Replicated?.Replicas ?? 0;
    check(name, replicas, `V=${value}`);
  }
  // Nothing of a service that is gone.
  const ids = new Set(services.map((s) => s.ID));
  for (const t of tasks)
    if (!ids.has(t.ServiceID) && t.Status.State === 'running')
      problems.push(
        `task ${t.ID} of removed service ${t.ServiceID} runs on ${c.nodeOf(t.NodeID)?.host.name}`,
      );
  return problems;
}

const ID = /^[0-9a-z]{25}$/;

/**
 * What each host runs or holds that no task accounts for: a running container or a
 * conmon of a task that is not running; a mount or network namespace of a task the
 * cluster no longer has (a stopped task in the service's history keeps its rootfs until
 * it is removed, as Docker keeps a stopped container); more veths than attachments.
 */
async function findOrphans(c: LabCluster): Promise<Orphan[]> {
  const [tasks, networks] = await Promise.all([c.api().listTasks(), c.api().listNetworks()]);
  const byId = new Map(tasks.map((t) => [t.ID, t]));
  const describeTask = (id: string) => {
    const t = byId.get(id);
    return t ? `${id} (${t.Status.State}/${t.DesiredState})` : `${id} (gone)`;
  };
  const out: Orphan[] = [];
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '');
  const procs = conmonProcesses();
  for (const n of c.nodes) {
    const mine = tasks.filter((t) => t.NodeID === n.id);
    const live = new Set(mine.filter(isRunning).map((t) => t.ID));
    const known = new Set(mine.map((t) => t.ID));
    const host = n.host.name;
    for (const id of (await containerPids(n)).keys())
      if (!live.has(id)) out.push({ host, what: 'container', id: describeTask(id) });
    for (const p of procs)
      if (p.root === join(n.runDir, 'runtime', 'crun') && !live.has(p.id))
        out.push({ host, what: 'conmon', id: `pid ${p.pid} of ${describeTask(p.id)}` });
    for (const m of mounts) {
      if (!m.startsWith(n.stateRoot) && !m.startsWith(n.runDir)) continue;
      const id = m.split('/').find((seg) => ID.test(seg));
      if (id && !known.has(id)) out.push({ host, what: 'mount', id: `${m} of ${describeTask(id)}` });
    }
    let netns: string[] = [];
    try {
      netns = readdirSync(join(n.runDir, 'network', 'netns'));
    } catch {
      // none yet
    }
    for (const id of netns) if (!known.has(id)) out.push({ host, what: 'netns', id: describeTask(id) });
    // Each running task's interfaces: one veth per network it is attached to.
    const attached = mine.filter(isRunning).reduce((sum, t) => sum + (t.NetworksAttachments?.length ?? 0), 0);
    const veths = (await n.host.run('ip', ['-o', 'link', 'show', 'type', 'veth']))
      .split('\n')
      .filter(Boolean);
    // The host's own link to the switch is a veth too.
    const extra = veths.filter((l) => !/ eth0[@:]/.test(l)).length - attached;
    for (let i = 0; i < extra; i++)
      out.push({ host, what: 'veth', id: `${extra} more veths than attachments` });
    out.push(...(await networkLeftovers(n, mine.filter(isRunning), networks, live)));
  }
  return out;
}

/**
 * A host's network state that its running tasks do not account for: the bridge, VXLAN
 * device, iptables chain and nftables table of a network none of its tasks is on (the
 * ingress network stays while the routing mesh runs; the node's own `bridge` network for
 * standalone containers may stay), portmap rules of containers that do not run, and IPsec
 * state or policies while no network is encrypted.
 */
async function networkLeftovers(
  n: LabClusterNode,
  running: readonly Task[],
  networks: readonly Network[],
  live: ReadonlySet<string>,
): Promise<Orphan[]> {
  const host = n.host.name;
  const out: Orphan[] = [];
  const kept = new Set<string>([`bridge-${n.id.slice(0, 12)}`]);
  for (const net of networks) if (net.Ingress) kept.add(net.Id);
  for (const t of running) for (const a of t.NetworksAttachments ?? []) kept.add(a.Network.Id);
  // Every name a network could leave, mapped back to the network it belongs to.
  const owner = new Map<string, string>();
  for (const id of [...networks.map((x) => x.Id), ...kept]) {
    const label = networks.find((x) => x.Id === id)?.Name ?? id;
    for (const name of [bridgeNameFor(id), vxlanNameFor(id), chainNameFor(id), nftTableFor(id)])
      owner.set(name, kept.has(id) ? '' : label);
  }
  const leftover = (what: Orphan['what'], name: string) => {
    const of = owner.get(name);
    if (of === undefined) out.push({ host, what, id: `${name} of no network the cluster has` });
    else if (of !== '') out.push({ host, what, id: `${name} of ${of}, which no task here is on` });
  };
  const links = await n.host.run('ip', ['-o', 'link', 'show']);
  for (const m of links.matchAll(/^\d+: (sk(?:br|vx)[0-9a-f]+)[@:]/gm)) leftover('link', m[1]!);
  const rules = await n.host.run('iptables-save', []);
  for (const m of new Set([...rules.matchAll(/^:(SKIFF-N-[0-9a-f]+) /gm)].map((x) => x[1]!)))
    leftover('iptables chain', m);
  for (const m of rules.matchAll(/id: \\?"([0-9a-z]+)\\?"/g))
    if (!live.has(m[1]!)) out.push({ host, what: 'portmap rule', id: `of ${m[1]}, which does not run here` });
  const tables = await n.host.run('nft', ['list', 'tables']);
  for (const m of tables.matchAll(/^table \w+ (skiff_ov_[0-9a-f]+)$/gm)) leftover('nftables table', m[1]!);
  if (!networks.some((x) => isEncryptedNetwork(x.Options))) {
    for (const what of ['state', 'policy'] as const) {
      const xfrm = (await n.host.run('ip', ['xfrm', what, 'list'])).trim();
      if (xfrm) out.push({ host, what: `xfrm ${what}`, id: xfrm.split('\n')[0]! });
    }
  }
  return out;
}

/** The conmon processes on the machine, with their container and runtime root. */
function conmonProcesses(): { pid: number; id: string; root: string }[] {
  const out: { pid: number; id: string; root: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!args[0]?.endsWith('conmon')) continue;
    const id = args[args.indexOf('-c') + 1] ?? '';
    const root = args.find((a) => a.startsWith('--root='))?.slice('--root='.length) ?? '';
    if (!id.endsWith('-exec')) out.push({ pid: Number(d), id, root });
  }
  return out;
}
