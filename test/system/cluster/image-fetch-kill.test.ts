// A node serving an image to a peer is killed (kill -9) halfway through the fetch: the
// fetching node resumes the blob from the other node holding it, checks every digest,
// leaves no partial download or snapshot behind, and its task runs. Three managers (the
// killed one may lead: the others keep a quorum). The peers' serving traffic is slowed
// with tc (only their peer port's) so the kill lands mid-blob. Then the fetching node
// itself is killed halfway and started again: it finishes from the bytes it held.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { type LabCluster, type LabClusterNode, logTail, startLabCluster } from '../../support/lab-cluster.js';
import { servedBlobs } from '../../support/skiff-node/index.js';

let c: LabCluster;
let dir: string;

/** Peer endpoint of a lab node: API port 2377 + 3. */
const PEER_PORT = 2380;
/** The random layer's size and the rate each holder serves it at: ~12 s a blob. */
const BLOB_BYTES = 24_000_000;
const SERVE_RATE = '16mbit';

beforeAll(async () => {
  c = await startLabCluster({ managers: 3 });
  dir = mkdtempSync(join(tmpdir(), 'skiff-fetchkill-'));
}, 300_000);

afterAll(async () => {
  await c?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 180_000);

/** Slows what `n` sends from its peer port only (raft and heartbeats keep their pace). */
async function slowPeerServing(n: LabClusterNode): Promise<void> {
  const tc = (...args: string[]) => n.host.run('tc', args);
  await tc('qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'htb', 'default', '10');
  await tc('class', 'add', 'dev', 'eth0', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
  await tc(
    'class',
    'add',
    'dev',
    'eth0',
    'parent',
    '1:',
    'classid',
    '1:20',
    'htb',
    'rate',
    SERVE_RATE,
    'ceil',
    SERVE_RATE,
  );
  await tc(
    'filter',
    'add',
    'dev',
    'eth0',
    'parent',
    '1:',
    'protocol',
    'ip',
    'u32',
    'match',
    'ip',
    'sport',
    String(PEER_PORT),
    '0xffff',
    'flowid',
    '1:20',
  );
}

/** Whether `n` has a connection from its peer port to `to` (it is serving `to` now). */
async function serving(n: LabClusterNode, to: LabClusterNode): Promise<boolean> {
  const out = await n.host.run('ss', ['-tnH', 'state', 'established', `( sport = :${PEER_PORT} )`]);
  return out.split('\n').some((l) => l.includes(`${to.addr}:`));
}

/** The partial downloads in a node's content store (name → bytes). */
function ingest(n: LabClusterNode): Map<string, number> {
  const d = join(n.stateDir, 'content', 'ingest');
  const out = new Map<string, number>();
  for (const name of readdirSync(d)) out.set(name, statSync(join(d, name)).size);
  return out;
}

const served = (n: LabClusterNode) => servedBlobs(n.stateDir);

async function runningOn(service: string, node: LabClusterNode, timeoutMs: number): Promise<void> {
  await waitFor(
    async () =>
      (await c.api().listTasks({ service: [service] })).some(
        (t) => t.Status.State === 'running' && t.NodeID === node.id,
      ),
    { what: `${service} running on ${node.host.name}`, timeoutMs, intervalMs: 500 },
  );
}

describe('a node is killed halfway through an image fetch', () => {
  it('the fetching node resumes from the other holder, verifies, leaves nothing partial, and runs the task', async () => {
    const [builder, holder, fetcher] = c.managers as [LabClusterNode, LabClusterNode, LabClusterNode];
    const app = join(dir, 'app');
    mkdirSync(app, { recursive: true });
    copyFileSync('/bin/busybox', join(app, 'busybox'));
    // Random bytes: compression keeps their size, so the blob takes a while at SERVE_RATE.
    writeFileSync(
      join(app, 'Dockerfile'),
      [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        `RUN ["/bin/busybox", "sh", "-c", "/bin/busybox head -c ${BLOB_BYTES} /dev/urandom > /blob"]`,
        'CMD ["/bin/busybox", "sleep", "3600"]',
        '',
      ].join('\n'),
    );
    const file = join(dir, 'compose.yaml');
    writeFileSync(
      file,
      [
        'services:',
        '  seed:',
        '    build: ./app',
        '    deploy:',
        '      placement:',
        `        constraints: ["node.id == ${holder.id}"]`,
        '',
      ].join('\n'),
    );
    // Built on the builder, fetched by the holder: two nodes hold it.
    const deploy = await c.skiff(
      ['stack', 'deploy', '--build', '-c', file, '--wait', '--timeout', '3m', 'fk'],
      builder,
    );
    expect(deploy.code, `${deploy.stderr}\n${logTail(builder)}`).toBe(0);
    await runningOn('fk_seed', holder, 60_000);
    const inspected = JSON.parse((await c.skiff(['image', 'inspect', 'fk-seed'], builder)).stdout) as {
      Id: string;
      Manifest: { Digest: string };
      Layers: { digest: string; size: number }[];
    }[];
    const image = inspected[0]!;
    const big = image.Layers.reduce((a, l) => (l.size > a.size ? l : a));
    expect(big.size).toBeGreaterThan(BLOB_BYTES * 0.9);
    const pinned = `fk-seed@${image.Manifest.Digest}`;

    await slowPeerServing(builder);
    await slowPeerServing(holder);
    const create = await c.skiff(
      ['service', 'create', '--detach', '--name', 'fetch', '--constraint', `node.id==${fetcher.id}`, pinned],
      builder,
    );
    expect(create.code, create.stderr).toBe(0);

    // Halfway through the big layer, kill -9 the node serving it.
    const bigHex = big.digest.slice('sha256:'.length);
    await waitFor(() => (ingest(fetcher).get(bigHex) ?? 0) > BLOB_BYTES / 4, {
      what: 'the fetcher to hold a quarter of the big layer',
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    const victim = await waitFor(
      async () => {
        for (const n of [builder, holder]) if (await serving(n, fetcher)) return n;
        return undefined;
      },
      { what: 'the node serving the fetcher', timeoutMs: 10_000, intervalMs: 50 },
    );
    const survivor = victim === builder ? holder : builder;
    const before = ingest(fetcher).get(bigHex) ?? 0;
    await c.killDaemon(victim);
    expect(ingest(fetcher).get(bigHex) ?? 0).toBeLessThan(big.size);

    // The task runs on the fetcher, from the survivor's bytes, resumed where the victim stopped.
    await runningOn('fetch', fetcher, 180_000);
    const resumed = served(survivor).filter((s) => s.digest === big.digest && s.peer === fetcher.id);
    expect(resumed.length, logTail(fetcher)).toBeGreaterThan(0);
    expect(resumed.every((s) => s.offset >= before)).toBe(true);
    expect(Math.max(...resumed.map((s) => s.offset + s.bytes))).toBe(big.size);

    // Checked by digest, recorded under its repo digest, nothing partial left.
    const got = JSON.parse((await c.skiff(['image', 'inspect', pinned], fetcher)).stdout) as { Id: string }[];
    expect(got[0]!.Id).toBe(image.Id);
    const blobs = join(fetcher.stateDir, 'content', 'blobs', 'sha256');
    for (const l of image.Layers) {
      const hex = l.digest.slice('sha256:'.length);
      expect(statSync(join(blobs, hex)).size).toBe(l.size);
      const sum = await fetcher.host.run('sha256sum', [join(blobs, hex)]);
      expect(sum.split(' ')[0]).toBe(hex);
    }
    expect([...ingest(fetcher).keys()]).toEqual([]);
    expect(readdirSync(join(fetcher.stateDir, 'snapshots', 'tmp'))).toEqual([]);
  }, 600_000);

  it('a fetching node killed halfway finishes after its restart, resuming the blob where it stopped', async () => {
    // The first case's image, held by the builder and the holder (the one killed there is
    // started again); the fetcher gives its copy up, then fetches it again and is killed.
    for (const n of c.managers) if (!c.alive(n)) await c.restartDaemon(n);
    const [builder, holder, fetcher] = c.managers as [LabClusterNode, LabClusterNode, LabClusterNode];
    const image = (
      JSON.parse((await c.skiff(['image', 'inspect', 'fk-seed'], builder)).stdout) as {
        Id: string;
        Manifest: { Digest: string };
        Layers: { digest: string; size: number }[];
      }[]
    )[0]!;
    const pinned = `fk-seed@${image.Manifest.Digest}`;
    expect((await c.skiff(['service', 'rm', 'fetch'], builder)).code).toBe(0);
    const big = image.Layers.reduce((a, l) => (l.size > a.size ? l : a));
    const bigHex = big.digest.slice('sha256:'.length);
    const bigBlob = join(fetcher.stateDir, 'content', 'blobs', 'sha256', bigHex);
    await waitFor(
      async () => (await c.skiff(['image', 'prune', '-a'], fetcher)).code === 0 && !existsSync(bigBlob),
      { what: 'the fetcher to give the image up', timeoutMs: 60_000, intervalMs: 500 },
    );
    const create = await c.skiff(
      [
        'service',
        'create',
        '--detach',
        '--name',
        'refetch',
        '--constraint',
        `node.id==${fetcher.id}`,
        pinned,
      ],
      builder,
    );
    expect(create.code, create.stderr).toBe(0);
    await waitFor(() => (ingest(fetcher).get(bigHex) ?? 0) > BLOB_BYTES / 4, {
      what: 'the fetcher to hold a quarter of the big layer',
      timeoutMs: 120_000,
      intervalMs: 100,
    });
    await c.killDaemon(fetcher);
    const kept = ingest(fetcher).get(bigHex) ?? 0;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(big.size);
    // The holder logs the serving its kill cut short; what is logged after that is new.
    const cut = (n: LabClusterNode) =>
      served(n).some(
        (s) => s.digest === big.digest && s.peer === fetcher.id && s.offset + s.bytes < big.size,
      );
    await waitFor(() => cut(builder) || cut(holder), {
      what: 'the cut serving to be logged',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const seen = new Map([builder, holder].map((n) => [n, served(n).length]));
    await c.restartDaemon(fetcher);

    await runningOn('refetch', fetcher, 180_000);
    // After the restart the big blob was asked for from the bytes already held, not from 0.
    const after = [builder, holder]
      .flatMap((n) => served(n).slice(seen.get(n)))
      .filter((s) => s.digest === big.digest && s.peer === fetcher.id);
    expect(after.length, logTail(fetcher)).toBeGreaterThan(0);
    expect(Math.min(...after.map((s) => s.offset))).toBeGreaterThanOrEqual(kept);
    const got = JSON.parse((await c.skiff(['image', 'inspect', pinned], fetcher)).stdout) as { Id: string }[];
    expect(got[0]!.Id).toBe(image.Id);
    const blobs = join(fetcher.stateDir, 'content', 'blobs', 'sha256');
    for (const l of image.Layers) {
      const hex = l.digest.slice('sha256:'.length);
      const sum = await fetcher.host.run('sha256sum', [join(blobs, hex)]);
      expect(sum.split(' ')[0]).toBe(hex);
    }
    expect([...ingest(fetcher).keys()]).toEqual([]);
  }, 600_000);
});
