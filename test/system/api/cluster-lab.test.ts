// Three managers and two workers on a lab network join with tokens over mTLS; killing
// the leader with SIGKILL leaves a cluster that serves reads and writes again.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Node, Service } from '../../../lib/index.js';
import { requestJoin } from '../../../manager/index.js';
import { createLab, type Lab, type LabHost, type LabProcess, waitFor } from '../../lab/index.js';
import { socketApi } from '../../support/skiff-node/index.js';

const SERVER = join(process.cwd(), 'test/support/dev-server.ts');
const TICK_MS = '50';

let lab: Lab;
const managers = new Map<string, LabProcess>();

const api = (host: LabHost, method: string, path: string, body?: unknown) =>
  socketApi(join(host.dir, 'skiff.sock'), host.name, method, path, body);

function startManagerOn(host: LabHost, join?: { addr: string; token: string }): LabProcess {
  const args = ['--import', 'tsx', SERVER, '--dir', host.dir, '--hostname', host.name];
  args.push('--api', `${host.addr}:2377`, '--raft', `${host.addr}:2378`, '--tick', TICK_MS);
  if (join) args.push('--join', join.addr, '--token', join.token);
  const p = host.spawn(process.execPath, args, {
    cwd: process.cwd(),
    env: { ...process.env, SKIFF_LOG_LEVEL: 'warn' },
  });
  managers.set(host.name, p);
  return p;
}

async function ready(p: LabProcess, what: string): Promise<void> {
  await waitFor(
    () => {
      if (!p.running) throw new Error(`exited: ${p.output().slice(-500)}`);
      return p.output().includes('ready ');
    },
    { what, timeoutMs: 30_000 },
  );
}

async function nodes(host: LabHost): Promise<Node[]> {
  const r = await api(host, 'GET', '/nodes');
  return r.json as Node[];
}

beforeAll(async () => {
  lab = await createLab({ hosts: 5, hostAccess: true });
});

afterAll(async () => {
  await lab?.destroy();
});

describe('a three-manager cluster in the lab', () => {
  it('joins managers and workers with tokens, refuses a worker token for a manager, and survives kill -9 of the leader', async () => {
    try {
      await scenario();
    } catch (e) {
      // The managers' own words make a failure here readable.
      const logs = [...managers]
        .map(([h, p]) => `--- manager on ${h} ---\n${p.output().slice(-3000)}`)
        .join('\n');
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${logs}`, { cause: e });
    }
  }, 120_000);
});

async function scenario(): Promise<void> {
  const [h1, h2, h3, h4, h5] = lab.hosts as [LabHost, LabHost, LabHost, LabHost, LabHost];
  await ready(startManagerOn(h1), 'the first manager');
  const swarm = (await api(h1, 'GET', '/swarm')).json as {
    JoinTokens: { Worker: string; Manager: string };
  };
  const leaderAddr = `${h1.addr}:2377`;

  // A worker token does not make a manager.
  const wrong = startManagerOn(h4, { addr: leaderAddr, token: swarm.JoinTokens.Worker });
  const exit = await wrong.exited();
  expect(exit.code).toBe(1);
  expect(wrong.output()).toMatch(/this is a worker token/);
  managers.delete(h4.name);

  await ready(
    startManagerOn(h2, { addr: leaderAddr, token: swarm.JoinTokens.Manager }),
    'the second manager',
  );
  await ready(startManagerOn(h3, { addr: leaderAddr, token: swarm.JoinTokens.Manager }), 'the third manager');
  for (const w of [h4, h5]) {
    const joined = await requestJoin({
      managerAddr: leaderAddr,
      token: swarm.JoinTokens.Worker,
      hostname: w.name,
    });
    expect(joined.role).toBe('worker');
    expect(joined.manager).toBeUndefined();
  }
  // The worker token refused above left no node behind: 3 managers and 2 workers.
  const all = await waitFor(
    async () => {
      const ns = await nodes(h3);
      return ns.length === 5 && ns.filter((n) => n.ManagerStatus?.Reachability === 'reachable').length === 3
        ? ns
        : undefined;
    },
    { what: 'five nodes, three reachable managers, seen from h3', timeoutMs: 30_000 },
  );
  expect(
    all
      .filter((n) => n.Spec.Role === 'worker')
      .map((n) => n.Description?.Hostname)
      .sort(),
  ).toEqual(['h4', 'h5']);
  const leader = all.find((n) => n.ManagerStatus?.Leader);
  expect(leader?.Description?.Hostname).toBe('h1');

  // Objects written through followers before the crash.
  const svc = await api(h2, 'POST', '/services/create', {
    Name: 'before',
    TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
  });
  expect(svc.status).toBe(201);
  expect((await api(h3, 'POST', '/secrets/create', { Name: 's1', Data: 'c2VjcmV0' })).status).toBe(201);
  expect((await api(h2, 'POST', '/networks/create', { Name: 'n1', Driver: 'overlay' })).status).toBe(201);
  // Voters: both joined managers must be promoted before a leader loss is survivable.
  await waitFor(
    async () =>
      (await api(h2, 'GET', '/services/before')).status === 200 &&
      (await api(h3, 'GET', '/services/before')).status === 200,
    {
      what: 'the service on both followers',
    },
  );

  await managers.get('h1')!.kill('SIGKILL');
  const killedAt = Date.now();
  let n = 0;
  const recovered = await waitFor(
    async () => {
      const r = await api(h2, 'POST', '/services/create', {
        Name: `after-${n++}`,
        TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
      });
      return r.status === 201 ? Date.now() : undefined;
    },
    { what: 'a write through h2 after the leader died', timeoutMs: 20_000, intervalMs: 20 },
  );
  const readOk = await waitFor(
    async () => {
      const r = await api(h3, 'GET', '/services');
      const names = (r.json as Service[]).map((s) => s.Spec.Name);
      return names.includes('before') && names.some((x) => x?.startsWith('after-')) ? Date.now() : undefined;
    },
    { what: 'h3 to read the services written before and after', timeoutMs: 10_000, intervalMs: 20 },
  );
  console.log(
    `leader killed: writes again after ${recovered - killedAt} ms, reads on another manager after ${readOk - killedAt} ms`,
  );
  expect((await api(h3, 'GET', '/secrets/s1')).status).toBe(200);
  expect((await api(h3, 'GET', '/networks/n1')).status).toBe(200);
  const after = await nodes(h2);
  expect(after.find((x) => x.ManagerStatus?.Leader)?.Description?.Hostname).toMatch(/^h[23]$/);
}
