// Registry-less distribution on 3 lab hosts (a manager and two workers), no registry
// anywhere: `stack deploy --build` builds on the manager the CLI talks to, pins the
// service to the built manifest's digest, and the workers fetch the image from the nodes
// holding it over mTLS; a second image built FROM the first moves only its new layer
// (the bytes the nodes served, counted in their logs); `image push --to-cluster` from a
// node outside the cluster loads the image on the manager and has both workers fetch it
// at once, a progress line per node.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { type LabCluster, type LabClusterNode, logTail, startLabCluster } from '../../support/lab-cluster.js';
import { importBusybox, servedBlobs, type TestNode, testNode } from '../../support/skiff-node/index.js';

let c: LabCluster;
let dir: string;
let outside: TestNode | undefined;

beforeAll(async () => {
  c = await startLabCluster({ managers: 1, workers: 2 });
  dir = mkdtempSync(join(tmpdir(), 'skiff-distrib-'));
}, 300_000);

afterAll(async () => {
  await outside?.destroy();
  await c?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 180_000);

/** What a node's peer endpoint served, from its daemon log (one line per blob served). */
const served = (n: LabClusterNode) => servedBlobs(n.stateDir);

function servedBytes(): number {
  return c.nodes.flatMap(served).reduce((a, s) => a + s.bytes, 0);
}

async function runningOn(service: string): Promise<Task[]> {
  return waitFor(
    async () => {
      const tasks = (await c.api().listTasks({ service: [service] })).filter(
        (t) => t.Status.State === 'running' && t.DesiredState === 'running',
      );
      return new Set(tasks.map((t) => t.NodeID)).size === 3 ? tasks : undefined;
    },
    {
      what: `${service} running on all 3 hosts`,
      timeoutMs: 120_000,
      intervalMs: 500,
    },
  );
}

interface ImageInspect {
  Id: string;
  Manifest: { Digest: string };
  Layers: { digest: string; size: number }[];
}

async function imageOn(n: LabClusterNode, ref: string): Promise<ImageInspect> {
  const r = await c.skiff(['image', 'inspect', ref], n);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as ImageInspect[])[0]!;
}

/** A compose file whose services (name: build context) each run one task on each of the 3 hosts. */
function composeFile(builds: Record<string, string>): string {
  const services = Object.entries(builds).flatMap(([name, context]) => [
    `  ${name}:`,
    `    build: ${context}`,
    '    deploy:',
    '      replicas: 3',
    '      placement:',
    '        max_replicas_per_node: 1',
  ]);
  return ['services:', ...services, ''].join('\n');
}

