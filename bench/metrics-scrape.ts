// Scrape time of a node's `GET /metrics` with N real containers running (one service of
// N replicas of a busybox `sleep`): every container's CPU, memory and network are read
// from its cgroup and network namespace during the scrape. Median and p95 over the
// scrapes, on the API's unix socket; the goal is under 50 ms at 100 containers.
//   npx tsx bench/metrics-scrape.ts [--containers 100] [--scrapes 50]
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import {
  benchDaemon,
  median,
  percentile,
  REPO_ROOT,
  round,
  runChecked,
  runCommand,
  waitFor,
} from './lib/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const containers = arg('--containers', tiny ? 3 : 100);
const scrapes = arg('--scrapes', tiny ? 3 : 50);
const IMAGE = 'localhost/bench-metrics:1';

function call(socketPath: string, method: string, path: string, body?: unknown) {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method,
        path,
        timeout: 30_000,
        headers: data === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new Error('the metrics scrape benchmark needs root (it runs containers)');
  const daemon = await benchDaemon([join(REPO_ROOT, 'bin', 'skiff.js')]);
  const running = async () => {
    const r = await call(daemon.socket, 'GET', '/tasks');
    return (JSON.parse(r.text) as { Status: { State: string } }[]).filter((t) => t.Status.State === 'running')
      .length;
  };
  try {
    await daemon.start();
    // A busybox image made here, imported through the node's API.
    const root = join(daemon.dir, 'rootfs');
    await mkdir(join(root, 'bin'), { recursive: true });
    await mkdir(join(root, 'etc'), { recursive: true });
    execFileSync('cp', ['/bin/busybox', join(root, 'bin', 'busybox')]);
    execFileSync('ln', ['-s', 'busybox', join(root, 'bin', 'sleep')]);
    await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    const tarball = join(daemon.dir, 'busybox.tgz');
    await runChecked('tar', ['-C', root, '-czf', tarball, '.']);
    await runChecked(
      process.execPath,
      [join(REPO_ROOT, 'bin', 'skiff.js'), 'image', 'import', tarball, IMAGE],
      {
        env: { ...process.env, SKIFF_HOST: `unix://${daemon.socket}` },
      },
    );
    const created = await call(daemon.socket, 'POST', '/services/create', {
      Name: 'bench-metrics',
      TaskTemplate: { ContainerSpec: { Image: IMAGE, Command: ['sleep', '3600'] } },
      Mode: { Replicated: { Replicas: containers } },
    });
    if (created.status !== 201) throw new Error(`service create answered ${created.status}: ${created.text}`);
    await waitFor(async () => (await running()) === containers, {
      what: `${containers} containers running`,
      timeoutMs: 600_000,
      intervalMs: 1000,
    });
    // Warm-up, then timed scrapes one after another.
    for (let i = 0; i < 3; i++) await call(daemon.socket, 'GET', '/metrics');
    const ms: number[] = [];
    let series = 0;
    for (let i = 0; i < scrapes; i++) {
      const t0 = performance.now();
      const r = await call(daemon.socket, 'GET', '/metrics');
      ms.push(performance.now() - t0);
      if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}`);
      series = (r.text.match(/^skiff_container_memory_bytes\{/gm) ?? []).length;
    }
    if (series !== containers) throw new Error(`the scrape showed ${series} containers, not ${containers}`);
    const sorted = [...ms].sort((a, b) => a - b);
    const base = { name: 'metrics-scrape', unit: 'ms', containers };
    process.stdout.write(
      `${JSON.stringify({ ...base, metric: `scrape p50 (${containers} containers)`, value: round(median(sorted)) })}\n`,
    );
    process.stdout.write(
      `${JSON.stringify({ ...base, metric: `scrape p95 (${containers} containers)`, value: round(percentile(sorted, 95)) })}\n`,
    );
  } finally {
    // Containers outlive the daemon: remove the service and wait for them to go first.
    await call(daemon.socket, 'DELETE', '/services/bench-metrics').catch(() => undefined);
    await waitFor(
      async () => (await runCommand('pgrep', ['-f', `conmon.*${daemon.dir}`])).stdout.trim() === '',
      { what: 'the benchmark containers to be removed', timeoutMs: 300_000, intervalMs: 500 },
    ).catch((e: unknown) => process.stderr.write(`${String(e)}\n`));
    await daemon.remove();
  }
}

await main();
