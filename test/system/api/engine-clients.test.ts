// Node's Engine API clients against a skiff node, as against dockerd: testcontainers
// (a GenericContainer from a local image, an exposed port on a host port the node
// picks, a log wait strategy) and dockerode (list, create, start, inspect, remove).
// testcontainers' reaper ("ryuk") comes from Docker Hub, which tests cannot reach: it is
// off, and the test removes what it started itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/dk-clients:1';
const LABEL = 'io.skiff.test.engine-clients';

let node: TestNode;
let dir: string;
let docker: Docker;

beforeAll(async () => {
  node = testNode();
  dir = mkdtempSync(join(tmpdir(), 'skiff-dkclients-'));
  const imp = await importBusybox(node, dir, 'from-skiff\n', IMAGE);
  expect(imp.code, imp.stderr).toBe(0);
  docker = new Docker({ socketPath: join(node.runDir, 'skiff.sock') });
}, 120_000);

afterAll(async () => {
  if (docker) {
    const left = await docker
      .listContainers({ all: true, filters: { label: [LABEL] } })
      .catch(() => [] as Docker.ContainerInfo[]);
    const tc = await docker
      .listContainers({ all: true, filters: { label: ['org.testcontainers=true'] } })
      .catch(() => [] as Docker.ContainerInfo[]);
    for (const c of [...left, ...tc])
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {});
  }
  if (node) await node.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

function httpGet(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host);
    let out = '';
    sock.setTimeout(5000, () => sock.destroy(new Error('timed out')));
    sock.on('connect', () => sock.write('GET / HTTP/1.0\r\n\r\n'));
    sock.on('data', (d) => {
      out += d.toString();
    });
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

describe('Engine API clients', () => {
  it('dockerode lists, creates, starts, inspects and removes a container', async () => {
    const c = await docker.createContainer({
      Image: IMAGE,
      name: 'dockerode-one',
      Cmd: ['sleep', '600'],
      Labels: { [LABEL]: 'dockerode' },
      HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '' }] } },
    });
    await c.start();
    const info = await c.inspect();
    expect(info.State.Running).toBe(true);
    expect(info.Name).toBe('/dockerode-one');
    expect(info.Config.Labels[LABEL]).toBe('dockerode');
    const bound = Number(info.NetworkSettings.Ports['80/tcp']?.[0]?.HostPort);
    expect(bound).toBeGreaterThan(0);
    const listed = await docker.listContainers({ filters: { label: [`${LABEL}=dockerode`] } });
    expect(listed.map((x) => x.Id)).toEqual([c.id]);
    expect(listed[0]?.Ports).toEqual([{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: bound, Type: 'tcp' }]);
    await c.remove({ force: true, v: true });
    await expect(c.inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(await docker.listContainers({ all: true, filters: { label: [LABEL] } })).toEqual([]);
  }, 120_000);

  it('testcontainers starts a GenericContainer, waits for its log, and stops it', async () => {
    process.env.DOCKER_HOST = `unix://${join(node.runDir, 'skiff.sock')}`;
    process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
    // Loaded here: it reads its configuration from the environment once.
    const { GenericContainer, Wait } = await import('testcontainers');
    const started = await new GenericContainer(IMAGE)
      .withExposedPorts(80)
      .withCommand(['sh', '-c', 'echo web-ready; exec httpd -f -p 80 -h /www'])
      .withWaitStrategy(Wait.forLogMessage('web-ready'))
      .withStartupTimeout(60_000)
      .start();
    try {
      const host = started.getHost();
      const port = started.getMappedPort(80);
      expect(port).toBeGreaterThan(0);
      await waitFor(async () => (await httpGet(host, port).catch(() => '')).endsWith('from-skiff\n'), {
        what: "the container's published port to answer",
        timeoutMs: 20_000,
        intervalMs: 300,
      });
    } finally {
      await started.stop();
    }
    expect(
      await docker.listContainers({ all: true, filters: { label: ['org.testcontainers=true'] } }),
    ).toEqual([]);
  }, 180_000);
});
