// One host, real CNI plugins: containers on network a find and reach each other by
// name; a container on b can neither resolve nor reach them; one on both reaches both.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeNameFor } from '../../../agent/network/index.js';
import { Cleanup, createLab, type Lab, waitFor } from '../../lab/index.js';
import { NetworkAgent, Sandbox } from '../../support/network-agent/index.js';

const netA = {
  id: 'net-a',
  name: 'app_a',
  driver: 'bridge',
  subnet: '10.210.1.0/24',
  gateway: '10.210.1.1',
} as const;
const netB = {
  id: 'net-b',
  name: 'app_b',
  driver: 'bridge',
  subnet: '10.210.2.0/24',
  gateway: '10.210.2.1',
} as const;

describe('bridge networks on one host', () => {
  const cleanup = new Cleanup();
  let lab: Lab;
  let agent: NetworkAgent;
  const boxes = new Map<string, { box: Sandbox; ips: Map<string, string> }>();

  async function container(id: string, attachments: { networkId: string; aliases: string[] }[]) {
    const { netnsPath } = await agent.createSandbox(id);
    cleanup.add(() => agent.removeSandbox(id), `sandbox ${id}`);
    const { interfaces } = await agent.attach(id, netnsPath, attachments);
    const box = new Sandbox(id, netnsPath, lab.hosts[0]!);
    boxes.set(id, { box, ips: new Map(interfaces.map((i) => [i.networkId, i.ip])) });
    return box;
  }

  beforeAll(async () => {
    lab = await createLab({ hosts: 1 });
    cleanup.add(() => lab.destroy(), 'lab');
    const host = lab.hosts[0]!;
    agent = await NetworkAgent.start(host);
    cleanup.add(() => agent.stop(), 'agent');
    await agent.ensureNetwork(netA);
    cleanup.add(() => agent.removeNetwork(netA.id), 'network a');
    await agent.ensureNetwork(netB);
    cleanup.add(() => agent.removeNetwork(netB.id), 'network b');
    const web = await container('web1', [{ networkId: netA.id, aliases: ['web'] }]);
    await container('client1', [{ networkId: netA.id, aliases: ['client'] }]);
    const other = await container('other1', [{ networkId: netB.id, aliases: ['other'] }]);
    await container('both1', [
      { networkId: netB.id, aliases: ['both'] },
      { networkId: netA.id, aliases: ['both'] },
    ]);
    const webServer = web.serveHttp(`${host.dir}/www-web`, 'hello from web');
    cleanup.add(() => webServer.stop(), 'web server');
    const otherServer = other.serveHttp(`${host.dir}/www-other`, 'hello from other');
    cleanup.add(() => otherServer.stop(), 'other server');
    const webIp = boxes.get('web1')!.ips.get(netA.id)!;
    await waitFor(() => boxes.get('client1')!.box.httpGet(webIp, 80), {
      what: 'web server to answer',
      timeoutMs: 15_000,
    });
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('gives interfaces eth0, eth1 in the order of the networks', async () => {
    const both = boxes.get('both1')!;
    const r = await both.box.exec('ip', ['-4', '-o', 'addr', 'show']);
    expect(r.stdout).toMatch(new RegExp(`eth0\\s+inet ${both.ips.get(netB.id)!.replace(/\./g, '\\.')}/24`));
    expect(r.stdout).toMatch(new RegExp(`eth1\\s+inet ${both.ips.get(netA.id)!.replace(/\./g, '\\.')}/24`));
  });

  it('lets two containers on network a reach each other by name', async () => {
    const client = boxes.get('client1')!.box;
    const webIp = boxes.get('web1')!.ips.get(netA.id)!;
    expect(await client.lookup('web', netA.gateway)).toEqual([webIp]);
    const resolvConf = await agent.resolvConfFor('client1');
    expect(resolvConf).toMatch(/^nameserver 10\.210\.1\.1$/m);
    const file = path.join(lab.hosts[0]!.dir, 'client1-resolv.conf');
    writeFileSync(file, resolvConf);
    expect(await client.httpGetByName(file, 'web', 80)).toBe('hello from web');
    const web = boxes.get('web1')!.box;
    expect(await web.lookup('client', netA.gateway)).toEqual([boxes.get('client1')!.ips.get(netA.id)!]);
  });

  it('keeps a container on network b from resolving or reaching network a', async () => {
    const other = boxes.get('other1')!.box;
    const webIp = boxes.get('web1')!.ips.get(netA.id)!;
    expect(await other.lookup('web', netB.gateway)).toEqual([]);
    // Asking a's DNS address does not help: answers depend on who asks.
    expect(await other.lookup('web', netA.gateway)).toEqual([]);
    expect(await other.httpGet(webIp, 80, 2)).toBeUndefined();
    // ...and network a cannot reach b either.
    expect(
      await boxes.get('client1')!.box.httpGet(boxes.get('other1')!.ips.get(netB.id)!, 80, 2),
    ).toBeUndefined();
  });

  it('lets a container on both networks resolve and reach both', async () => {
    const both = boxes.get('both1')!.box;
    const webIp = boxes.get('web1')!.ips.get(netA.id)!;
    const otherIp = boxes.get('other1')!.ips.get(netB.id)!;
    expect(await both.lookup('web', netB.gateway)).toEqual([webIp]);
    expect(await both.lookup('other', netB.gateway)).toEqual([otherIp]);
    expect(await both.httpGet(webIp, 80)).toBe('hello from web');
    expect(await both.httpGet(otherIp, 80)).toBe('hello from other');
  });
  it("keeps the gateway's MAC (the bridge's) while ports come and go", async () => {
    // Unless given one, a bridge takes its lowest port's MAC: every container's cached
    // gateway MAC went stale when the container with the lowest one left.
    const host = lab.hosts[0]!;
    const bridge = bridgeNameFor(netA.id);
    const mac = async () => {
      const r = await host.exec('ip', ['-j', 'link', 'show', 'dev', bridge]);
      return (JSON.parse(r.stdout) as { address: string }[])[0]?.address;
    };
    const before = await mac();
    const ip = (args: string[]) => host.exec('ip', args).then((r) => expect(r.code, r.stderr).toBe(0));
    await ip([
      'link',
      'add',
      'skt-low',
      'address',
      '02:00:00:00:00:01',
      'type',
      'veth',
      'peer',
      'name',
      'skt-low1',
    ]);
    try {
      await ip(['link', 'set', 'skt-low', 'master', bridge]);
      expect(await mac()).toBe(before);
    } finally {
      await host.exec('ip', ['link', 'del', 'skt-low']);
    }
    expect(await mac()).toBe(before);
    expect(await boxes.get('client1')!.box.lookup('web', netA.gateway)).toEqual([
      boxes.get('web1')!.ips.get(netA.id)!,
    ]);
  });

  // Last: it breaks both1's eth1.
  it('reports through CNI CHECK when an interface went missing', async () => {
    await agent.call('check', 'both1');
    const both = boxes.get('both1')!.box;
    // Something inside the container deletes eth1 (network a).
    expect((await both.exec('ip', ['link', 'del', 'eth1'])).code).toBe(0);
    await expect(agent.call('check', 'both1')).rejects.toThrow(/^network app_a: bridge plugin failed: .+/);
  });
});
