// `skiff cluster backup` while writes go on, then a disaster (node stopped, its state
// wiped), `skiff cluster restore`, `skiff daemon start`: every write acknowledged before
// the backup began is back and the service is defined again. A
// truncated or damaged backup is refused and leaves the node's state as it was.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCommand, waitFor } from '../../lab/index.js';
import {
  importBusybox,
  removeNodeLeftovers,
  socketApi,
  type TestNode,
  testNode,
} from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/backup-busybox:1';
const SECRET = 'the secret survives a restore';

/** Every file's path and contents under `dir`, hashed: equal hashes, untouched state. */
function hashTree(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      h.update(`${p}\0${st.mode}\0`);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('cluster backup and restore', () => {
  let node: TestNode;
  let dir: string;
  const api = (method: string, path: string, body?: unknown) =>
    socketApi(join(node.runDir, 'skiff.sock'), 'the test node', method, path, body);
  const page = (port: number) =>
    waitFor(
      async () => {
        const r = await runCommand('busybox', ['wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`], {
          timeoutMs: 10_000,
        });
        return r.code === 0 ? r.stdout : undefined;
      },
      { what: `the page on 127.0.0.1:${port}`, timeoutMs: 90_000, intervalMs: 250 },
    );

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-backup-'));
    const imp = await importBusybox(node, dir, 'unused\n', IMAGE);
    expect(imp.code, imp.stderr).toBe(0);
  });

  afterAll(async () => {
    if (node) {
      await node.skiff(['service', 'rm', 'bk-web']);
      await node.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('restores every acknowledged write and the service definition after the state is wiped; refuses a bad file untouched', async () => {
    const secret = await api('POST', '/secrets/create', {
      Name: 'token',
      Data: Buffer.from(SECRET).toString('base64'),
    });
    expect(secret.status, JSON.stringify(secret.json)).toBe(201);
    const secretId = (secret.json as { ID: string }).ID;
    const port = await freePort();
    const service = await api('POST', '/services/create', {
      Name: 'bk-web',
      TaskTemplate: {
        ContainerSpec: {
          Image: IMAGE,
          Command: ['sh', '-c', 'cat /run/secrets/token > /www/index.html && exec httpd -f -p 80 -h /www'],
          Secrets: [
            {
              SecretID: secretId,
              SecretName: 'token',
              File: { Name: 'token', UID: '0', GID: '0', Mode: 0o444 },
            },
          ],
        },
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: port }] },
    });
    expect(service.status, JSON.stringify(service.json)).toBe(201);
    expect(await page(port)).toBe(SECRET);

    // A writer creates configs while the backup runs; each acknowledged write is recorded.
    const acked: string[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const name = `cfg-${i}`;
        const r = await api('POST', '/configs/create', {
          Name: name,
          Data: Buffer.from(name).toString('base64'),
        });
        if (r.status === 201) acked.push(name);
      }
    })();
    await waitFor(async () => acked.length >= 5, {
      what: 'the writer to start',
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    const before = [...acked];
    const file = join(dir, 'cluster.backup');
    const backup = await node.skiff(['cluster', 'backup', file]);
    const during = acked.length;
    await waitFor(async () => acked.length >= during + 3, {
      what: 'writes after the backup',
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    writing = false;
    await writer;
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/Backed up the cluster state at log index \d+/);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // Disaster: the node stops, its containers and cluster state are gone (its images stay).
    const stop = await node.skiff(['daemon', 'stop'], { timeoutMs: 60_000 });
    expect(stop.code, stop.stderr).toBe(0);
    await removeNodeLeftovers(node.stateRoot, node.runDir);
    for (const name of readdirSync(node.stateDir)) {
      if (!['content', 'images.json', 'snapshots'].includes(name))
        rmSync(join(node.stateDir, name), { recursive: true, force: true });
    }

    // A truncated and a damaged copy are refused; the state stays as it was.
    const state = hashTree(node.stateDir);
    const bytes = readFileSync(file);
    const truncated = join(dir, 'truncated.backup');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
    const t = await node.skiff(['cluster', 'restore', truncated]);
    expect(t.code).not.toBe(0);
    expect(t.stderr).toMatch(/truncated/);
    const damaged = join(dir, 'damaged.backup');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 10] = (flipped[flipped.length - 10] ?? 0) ^ 0xff;
    writeFileSync(damaged, flipped);
    const d = await node.skiff(['cluster', 'restore', damaged]);
    expect(d.code).not.toBe(0);
    expect(d.stderr).toMatch(/checksum does not match/);
    expect(hashTree(node.stateDir)).toBe(state);

    const restore = await node.skiff(['cluster', 'restore', file]);
    expect(restore.code, restore.stderr).toBe(0);
    // A second restore over restored state is refused.
    const again = await node.skiff(['cluster', 'restore', file]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already holds cluster state/);

    const start = await node.skiff(['daemon', 'start']);
    expect(start.code, start.stderr).toBe(0);
    const configs = (await api('GET', '/configs')).json as { Spec: { Name: string } }[];
    const names = new Set(configs.map((c) => c.Spec.Name));
    for (const n of before) expect(names.has(n), `config ${n} acknowledged before the backup`).toBe(true);
    const ls = await node.skiff(['service', 'ls']);
    expect(ls.stdout).toMatch(/bk-web/);
    // The service runs again (its old task, whose container went with the wipe, is
    // replaced) and its secret still mounts: the page is the secret's value.
    expect(await page(port)).toBe(SECRET);
  });
});