describe('images travel between nodes without a registry', () => {
  it('stack deploy --build runs the built image on all 3 hosts; a second image moves only its new layer', async () => {
    const app = join(dir, 'app');
    mkdirSync(app, { recursive: true });
    copyFileSync('/bin/busybox', join(app, 'busybox'));
    writeFileSync(
      join(app, 'Dockerfile'),
      [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        'RUN echo built-v1 > /greeting',
        'CMD ["/bin/sh", "-c", "cat /greeting; exec sleep 3600"]',
        '',
      ].join('\n'),
    );
    const file = join(dir, 'compose.yaml');
    writeFileSync(file, composeFile({ web: './app' }));
    const manager = c.managers[0]!;
    const deploy = await c.skiff(
      ['stack', 'deploy', '--build', '-c', file, '--wait', '--timeout', '3m', 'ship'],
      manager,
    );
    expect(deploy.code, `${deploy.stderr}\n${logTail(manager)}`).toBe(0);
    expect(deploy.stderr).toContain('Building web');
    const tasks = await runningOn('ship_web');
    const built = await imageOn(manager, 'ship-web');
    for (const t of tasks) expect(t.Spec.ContainerSpec?.Image).toBe(`ship-web@${built.Manifest.Digest}`);
    // Pulled by digest: the workers hold it under its repo digest, untagged (as docker does).
    for (const w of c.workers)
      expect((await imageOn(w, `ship-web@${built.Manifest.Digest}`)).Id).toBe(built.Id);
    const first = c.nodes.flatMap(served);
    expect(first.length).toBeGreaterThan(0);

    // A second image FROM the first: the workers hold its base layers already.
    const two = join(dir, 'two');
    mkdirSync(two, { recursive: true });
    writeFileSync(
      join(two, 'Dockerfile'),
      'FROM ship-web\nRUN echo built-v2 > /greeting2\nCMD ["/bin/sh", "-c", "cat /greeting2; exec sleep 3600"]\n',
    );
    writeFileSync(file, composeFile({ web: './app', two: './two' }));
    const before = servedBytes();
    const mark = c.nodes.map((n) => served(n).length);
    const again = await c.skiff(
      ['stack', 'deploy', '-c', file, '--wait', '--timeout', '3m', 'ship'],
      manager,
    );
    expect(again.code, again.stderr).toBe(0);
    // web's image is there: only two is built.
    expect(again.stderr).not.toContain('Building web');
    expect(again.stderr).toContain('Building two');
    await runningOn('ship_two');
    const layers = (await imageOn(manager, 'ship-two')).Layers;
    const base = (await imageOn(manager, 'ship-web')).Layers.map((l) => l.digest);
    const fresh = layers.filter((l) => !base.includes(l.digest));
    expect(fresh.length).toBe(1);
    const moved = servedBytes() - before;
    const freshBytes = fresh.reduce((a, l) => a + l.size, 0);
    // Each worker got the new layer, the config and the manifest: never a base layer again.
    const newlyServed = c.nodes.flatMap((n, i) => served(n).slice(mark[i]));
    expect(newlyServed.filter((s) => base.includes(s.digest))).toEqual([]);
    expect(moved).toBeGreaterThanOrEqual(2 * freshBytes);
    expect(moved).toBeLessThan(2 * freshBytes + 64 * 1024);
  }, 600_000);

  it('image push --to-cluster seeds every node in parallel from the node it loaded the image on', async () => {
    outside = testNode();
    const imported = await importBusybox(outside, dir, 'seeded\n', 'localhost/seed:1');
    expect(imported.code, imported.stderr).toBe(0);
    const manager = c.managers[0]!;
    const mark = c.nodes.map((n) => served(n).length);
    const pushed = await c.skiff(
      [
        'image',
        'push',
        '--to-cluster',
        '--from',
        `unix://${join(outside.runDir, 'skiff.sock')}`,
        'localhost/seed:1',
      ],
      manager,
    );
    expect(pushed.code, `${pushed.stderr}\n${logTail(manager)}`).toBe(0);
    const ref = pushed.stdout.trim();
    expect(ref).toMatch(/^localhost\/seed:1@sha256:[a-f0-9]{64}$/);
    const id = (await imageOn(manager, ref)).Id;
    for (const w of c.workers) expect((await imageOn(w, ref)).Id).toBe(id);
    // One line per node (its ID, then its hostname): the manager had it (loaded), each worker fetched it.
    const line = (n: LabClusterNode, what: string) => new RegExp(`${n.id.slice(0, 12)} \\S*: ${what}`);
    expect(pushed.stderr).toMatch(line(manager, 'has it'));
    for (const w of c.workers) expect(pushed.stderr).toMatch(line(w, 'fetched'));
    // Both workers read the blobs from the manager's peer endpoint.
    const fresh = served(manager).slice(mark[0]);
    expect(new Set(fresh.map((s) => s.peer)).size).toBe(2);
    // Only the nodes named, with --nodes: a node that holds it says so.
    const again = await c.skiff(
      [
        'image',
        'push',
        '--to-cluster',
        '--from',
        `unix://${join(outside.runDir, 'skiff.sock')}`,
        '--nodes',
        c.workers[0]!.id,
        'localhost/seed:1',
      ],
      manager,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(line(c.workers[0]!, 'has it'));
    expect(again.stderr).not.toContain(c.workers[1]!.id.slice(0, 12));
  }, 300_000);
});
