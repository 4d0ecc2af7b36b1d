// A task whose image's /etc/passwd is hostile — a FIFO, a symbolic link to a host file,
// a file of 2 MiB — fails with a clear task error instead of hanging the agent (a FIFO
// used to block a libuv thread forever) or reading outside the image.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import {
  type BuiltImage,
  buildImage,
  type LayerSpec,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../fixtures/index.js';
import { waitFor } from '../../lab/index.js';
import { socketApi, type TestNode, testNode } from '../../support/skiff-node/index.js';

describe("an image's /etc/passwd is read only as a bounded regular file inside the image", () => {
  let node: TestNode;
  let registry: TestRegistry;
  let hostDir: string;
  const images: BuiltImage[] = [];
  const services: string[] = [];
  const api = (method: string, path: string, body?: unknown) =>
    socketApi(join(node.runDir, 'skiff.sock'), 'test node', method, path, body);

  const push = async (name: string, layer: LayerSpec): Promise<string> => {
    const img = await buildImage({ layers: [layer], config: { Cmd: ['true'] } });
    images.push(img);
    await pushImage(img, registry.host, `acct/${name}:1`);
    return `${registry.host}/acct/${name}:1`;
  };

  /** Creates a service running `image` as `someuser`; answers its first task's error. */
  const taskError = async (name: string, image: string): Promise<string> => {
    const created = await api('POST', '/services/create', {
      Name: name,
      TaskTemplate: { ContainerSpec: { Image: image, User: 'someuser' } },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    services.push(name);
    const id = (created.json as { ID: string }).ID;
    return waitFor(
      async () => {
        const tasks = (await api('GET', '/tasks')).json as Task[];
        return tasks.find((t) => t.ServiceID === id && t.Status.Err)?.Status.Err;
      },
      { what: `a task error for service ${name}`, timeoutMs: 45_000, intervalMs: 200 },
    );
  };

  beforeAll(async () => {
    node = testNode();
    registry = await startRegistry();
    // A host file that would let `someuser` resolve if the image's link were followed out.
    hostDir = mkdtempSync(join(tmpdir(), 'skiff-host-passwd-'));
    writeFileSync(join(hostDir, 'passwd'), 'someuser:x:4242:4242::/:/bin/sh\n');
    const start = await node.skiff(['daemon', 'start']);
    expect(start.code, start.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    for (const s of services) await api('DELETE', `/services/${s}`).catch(() => {});
    await node?.destroy();
    await registry?.stop();
    for (const img of images) await img.remove();
    if (hostDir) rmSync(hostDir, { recursive: true, force: true });
  }, 120_000);

  it('a FIFO /etc/passwd gives a task error at once', async () => {
    const image = await push('fifo', { entries: [{ type: 'fifo', path: '/etc/passwd' }] });
    expect(await taskError('fifo', image)).toMatch(
      /the image's \/etc\/passwd cannot be read: it is a FIFO, not a regular file/,
    );
  }, 60_000);

  it('a /etc/passwd of 2 MiB is refused', async () => {
    const big = `someuser:x:4242:4242::/:/bin/sh\n${'#'.repeat(2 << 20)}\n`;
    const image = await push('big', { entries: [{ type: 'file', path: '/etc/passwd', content: big }] });
    expect(await taskError('big', image)).toMatch(
      /the image's \/etc\/passwd cannot be read: it is larger than 1048576 bytes/,
    );
  }, 60_000);

  it('a /etc/passwd linked to a host file resolves inside the image, never on the host', async () => {
    const image = await push('link', {
      entries: [{ type: 'symlink', path: '/etc/passwd', target: join(hostDir, 'passwd') }],
    });
    expect(await taskError('link', image)).toMatch(/user 'someuser' is not in the image's \/etc\/passwd/);
  }, 60_000);
});
