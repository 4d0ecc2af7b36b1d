// After an agent crash, restore() reconciles: attachments of containers that died in
// the meantime are released (IP, port mappings, record), survivors keep their names and
// ports, and the DNS server answers again.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeNameFor } from '../../../agent/network/names.js';
import { Cleanup, createLab, type Lab, type LabHost, runChecked, waitFor } from '../../lab/index.js';
import { NetworkAgent, Sandbox } from '../../support/network-agent/index.js';

const net = {
  id: 'net-restart',
  name: 'svc_default',
  driver: 'bridge',
  subnet: '10.213.0.0/24',
  gateway: '10.213.0.1',
} as const;

function allocatedIps(agent: NetworkAgent): string[] {
  try {
    return readdirSync(
      path.join(agent.stateDir, 'ipam', readdirSync(path.join(agent.stateDir, 'ipam'))[0] ?? ''),
    ).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  } catch {
    return [];
  }
}

describe('agent restart', () => {
  const cleanup = new Cleanup();
  let lab: Lab;
  let host: LabHost;

  beforeAll(async () => {
    lab = await createLab({ hosts: 1 });
    cleanup.add(() => lab.destroy(), 'lab');
    host = lab.hosts[0]!;
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('releases what dead containers held and keeps the living ones working', async () => {
    const first = await NetworkAgent.start(host);
    cleanup.add(() => first.stop(), 'first agent');
    const keeper = await first.call<{ netnsPath: string; interfaces: { ip: string }[] }>(
      'prepareContainer',
      'keeper',
      [{ network: net, aliases: ['keeper'] }],
      [{ containerPort: 80, hostPort: 8081, protocol: 'tcp' }],
    );
    const gone = await first.call<{ netnsPath: string; interfaces: { ip: string }[] }>(
      'prepareContainer',
      'gone',
      [{ network: net, aliases: ['gone'] }],
      [{ containerPort: 80, hostPort: 9091, protocol: 'tcp' }],
    );
    const goneIp = gone.interfaces[0]!.ip;
    expect(allocatedIps(first).sort()).toEqual([keeper.interfaces[0]!.ip, goneIp].sort());
    const web = new Sandbox('keeper', keeper.netnsPath, host).serveHttp(
      path.join(host.dir, 'www'),
      'still here',
    );
    cleanup.add(() => web.stop(), 'keeper server');

    // The agent dies; while it is down, one container goes away with its namespace.
    await first.stop();
    await runChecked('umount', ['-l', gone.netnsPath]);
    await runChecked('rm', ['-f', gone.netnsPath]);

    const second = await NetworkAgent.start(host);
    cleanup.add(() => second.stop(), 'second agent');
    cleanup.add(() => second.call('releaseContainer', 'keeper'), 'keeper');
    await second.call('restore');

    expect(allocatedIps(second)).toEqual([keeper.interfaces[0]!.ip]);
    expect(readdirSync(path.join(second.stateDir, 'attachments'))).toEqual(['keeper.json']);
    const nat = await runChecked('ip', ['netns', 'exec', host.netns, 'iptables', '-t', 'nat', '-S']);
    expect(nat).not.toMatch(/--dport 9091/);
    expect(nat).toMatch(/--dport 8081/);

    // The survivor is still published and still found by name through the new DNS server.
    const probe = await second.call<{ netnsPath: string }>('prepareContainer', 'probe', [
      { network: net, aliases: [] },
    ]);
    cleanup.add(() => second.call('releaseContainer', 'probe'), 'probe');
    const box = new Sandbox('probe', probe.netnsPath, host);
    expect(await box.lookup('keeper', net.gateway)).toEqual([keeper.interfaces[0]!.ip]);
    expect(await box.lookup('gone', net.gateway)).toEqual([]);
    await waitFor(
      async () =>
        (
          await host.exec('busybox', [
            'timeout',
            '5',
            'busybox',
            'wget',
            '-q',
            '-O',
            '-',
            'http://127.0.0.1:8081/',
          ])
        ).stdout,
      { what: 'published port after restart', timeoutMs: 15_000 },
    );

    // Names are the worker's to change: withdrawn names stop resolving, the address stays.
    await second.call('setNames', 'keeper', []);
    expect(await box.lookup('keeper', net.gateway)).toEqual([]);

    // Releasing the last containers removes the network they created.
    await second.call('releaseContainer', 'probe');
    await second.call('releaseContainer', 'keeper');
    expect(await second.call('listNetworks')).toEqual([]);
  });

  it('removes a network whose last container went away while the agent was down', async () => {
    // Found by the chaos run: the network's record brought it back on restart with no
    // container left to remove it, and its bridge, chain and DNS server stayed for good.
    const lonely = {
      ...net,
      id: 'net-lonely',
      name: 'lonely_default',
      subnet: '10.214.0.0/24',
      gateway: '10.214.0.1',
    };
    const first = await NetworkAgent.start(host);
    cleanup.add(() => first.stop(), 'first agent');
    const c = await first.call<{ netnsPath: string }>('prepareContainer', 'solo', [
      { network: lonely, aliases: ['solo'] },
    ]);
    await first.stop();
    await runChecked('umount', ['-l', c.netnsPath]);
    await runChecked('rm', ['-f', c.netnsPath]);

    const second = await NetworkAgent.start(host);
    cleanup.add(() => second.stop(), 'second agent');
    cleanup.add(() => second.call('removeNetwork', lonely.id), 'lonely network');
    await second.call('restore');
    await second.call('releaseUnusedNetworks');
    expect(await second.call('listNetworks')).toEqual([]);
    const links = await runChecked('ip', ['netns', 'exec', host.netns, 'ip', '-o', 'link', 'show']);
    expect(links).not.toContain(bridgeNameFor(lonely.id));
  });
});
