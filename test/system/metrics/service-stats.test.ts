// `GET /skiff/services/{id}/stats` on a real single node: a service's running tasks with
// the CPU and memory their cgroups count (the dashboard's charts read it).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStats, Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/stats-busybox:1';

function get(socketPath: string, path: string) {
  return new Promise<{ status: number; body: string }>((done, fail) => {
    const req = request({ socketPath, method: 'GET', path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', fail);
    req.end();
  });
}

describe('service stats', () => {
  let node: TestNode;
  let dir: string;
  const socket = () => join(node.runDir, 'skiff.sock');

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-stats-'));
    const imp = await importBusybox(node, dir, 'stats\n', IMAGE);
    expect(imp.code, imp.stderr).toBe(0);
    for (const args of [
      // Each task holds 8 MiB in a /dev/shm (tmpfs) file, counted in its cgroup's memory.
      [
        '--name',
        'sbusy',
        '--replicas',
        '2',
        IMAGE,
        'sh',
        '-c',
        'dd if=/dev/zero of=/dev/shm/f bs=1M count=8 && sleep 3600',
      ],
      ['--name', 'sidle', '--replicas', '0', IMAGE, 'sleep', '3600'],
    ]) {
      const r = await node.skiff(['service', 'create', '--detach', ...args]);
      expect(r.code, r.stderr).toBe(0);
    }
    await waitFor(
      async () => {
        const ts = JSON.parse((await get(socket(), '/tasks')).body) as Task[];
        return ts.filter((t) => t.Status.State === 'running').length === 2;
      },
      { what: '2 tasks running', timeoutMs: 120_000, intervalMs: 250 },
    );
  }, 240_000);

  afterAll(async () => {
    if (node) {
      await node.skiff(['service', 'rm', 'sbusy', 'sidle']);
      await node.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("answers each running task's memory as its cgroup counts it, and its CPU time", async () => {
    const tasks = (JSON.parse((await get(socket(), '/tasks')).body) as Task[]).filter(
      (t) => t.Status.State === 'running',
    );
    const runtimeDir = join(node.stateDir, 'runtime');
    const cgroupOf = new Map<string, string>();
    for (const id of readdirSync(runtimeDir)) {
      try {
        const rec = JSON.parse(readFileSync(join(runtimeDir, id, 'container.json'), 'utf8')) as {
          labels: Record<string, string>;
          cgroupsPath: string;
        };
        cgroupOf.set(rec.labels['com.docker.swarm.task.id'] ?? '', rec.cgroupsPath);
      } catch {
        // not a container's directory
      }
    }
    const memory = (taskId: string) =>
      Number(
        readFileSync(
          join('/sys/fs/cgroup/memory', cgroupOf.get(taskId) ?? '', 'memory.usage_in_bytes'),
          'utf8',
        ),
      );
    // The 8 MiB file is written once the task runs: wait until both cgroups count it.
    await waitFor(() => tasks.every((t) => memory(t.ID) >= 8 << 20), {
      what: 'the tmpfs files',
      timeoutMs: 30_000,
    });
    const before = new Map(tasks.map((t) => [t.ID, memory(t.ID)]));
    const res = await get(socket(), '/skiff/services/sbusy/stats');
    const after = new Map(tasks.map((t) => [t.ID, memory(t.ID)]));
    expect(res.status, res.body).toBe(200);
    const stats = JSON.parse(res.body) as ServiceStats;
    expect(stats.serviceName).toBe('sbusy');
    expect(stats.unreachable).toEqual([]);
    expect(stats.tasks.map((t) => t.taskId).sort()).toEqual(tasks.map((t) => t.ID).sort());
    for (const s of stats.tasks) {
      const t = tasks.find((x) => x.ID === s.taskId) as Task;
      expect(s.nodeId).toBe(t.NodeID);
      const lo = Math.min(before.get(s.taskId) ?? 0, after.get(s.taskId) ?? 0);
      const hi = Math.max(before.get(s.taskId) ?? 0, after.get(s.taskId) ?? 0);
      expect(s.memoryBytes).toBeGreaterThanOrEqual(lo * 0.95);
      expect(s.memoryBytes).toBeLessThanOrEqual(hi * 1.05);
      expect(s.cpuNanos).toBeGreaterThan(0);
      expect(Math.abs(s.timeMs - Date.now())).toBeLessThan(60_000);
    }
  });

  it('answers no tasks for a service with none running, and 404 for an unknown service', async () => {
    const idle = await get(socket(), '/skiff/services/sidle/stats');
    expect(idle.status, idle.body).toBe(200);
    expect((JSON.parse(idle.body) as ServiceStats).tasks).toEqual([]);
    const missing = await get(socket(), '/skiff/services/nosuch/stats');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toEqual({ message: 'service nosuch not found' });
  });
});
