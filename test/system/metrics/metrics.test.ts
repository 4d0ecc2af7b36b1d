// The node's Prometheus metrics on a real node running 3 services: the exposition passes
// `promtool check metrics`, task counts by state match `service ps`, a container's memory
// is its cgroup's, and Debian's real Prometheus scrapes `--metrics-addr` and answers
// `skiff_tasks` through its HTTP API.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { freePort, runCommand, waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/metrics-busybox:1';
const SERVICES = ['mweb', 'mone', 'mdone'];

/** GET on the node's API socket (or on TCP when `port` is given): status and body. */
function get(target: { socketPath: string } | { host: string; port: number }, path: string) {
  return new Promise<{ status: number; body: string; type: string }>((done, fail) => {
    const req = request({ ...target, method: 'GET', path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', fail);
    req.end();
  });
}

/** Samples of one family: `name{labels} value` → [{labels, value}]. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

describe('node metrics', () => {
  let node: TestNode;
  let dir: string;
  let metricsPort: number;
  let startedAt: number;
  const socket = () => ({ socketPath: join(node.runDir, 'skiff.sock') });

  const tasks = async () => JSON.parse((await get(socket(), '/tasks')).body) as Task[];

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-metrics-'));
    metricsPort = await freePort();
    startedAt = Date.now() / 1000 - 1;
    node.env.SKIFF_METRICS_ADDR = `127.0.0.1:${metricsPort}`;
    const imp = await importBusybox(node, dir, 'metrics\n', IMAGE);
    expect(imp.code, imp.stderr).toBe(0);
    for (const [name, ...args] of [
      ['mweb', '--replicas', '2', IMAGE, 'sleep', '3600'],
      // A published port joins the ingress network: the task has an eth0 to count bytes on.
      ['mone', '-p', `${await freePort()}:80`, IMAGE, 'sleep', '3600'],
      ['mdone', '--mode', 'replicated-job', IMAGE, 'true'],
    ] as string[][]) {
      const r = await node.skiff(['service', 'create', '--detach', '--name', name as string, ...args]);
      expect(r.code, r.stderr).toBe(0);
    }
    await waitFor(
      async () => {
        const ts = await tasks();
        const running = ts.filter((t) => t.Status.State === 'running').length;
        const complete = ts.filter((t) => t.Status.State === 'complete').length;
        return running === 3 && complete === 1 && ts.length === 4;
      },
      { what: '3 tasks running and 1 complete', timeoutMs: 120_000, intervalMs: 250 },
    );
  }, 240_000);

  afterAll(async () => {
    if (node) {
      await node.skiff(['service', 'rm', ...SERVICES]);
      await node.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('serves an exposition that promtool accepts, with task counts as `service ps` shows them', async () => {
    const res = await get(socket(), '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const check = await runCommand('promtool', ['check', 'metrics'], { input: res.body, timeoutMs: 30_000 });
    expect(check.code, `${check.stdout}${check.stderr}`).toBe(0);

    const ps = await node.skiff(['service', 'ps', ...SERVICES, '--format', '{{.CurrentState}}']);
    expect(ps.code, ps.stderr).toBe(0);
    // "Running 3 seconds ago": the state is the first word.
    const byState = new Map<string, number>();
    for (const state of ps.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[0]!.toLowerCase()))
      byState.set(state, (byState.get(state) ?? 0) + 1);
    const own = samples(res.body, 'skiff_tasks');
    const cluster = samples(res.body, 'skiff_cluster_tasks');
    for (const s of [...own, ...cluster])
      expect(s.value, s.labels.state).toBe(byState.get(s.labels.state ?? '') ?? 0);
    expect(own.find((s) => s.labels.state === 'running')?.value).toBe(3);
    expect(samples(res.body, 'skiff_services')[0]?.value).toBe(3);
    expect(samples(res.body, 'skiff_raft_is_leader')[0]?.value).toBe(1);
    expect(samples(res.body, 'skiff_nodes')).toEqual([
      { labels: { state: 'ready', availability: 'active', role: 'manager' }, value: 1 },
    ]);
    // The service creates above went through the API and raft.
    expect(res.body).toMatch(
      /skiff_api_request_duration_seconds_count\{route="\/services\/create",method="POST",status="201"\} [1-9]/,
    );
    expect(res.body).toMatch(/skiff_raft_proposal_duration_seconds_count\{outcome="ok"\} [1-9]/);
  });

  it("reports each running container's memory as its cgroup counts it, with service, task and node", async () => {
    const running = (await tasks()).filter((t) => t.Status.State === 'running');
    const mone = JSON.parse((await get(socket(), '/services/mone')).body) as { ID: string };
    const web = running.find((t) => t.ServiceID === mone.ID) as Task;
    // The agent's record of the task's container names its cgroup.
    const runtimeDir = join(node.stateDir, 'runtime');
    const rec = readdirSync(runtimeDir)
      .map((id) => {
        try {
          return JSON.parse(readFileSync(join(runtimeDir, id, 'container.json'), 'utf8')) as {
            labels: Record<string, string>;
            cgroupsPath: string;
          };
        } catch {
          return undefined;
        }
      })
      .find((r) => r?.labels['com.docker.swarm.task.id'] === web.ID);
    expect(rec?.cgroupsPath).toBeTruthy();
    const cgroupMemory = () =>
      Number(
        readFileSync(join('/sys/fs/cgroup/memory', rec?.cgroupsPath ?? '', 'memory.usage_in_bytes'), 'utf8'),
      );
    const before = cgroupMemory();
    const res = await get(socket(), '/metrics');
    const after = cgroupMemory();
    const mem = samples(res.body, 'skiff_container_memory_bytes');
    expect(mem).toHaveLength(3);
    const sample = mem.find((s) => s.labels.task === web.ID);
    expect(sample?.labels).toEqual({
      service: 'mone',
      task: web.ID,
      node: web.NodeID,
    });
    // A sleeping busybox barely moves; the scrape read between the two reads here.
    expect(sample?.value).toBeGreaterThanOrEqual(Math.min(before, after) * 0.95);
    expect(sample?.value).toBeLessThanOrEqual(Math.max(before, after) * 1.05);
    const cpu = samples(res.body, 'skiff_container_cpu_seconds_total').find((s) => s.labels.task === web.ID);
    expect(cpu?.value).toBeGreaterThan(0);
    const rx = samples(res.body, 'skiff_container_network_receive_bytes_total').filter(
      (s) => s.labels.task === web.ID,
    );
    expect(rx.map((s) => s.labels.interface)).toContain('eth0');
  });

  it('a real Prometheus scrapes --metrics-addr and answers skiff_tasks', async () => {
    const plain = await get({ host: '127.0.0.1', port: metricsPort }, '/metrics');
    expect(plain.status).toBe(200);
    expect(plain.body).toContain('skiff_tasks{state="running"} 3');

    const promDir = mkdtempSync(join(tmpdir(), 'skiff-prometheus-'));
    const promPort = await freePort();
    writeFileSync(
      join(promDir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: skiff',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${metricsPort}']`,
        '',
      ].join('\n'),
    );
    let prom: ChildProcess | undefined;
    let log = '';
    try {
      prom = spawn(
        'prometheus',
        [
          `--config.file=${join(promDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(promDir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prom.stderr?.on('data', (c: Buffer) => {
        log = (log + c.toString()).slice(-4000);
      });
      const query = encodeURIComponent('skiff_tasks{state="running",job="skiff"}');
      const value = await waitFor(
        async () => {
          const r = await get({ host: '127.0.0.1', port: promPort }, `/api/v1/query?query=${query}`).catch(
            () => undefined,
          );
          if (r?.status !== 200) return undefined;
          const body = JSON.parse(r.body) as { data: { result: { value: [number, string] }[] } };
          return body.data.result[0]?.value[1];
        },
        { what: `Prometheus to have scraped skiff_tasks (log: ${log})`, timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(value).toBe('3');
    } finally {
      if (prom && prom.exitCode === null) {
        const exited = new Promise((r) => prom?.once('exit', r));
        prom.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (prom.exitCode === null) prom.kill('SIGKILL');
      }
      rmSync(promDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('skiff system events replays the services and their containers, in Docker shapes', async () => {
    const r = await node.skiff([
      'system',
      'events',
      '--since',
      startedAt.toFixed(3),
      '--until',
      (Date.now() / 1000).toFixed(3),
      '--filter',
      'type=service',
      '--filter',
      'type=container',
      '--format',
      'json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as {
            Type: string;
            Action: string;
            scope: string;
            Actor: { ID: string; Attributes: Record<string, string> };
          },
      );
    const created = events
      .filter((e) => e.Type === 'service' && e.Action === 'create')
      .map((e) => e.Actor.Attributes.name);
    expect(created.sort()).toEqual([...SERVICES].sort());
    const mone = events.filter(
      (e) => e.Type === 'container' && e.Actor.Attributes['com.docker.swarm.service.name'] === 'mone',
    );
    expect(mone.map((e) => e.Action)).toEqual(expect.arrayContaining(['create', 'start']));
    expect(mone.every((e) => e.scope === 'local')).toBe(true);
    // The job's container ran `true`: it died with exit code 0.
    const died = events.find(
      (e) => e.Action === 'die' && e.Actor.Attributes['com.docker.swarm.service.name'] === 'mdone',
    );
    expect(died?.Actor.Attributes.exitCode).toBe('0');
    const text = await node.skiff([
      'system',
      'events',
      '--since',
      startedAt.toFixed(3),
      '--until',
      (Date.now() / 1000).toFixed(3),
      '--filter',
      'service=mone',
    ]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:]+\.\d{9}Z service create \w+ \(.*name=mone/m);
  });

  it('GET /skiff/health and skiff system health say the node works', async () => {
    const res = await get(socket(), '/skiff/health');
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { healthy: boolean; checks: Record<string, { ok: boolean }> };
    expect(body.healthy).toBe(true);
    expect(Object.keys(body.checks).sort()).toEqual(['agent', 'raft', 'runtime', 'store']);
    const cli = await node.skiff(['system', 'health']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^healthy\n {2}raft: ok/);
    const info = await node.skiff(['system', 'info']);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/^Swarm: active$/m);
  });
});
