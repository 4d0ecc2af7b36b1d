// `skiff -H tcp://… dashboard` against the TCP API of a real `skiff cluster init` node:
// the dashboard reaches a remote manager over mutual TLS with the CLI's own client and
// certificates, on the address --listen names.
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Node } from '../../../lib/index.js';
import { freePort } from '../../lab/index.js';
import { type TestNode, testNode } from '../../support/skiff-node/index.js';
import { plainGet, sessionFor, startDashboardCli, stopProcess } from './helpers.js';

describe('skiff dashboard of a remote manager over mTLS', () => {
  let node: TestNode;
  let host: string;
  let certs: string;
  let dashboard: { proc: ChildProcess; url: string } | undefined;

  beforeAll(async () => {
    node = testNode();
    const port = await freePort();
    host = `tcp://127.0.0.1:${port}`;
    const init = await node.skiff([
      'cluster',
      'init',
      '--advertise-addr',
      '127.0.0.1',
      '--port',
      String(port),
    ]);
    expect(init.code, init.stderr).toBe(0);
    certs = mkdtempSync(join(tmpdir(), 'skiff-dash-certs-'));
    const own = join(node.stateDir, 'certs');
    copyFileSync(join(own, 'ca.crt'), join(certs, 'ca.pem'));
    copyFileSync(join(own, 'node.crt'), join(certs, 'cert.pem'));
    copyFileSync(join(own, 'node.key'), join(certs, 'key.pem'));
  });

  afterAll(async () => {
    await stopProcess(dashboard?.proc);
    await node?.destroy();
    if (certs) rmSync(certs, { recursive: true, force: true });
  });

  it('shows the remote cluster through the CLI’s TLS client, on the --listen address', async () => {
    const listen = await freePort();
    dashboard = await startDashboardCli(
      node,
      [
        '--host',
        host,
        '--tlscacert',
        join(certs, 'ca.pem'),
        '--tlscert',
        join(certs, 'cert.pem'),
        '--tlskey',
        join(certs, 'key.pem'),
      ],
      ['--listen', `127.0.0.1:${listen}`],
    );
    expect(dashboard.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${listen}/\\?token=[0-9a-f]{64}$`));
    const get = await sessionFor(dashboard.url);
    const info = await get('/api/node/info');
    expect(info.status).toBe(200);
    expect((JSON.parse(info.body) as { Name: string }).Name).toBe(hostname());
    const nodes = await get('/api/node/nodes');
    expect(nodes.status).toBe(200);
    const [leader] = JSON.parse(nodes.body) as Node[];
    expect(leader?.ManagerStatus?.Leader).toBe(true);
    expect(leader?.Description?.Hostname).toBe(hostname());
    // The join tokens stay out of reach.
    expect((await get('/api/node/swarm')).status).toBe(404);
    expect(await plainGet(new URL('/api/node/info', dashboard.url).href)).toBe(401);
    expect(await stopProcess(dashboard.proc)).toBe(0);
  });
});
