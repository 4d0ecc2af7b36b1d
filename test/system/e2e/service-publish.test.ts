// A service that publishes a port and names no network (`service create -p 8080:80`,
// with skiff's CLI or docker's) joins the cluster's ingress network, so its port answers
// on the node that runs its task; removing the service leaves nothing behind.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network } from '../../../agent/index.js';
import { freePort, runCommand, waitFor } from '../../lab/index.js';
import { LAB_IMAGE, type LabCluster, startLabCluster } from '../../support/lab-cluster.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/e2e-busybox:1';
const HTTPD = ['httpd', '-f', '-p', '80', '-h', '/www'];
// The Docker 28 client on the test machines; Debian's docker.io puts one on PATH.
const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

const fetchPage = (port: number) =>
  runCommand('busybox', ['wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`], { timeoutMs: 10_000 });

interface ApiNetwork {
  Id: string;
  Name: string;
  Ingress: boolean;
}

describe('a service that publishes a port without a network', () => {
  let node: TestNode;
  let dir: string;

  /** The node's API on its unix socket. */
  const api = (method: string, path: string) =>
    new Promise<{ status: number; body: string }>((done, fail) => {
      const req = request({ socketPath: join(node.runDir, 'skiff.sock'), method, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', fail);
      req.end();
    });

  const page = (port: number) =>
    waitFor(
      async () => {
        const r = await fetchPage(port);
        return r.code === 0 ? r.stdout : undefined;
      },
      { what: `the page on 127.0.0.1:${port}`, timeoutMs: 60_000, intervalMs: 200 },
    );

  const ingressNetwork = async (): Promise<ApiNetwork> => {
    const r = await api('GET', '/networks');
    expect(r.status).toBe(200);
    const ingress = (JSON.parse(r.body) as ApiNetwork[]).filter((n) => n.Ingress);
    expect(ingress.map((n) => n.Name)).toEqual(['ingress']);
    return ingress[0] as ApiNetwork;
  };

  /** No task container of the node runs, no task is left, and the ingress bridge is gone. */
  const nothingLeft = async (ingressId: string) => {
    const bridge = network.bridgeNameFor(ingressId);
    await waitFor(
      async () => {
        const conmon = (await runCommand('pgrep', ['-f', `conmon.*${node.runDir}`])).stdout.trim();
        const tasks = JSON.parse((await api('GET', '/tasks')).body) as unknown[];
        const link = await runCommand('ip', ['link', 'show', bridge]);
        return conmon === '' && tasks.length === 0 && link.code !== 0;
      },
      { what: 'no container, task or ingress bridge left', timeoutMs: 60_000, intervalMs: 200 },
    );
  };

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-publish-'));
    const imp = await importBusybox(node, dir, 'published by skiff\n', IMAGE);
    expect(imp.stderr).toBe('');
    const start = await node.skiff(['daemon', 'start']);
    expect(start.code, start.stderr).toBe(0);
  });

  afterAll(async () => {
    if (node) {
      await node.skiff(['service', 'rm', 'web', 'dweb']);
      await node.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('skiff service create -p: the page answers on the published port; rm leaves nothing', async () => {
    const ingress = await ingressNetwork();
    const port = await freePort();
    const create = await node.skiff([
      'service',
      'create',
      '-p',
      `${port}:80`,
      '--name',
      'web',
      IMAGE,
      ...HTTPD,
    ]);
    expect(create.code, create.stderr).toBe(0);
    expect(await page(port)).toBe('published by skiff\n');

    const tasks = JSON.parse((await api('GET', '/tasks')).body) as {
      NetworksAttachments?: { Network: { Id: string } }[];
    }[];
    expect(tasks.map((t) => t.NetworksAttachments?.map((a) => a.Network.Id))).toEqual([[ingress.Id]]);

    // In use by the service: the ingress network stays.
    const rm = await api('DELETE', '/networks/ingress');
    expect(rm.status).toBe(400);
    expect(rm.body).toMatch(/network ingress is in use by service web/);

    const remove = await node.skiff(['service', 'rm', 'web']);
    expect(remove.code, remove.stderr).toBe(0);
    await nothingLeft(ingress.Id);
    const after = await fetchPage(port);
    expect(after.code).not.toBe(0);
    expect((await ingressNetwork()).Id).toBe(ingress.Id);
  });

  it('docker service create -p through DOCKER_HOST publishes the port too; docker network ls shows ingress', async () => {
    const docker = (args: string[], input?: string) =>
      runCommand(DOCKER, args, {
        ...(input === undefined ? {} : { input }),
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          DOCKER_HOST: `unix://${join(node.runDir, 'skiff.sock')}`,
          DOCKER_CONFIG: join(dir, 'docker-config'),
        },
        timeoutMs: 60_000,
      });
    const port = await freePort();
    const create = await docker([
      'service',
      'create',
      '--detach',
      '--no-resolve-image',
      '-p',
      `${port}:80`,
      '--name',
      'dweb',
      IMAGE,
      ...HTTPD,
    ]);
    expect(create.code, create.stderr).toBe(0);
    expect(await page(port)).toBe('published by skiff\n');

    const ls = await docker([
      'network',
      'ls',
      '--filter',
      'name=ingress',
      '--format',
      '{{.Name}} {{.Driver}} {{.Scope}}',
    ]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.trim()).toBe('ingress overlay swarm');
    const inspect = await docker(['network', 'inspect', 'ingress', '--format', '{{.Ingress}}']);
    expect(inspect.stdout.trim()).toBe('true');
    // docker asks before it removes the routing-mesh network: yes.
    const rmNet = await docker(['network', 'rm', 'ingress'], 'y\n');
    expect(rmNet.code).not.toBe(0);
    expect(rmNet.stderr).toMatch(/in use by service dweb/);

    const ingress = await ingressNetwork();
    const rm = await docker(['service', 'rm', 'dweb']);
    expect(rm.code, rm.stderr).toBe(0);
    await nothingLeft(ingress.Id);
  });
});

describe('a service that publishes a port without a network, on a cluster', () => {
  let c: LabCluster;

  beforeAll(async () => {
    c = await startLabCluster({ managers: 1, workers: 1, image: true });
  }, 240_000);

  afterAll(async () => {
    await c?.skiff(['service', 'rm', 'web']).catch(() => {});
    await c?.destroy();
  });

  // No routing mesh: the port answers on the node that runs the task (over the ingress
  // overlay network's interface), which the test reaches from the manager's host.
  it('answers on the node running its task', async () => {
    const worker = c.workers[0];
    const manager = c.managers[0];
    if (!worker || !manager) throw new Error('the lab cluster has no worker or manager');
    const create = await c.skiff([
      'service',
      'create',
      '-p',
      '8080:80',
      '--constraint',
      'node.role==worker',
      '--name',
      'web',
      '--timeout',
      '90s',
      LAB_IMAGE,
      ...HTTPD,
    ]);
    expect(create.code, create.stderr).toBe(0);
    const tasks = await c.apiTasks(['web']);
    expect(tasks.map((t) => t.NodeID)).toEqual([worker.id]);
    expect(tasks[0]?.NetworksAttachments?.map((a) => a.Network.Name)).toEqual(['ingress']);
    const page = await waitFor(
      async () => {
        const r = await manager.host.exec(
          'busybox',
          ['wget', '-q', '-O', '-', `http://${worker.addr}:8080/`],
          {
            timeoutMs: 10_000,
          },
        );
        return r.code === 0 ? r.stdout : undefined;
      },
      { what: `the page on ${worker.addr}:8080`, timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(page).toBe('lab\n');

    const rm = await c.skiff(['service', 'rm', 'web']);
    expect(rm.code, rm.stderr).toBe(0);
    await waitFor(async () => (await c.api().listServices()).length === 0, {
      what: 'the service gone',
      timeoutMs: 30_000,
    });
  });
});
