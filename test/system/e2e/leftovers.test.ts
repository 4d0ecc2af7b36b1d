// A test that fails before `compose down` must still leave the machine clean: the test
// node's destroy() removes the containers, mounts, bridges and firewall chains it left.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { network } from '../../../agent/index.js';
import { runCommand } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

describe('a test node left running with a stack up', () => {
  const node: TestNode = testNode();
  const dir = mkdtempSync(join(tmpdir(), 'skiff-leftovers-'));
  let destroyed = false;

  afterAll(async () => {
    if (!destroyed) await node.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is cleaned up by destroy(): no bridge, chain, mount or conmon remains', async () => {
    const imp = await importBusybox(node, dir, 'left behind\n', 'localhost/lo:1');
    expect(imp.code).toBe(0);
    writeFileSync(
      join(dir, 'compose.yaml'),
      [
        'name: leftovers',
        'services:',
        '  web:',
        '    image: localhost/lo:1',
        '    command: ["httpd", "-f", "-p", "80", "-h", "/www"]',
        '',
      ].join('\n'),
    );
    const up = await node.skiff(['compose', 'up', '-d'], { cwd: dir });
    expect(up.code).toBe(0);

    const networksDir = join(node.stateDir, 'network', 'networks');
    const defs = readdirSync(networksDir).map(
      (f) => JSON.parse(readFileSync(join(networksDir, f), 'utf8')) as { id: string; subnet: string },
    );
    expect(defs.length).toBeGreaterThan(0);
    // The node's networks come from its own address pool (--default-addr-pool).
    const poolPrefix = String(node.env.SKIFF_DEFAULT_ADDR_POOL).split('.').slice(0, 2).join('.');
    for (const d of defs) expect(d.subnet.startsWith(`${poolPrefix}.`)).toBe(true);
    const ids = defs.map((d) => d.id);
    const bridges = ids.map((id) => network.bridgeNameFor(id));
    const links = async () => (await runCommand('ip', ['-o', 'link', 'show'])).stdout;
    for (const b of bridges) expect(await links()).toContain(b);

    destroyed = true;
    await node.destroy();

    const after = await links();
    for (const b of bridges) expect(after).not.toContain(b);
    const chains = (await runCommand('iptables', ['-w', '5', '-S'])).stdout;
    for (const b of bridges) expect(chains).not.toContain(b);
    expect((await runCommand('pgrep', ['-f', `conmon.*${node.runDir}`])).stdout.trim()).toBe('');
    const mounts = readFileSync('/proc/mounts', 'utf8');
    expect(mounts).not.toContain(node.runDir);
    expect(mounts).not.toContain(node.stateRoot);
  });
});
