// Three managers and two workers of real `skiff daemon`s, joined from the CLI with
// tokens: the token decides the role, a worker token cannot make a manager, and after
// kill -9 of the leader's daemon another manager serves reads and writes within 2 s
// while the agents on the surviving nodes find the new leader without restarting
// their tasks.
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Node, Task } from '../../../lib/index.js';
import { requestJoin } from '../../../manager/index.js';
import { waitFor } from '../../lab/index.js';
import { LAB_IMAGE, type LabCluster, type LabClusterNode, startLabCluster } from './helpers.js';

let c: LabCluster;

/** One API call on a manager's unix socket (no CLI start-up in the timings). */
function api(
  n: LabClusterNode,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: join(n.runDir, 'skiff.sock'),
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
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} on ${n.host.name} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

const running = (tasks: Task[]) =>
  tasks.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');

beforeAll(async () => {
  c = await startLabCluster({ managers: 3, workers: 2, image: true });
}, 300_000);

afterAll(async () => {
  await c?.destroy();
}, 120_000);

describe('a cluster of three manager daemons and two workers', () => {
  it('joins them from the CLI with the role the token gives', async () => {
    const ns = await c.json<Node[]>(['node', 'ls'], c.managers[2]);
    expect(ns.filter((n) => n.Status.State === 'ready')).toHaveLength(5);
    const roleOf = (n: LabClusterNode) => ns.find((x) => x.ID === n.id)?.Spec.Role;
    expect(c.nodes.map(roleOf)).toEqual(['manager', 'manager', 'manager', 'worker', 'worker']);
    expect(ns.filter((n) => n.ManagerStatus?.Leader)).toHaveLength(1);
    await waitFor(
      async () => {
        const now = await c.json<Node[]>(['node', 'ls']);
        return now.filter((n) => n.ManagerStatus?.Reachability === 'reachable').length === 3;
      },
      { what: 'three reachable managers', timeoutMs: 60_000 },
    );
  });

  it('refuses a worker token asking for a manager, and a TCP client without a certificate', async () => {
    const m = c.managers[0]!;
    const workerToken = (await c.skiff(['cluster', 'join-token', 'worker', '-q'])).stdout.trim();
    const before = (await c.json<Node[]>(['node', 'ls'])).length;
    await expect(
      requestJoin({
        managerAddr: `${m.addr}:2377`,
        token: workerToken,
        hostname: 'intruder',
        raftAddr: `${c.lab.rootAddr}:2378`,
      }),
    ).rejects.toMatchObject({ code: 'forbidden' });
    expect(await c.json<Node[]>(['node', 'ls'])).toHaveLength(before);
    const anonymous = await new Promise<number | string>((resolve) => {
      const req = httpsRequest(
        { host: m.addr, port: 2377, path: '/nodes', rejectUnauthorized: false, timeout: 5000 },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', (e) => resolve(e.message));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    expect(anonymous).toBe(401);
  });

  it('survives kill -9 of the leader daemon: the API and the agents move to the new leader', async () => {
    const created = await c.skiff([
      'service',
      'create',
      '--name',
      'web',
      '--replicas',
      '5',
      '--timeout',
      '120s',
      LAB_IMAGE,
      'sleep',
      '3600',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const network = await api(c.managers[0]!, 'POST', '/networks/create', { Name: 'n1', Driver: 'overlay' });
    expect(network.status).toBe(201);
    const secret = await api(c.managers[1]!, 'POST', '/secrets/create', { Name: 's1', Data: 'c2VjcmV0' });
    expect(secret.status).toBe(201);
    const config = await api(c.managers[2]!, 'POST', '/configs/create', { Name: 'c1', Data: 'Y29uZmln' });
    expect(config.status).toBe(201);
    const tasksBefore = running(await c.json<Task[]>(['service', 'ps', 'web']));
    expect(tasksBefore).toHaveLength(5);

    const leader = await c.leader();
    const survivors = c.managers.filter((m) => m !== leader);
    const [a, b] = survivors as [LabClusterNode, LabClusterNode];
    // From before the kill: the figure includes waiting for the process to be gone.
    const killedAt = Date.now();
    await c.killDaemon(leader);
    let n = 0;
    const writable = await waitFor(
      async () => {
        const r = await api(a, 'POST', '/configs/create', { Name: `after-${n++}`, Data: 'eA==' }).catch(
          () => undefined,
        );
        return r?.status === 201 ? Date.now() : undefined;
      },
      { what: `a write through ${a.host.name} after the leader died`, timeoutMs: 30_000, intervalMs: 20 },
    );
    const readable = await waitFor(
      async () => {
        const r = await api(b, 'GET', '/configs').catch(() => undefined);
        const names = ((r?.json ?? []) as { Spec: { Name: string } }[]).map((x) => x.Spec.Name);
        return names.some((x) => x.startsWith('after-')) ? Date.now() : undefined;
      },
      { what: `${b.host.name} to read the write`, timeoutMs: 30_000, intervalMs: 20 },
    );
    console.log(
      `leader daemon killed: writes again after ${writable - killedAt} ms, the write read on another manager after ${readable - killedAt} ms`,
    );
    expect(writable - killedAt).toBeLessThan(2000);
    expect(readable - killedAt).toBeLessThan(2000);

    const newLeader = await c.leader();
    console.log(`leader ${leader.host.name} killed, new leader ${newLeader.host.name}`);
    expect(survivors).toContain(newLeader);
    // Every object is intact on the new leader.
    expect((await api(b, 'GET', '/services/web')).status).toBe(200);
    expect((await api(b, 'GET', '/networks/n1')).status).toBe(200);
    expect((await api(b, 'GET', '/secrets/s1')).status).toBe(200);
    expect((await api(b, 'GET', '/configs/c1')).status).toBe(200);

    // The old leader's node goes down; the surviving nodes' agents report to the new leader.
    const down = await waitFor(
      async () => {
        const ns = await c.json<Node[]>(['node', 'ls'], a);
        return ns.find((x) => x.ID === leader.id)?.Status.State === 'down' ? ns : undefined;
      },
      { what: 'the old leader node marked down', timeoutMs: 60_000 },
    );
    expect(down.filter((x) => x.Status.State === 'ready')).toHaveLength(4);
    // Tasks on surviving nodes kept running through the failover: same tasks, still running.
    const kept = tasksBefore.filter((t) => t.NodeID !== leader.id);
    const now = running(await c.json<Task[]>(['service', 'ps', 'web'], a));
    for (const t of kept) expect(now.map((x) => x.ID)).toContain(t.ID);

    expect((await c.skiff(['service', 'scale', 'web=7', '--detach'], a)).code).toBe(0);
    const scaled = await waitFor(
      async () => {
        const ts = running(await c.json<Task[]>(['service', 'ps', 'web'], a));
        return ts.length === 7 && ts.every((t) => t.NodeID !== leader.id) ? ts : undefined;
      },
      { what: 'seven running tasks on the surviving nodes', timeoutMs: 120_000 },
    );
    expect(new Set(scaled.map((t) => t.NodeID)).size).toBeGreaterThanOrEqual(3);
  }, 300_000);
});
