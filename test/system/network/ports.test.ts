// Published ports through the CNI portmap plugin, with the host's FORWARD policy set to
// DROP first: 8080:80/tcp and 10001:10001/udp answer at the host's 127.0.0.1 (portmap's
// OUTPUT DNAT plus route_localnet on the bridge; chosen over a userland proxy because it
// keeps the data path in the kernel, needs no process per port, and the plugin already
// sets it up) and at the host's address, from the host itself and from another host.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeNameFor } from '../../../agent/network/index.js';
import { Cleanup, createLab, type Lab, type LabHost, runChecked, waitFor } from '../../lab/index.js';
import { NetworkAgent, Sandbox, udpAskScript } from '../../support/network-agent/index.js';

const net = {
  id: 'net-ports',
  name: 'web_default',
  driver: 'bridge',
  subnet: '10.211.0.0/24',
  gateway: '10.211.0.1',
} as const;

async function wwwDir(host: LabHost, text: string): Promise<string> {
  const dir = path.join(host.dir, `www-${text}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'index.html'), text);
  return dir;
}

async function httpFrom(host: LabHost, url: string): Promise<string | undefined> {
  const r = await host.exec('busybox', ['timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url]);
  return r.code === 0 ? r.stdout : undefined;
}

async function udpFrom(host: LabHost, ip: string, port: number, text: string): Promise<string | undefined> {
  const r = await host.exec(process.execPath, ['-e', udpAskScript(ip, port, text)], { timeoutMs: 10_000 });
  return r.code === 0 ? r.stdout : undefined;
}

describe('published ports with FORWARD policy DROP', () => {
  const cleanup = new Cleanup();
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  let agent: NetworkAgent;

  beforeAll(async () => {
    lab = await createLab({ hosts: 2 });
    cleanup.add(() => lab.destroy(), 'lab');
    [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    // The policy of the host under test; restored before the lab goes away.
    const before = await runChecked('ip', ['netns', 'exec', h1.netns, 'iptables', '-S', 'FORWARD']);
    const policy = /^-P FORWARD (\w+)/m.exec(before)?.[1] ?? 'ACCEPT';
    await runChecked('ip', ['netns', 'exec', h1.netns, 'iptables', '-P', 'FORWARD', 'DROP']);
    cleanup.add(
      () => runChecked('ip', ['netns', 'exec', h1.netns, 'iptables', '-P', 'FORWARD', policy]),
      'policy',
    );

    agent = await NetworkAgent.start(h1);
    cleanup.add(() => agent.stop(), 'agent');
    await agent.ensureNetwork(net);
    cleanup.add(() => agent.removeNetwork(net.id), 'network');
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('answers 8080:80/tcp and 10001:10001/udp at 127.0.0.1 and the host address, then withdraws them', async () => {
    const { netnsPath } = await agent.createSandbox('web-1');
    cleanup.add(() => agent.removeSandbox('web-1'), 'sandbox');
    await agent.attach(
      'web-1',
      netnsPath,
      [{ networkId: net.id, aliases: ['web'] }],
      [
        { containerPort: 80, hostPort: 8080, protocol: 'tcp' },
        { containerPort: 10001, hostPort: 10001, protocol: 'udp' },
      ],
    );
    const box = new Sandbox('web-1', netnsPath, h1);
    const http = box.serveHttp(`${h1.dir}/www`, 'published');
    cleanup.add(() => http.stop(), 'http server');
    const udp = box.serveUdpEcho(10001);
    cleanup.add(() => udp.stop(), 'udp server');

    expect(await runChecked('ip', ['netns', 'exec', h1.netns, 'iptables', '-S', 'FORWARD'])).toMatch(
      /^-P FORWARD DROP/m,
    );
    // 127.0.0.1 works because portmap enabled route_localnet on the network's bridge.
    const localnet = await h1.exec('cat', [
      `/proc/sys/net/ipv4/conf/${bridgeNameFor(net.id)}/route_localnet`,
    ]);
    expect(localnet.stdout.trim()).toBe('1');
    await waitFor(() => httpFrom(h1, 'http://127.0.0.1:8080/'), {
      what: 'port 8080 on 127.0.0.1',
      timeoutMs: 15_000,
    });
    expect(await httpFrom(h1, 'http://127.0.0.1:8080/')).toBe('published');
    expect(await httpFrom(h1, `http://${h1.addr}:8080/`)).toBe('published');
    expect(await httpFrom(h2, `http://${h1.addr}:8080/`)).toBe('published');

    await waitFor(() => udpFrom(h1, '127.0.0.1', 10001, 'ping'), {
      what: 'udp 10001 on 127.0.0.1',
      timeoutMs: 15_000,
    });
    expect(await udpFrom(h1, '127.0.0.1', 10001, 'one')).toBe('echo:one');
    expect(await udpFrom(h1, h1.addr, 10001, 'two')).toBe('echo:two');
    expect(await udpFrom(h2, h1.addr, 10001, 'three')).toBe('echo:three');

    await agent.detach('web-1');
    expect(await httpFrom(h1, 'http://127.0.0.1:8080/')).toBeUndefined();
    expect(await udpFrom(h2, h1.addr, 10001, 'four')).toBeUndefined();
    const nat = await runChecked('ip', ['netns', 'exec', h1.netns, 'iptables', '-t', 'nat', '-S']);
    expect(nat).not.toMatch(/--dport (8080|10001)/);
  });

  it('lets containers out through the DROP policy (masqueraded), except on internal networks', async () => {
    const outside = h2.spawn('busybox', ['httpd', '-f', '-p', '8000', '-h', await wwwDir(h2, 'outside')]);
    cleanup.add(() => outside.kill('SIGKILL'), 'outside server');
    const internal = {
      id: 'net-internal',
      name: 'db_internal',
      driver: 'bridge',
      subnet: '10.211.5.0/24',
      gateway: '10.211.5.1',
      internal: true,
    } as const;
    await agent.ensureNetwork(internal);
    cleanup.add(() => agent.removeNetwork(internal.id), 'internal network');
    const boxes: Sandbox[] = [];
    for (const [id, networkId] of [
      ['out-1', net.id],
      ['in-1', internal.id],
      ['in-2', internal.id],
    ] as const) {
      const { netnsPath } = await agent.createSandbox(id);
      cleanup.add(() => agent.removeSandbox(id), `sandbox ${id}`);
      await agent.attach(id, netnsPath, [{ networkId, aliases: [id] }]);
      boxes.push(new Sandbox(id, netnsPath, h1));
    }
    const [out1, in1, in2] = boxes as [Sandbox, Sandbox, Sandbox];
    expect(
      await waitFor(() => out1.httpGet(h2.addr, 8000), { what: 'egress to h2', timeoutMs: 15_000 }),
    ).toBe('outside');
    expect(await in1.httpGet(h2.addr, 8000, 2)).toBeUndefined();
    // Peers on the internal network still talk.
    const server = in2.serveHttp(`${h1.dir}/www-in2`, 'inside');
    cleanup.add(() => server.stop(), 'internal server');
    const in2Ip = (await in1.lookup('in-2', internal.gateway))[0];
    expect(in2Ip).toMatch(/^10\.211\.5\./);
    expect(await waitFor(() => in1.httpGet(in2Ip!, 80), { what: 'internal peer', timeoutMs: 15_000 })).toBe(
      'inside',
    );
  });

  it('publishes on one host address only when asked to', async () => {
    const { netnsPath } = await agent.createSandbox('local-only');
    cleanup.add(() => agent.removeSandbox('local-only'), 'sandbox local-only');
    await agent.attach(
      'local-only',
      netnsPath,
      [{ networkId: net.id, aliases: [] }],
      [{ containerPort: 80, hostPort: 8082, protocol: 'tcp', hostIp: '127.0.0.1' }],
    );
    const server = new Sandbox('local-only', netnsPath, h1).serveHttp(`${h1.dir}/www-local`, 'local only');
    cleanup.add(() => server.stop(), 'local-only server');
    expect(
      await waitFor(() => httpFrom(h1, 'http://127.0.0.1:8082/'), {
        what: '127.0.0.1:8082',
        timeoutMs: 15_000,
      }),
    ).toBe('local only');
    expect(await httpFrom(h2, `http://${h1.addr}:8082/`)).toBeUndefined();
  });

  it("passes the plugin's own error on, naming the network, and leaves nothing behind", async () => {
    const tiny = {
      id: 'net-tiny',
      name: 'tiny_default',
      driver: 'bridge',
      subnet: '10.211.9.0/30',
      gateway: '10.211.9.1',
    } as const;
    await agent.ensureNetwork(tiny);
    cleanup.add(() => agent.removeNetwork(tiny.id), 'tiny network');
    const paths: string[] = [];
    for (const id of ['tiny-1', 'tiny-2']) {
      paths.push((await agent.createSandbox(id)).netnsPath);
      cleanup.add(() => agent.removeSandbox(id), `sandbox ${id}`);
    }
    // Bad input is refused before any plugin runs.
    await expect(
      agent.attach('tiny-1', paths[0]!, [{ networkId: tiny.id, aliases: [], ipv4Address: '10.99.0.5' }]),
    ).rejects.toThrow(/network tiny_default: 10\.99\.0\.5 is not a free host address/);
    // A /30 has one address left after the gateway: host-local (via bridge) refuses the second.
    const first = await agent.attach('tiny-1', paths[0]!, [{ networkId: tiny.id, aliases: [] }]);
    expect(first.interfaces[0]?.ip).toBe('10.211.9.2');
    await expect(agent.attach('tiny-2', paths[1]!, [{ networkId: tiny.id, aliases: [] }])).rejects.toThrow(
      /^network tiny_default: bridge plugin failed: .*no IP addresses available/,
    );
    // The failed attachment was rolled back: after the first leaves, the second gets its address.
    await agent.detach('tiny-1');
    const second = await agent.attach('tiny-2', paths[1]!, [{ networkId: tiny.id, aliases: [] }]);
    expect(second.interfaces[0]?.ip).toBe('10.211.9.2');
  });
});
