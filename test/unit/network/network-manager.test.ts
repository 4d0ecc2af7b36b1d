// NetworkManager's decisions with the host tools faked: what it refuses (and that a
// refusal runs nothing), and how it reads the host's routes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Exec } from '../../../agent/network/exec.js';
import {
  bridgeNameFor,
  DnsServer,
  LocalSubnetAllocator,
  NetworkManager,
} from '../../../agent/network/index.js';

/** The real name table without sockets: unit tests bind nothing. */
class SocketlessDns extends DnsServer {
  override async listen(): Promise<void> {}
  override async stopListening(): Promise<void> {}
}

const bridgeNet = {
  id: 'n1',
  name: 'web_default',
  driver: 'bridge',
  subnet: '10.89.1.0/24',
  gateway: '10.89.1.1',
} as const;

describe('NetworkManager (host tools faked)', () => {
  let dir: string;
  let calls: string[];
  let manager: NetworkManager;
  /** What `ip -batch` (the bridge's set-up) answers. */
  let batchReply: { code: number; stdout: string; stderr: string };
  let batchInputs: string[];
  const routes = JSON.stringify([
    { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' },
    { dst: '192.0.2.0/24', dev: 'eth0' },
    { dst: '10.89.0.0/24', dev: 'docker0' },
    { dst: '127.0.0.1', type: 'local', dev: 'lo' },
    { dst: 'fe80::/64' },
  ]);

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-net-unit-'));
    calls = [];
    batchInputs = [];
    batchReply = { code: 0, stdout: '', stderr: '' };
    const exec: Exec = async (file, args, opts) => {
      calls.push([file, ...args].join(' '));
      if (file === 'ip' && args.includes('-batch')) {
        batchInputs.push(opts?.input ?? '');
        return batchReply;
      }
      if (file === 'ip' && args[0] === '-j' && args[1] === 'link')
        return { code: 0, stdout: JSON.stringify([{ address: '0a:11:22:33:44:55' }]), stderr: '' };
      if (file === 'ip' && args.includes('route')) return { code: 0, stdout: routes, stderr: '' };
      return { code: 0, stdout: '', stderr: '' };
    };
    manager = new NetworkManager({
      stateDir: path.join(dir, 'state'),
      runDir: path.join(dir, 'run'),
      exec,
      dns: new SocketlessDns({ hostResolvConf: path.join(dir, 'none') }),
    });
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the host routes and its own networks as subnets in use, for the local allocator', async () => {
    const inUse = await manager.subnetsInUse();
    expect(inUse).toEqual(['192.0.2.0/24', '10.89.0.0/24', '127.0.0.1']);
    expect(new LocalSubnetAllocator({ pool: '10.89.0.0/16' }).allocate(inUse).subnet).toBe('10.89.1.0/24');
  });

  it('refuses bad network definitions before touching the host', async () => {
    await expect(manager.ensureNetwork({ ...bridgeNet, gateway: '10.1.1.1' })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    await expect(
      manager.ensureNetwork({ ...bridgeNet, driver: 'overlay' } as Parameters<
        NetworkManager['ensureNetwork']
      >[0]),
    ).rejects.toThrow(/needs a vxlanId/);
    expect(calls).toEqual([]);
  });

  it('refuses attachments to unknown networks, bad container IDs and ports on internal networks', async () => {
    await expect(manager.attach('c1', '/run/x', [{ networkId: 'nope', aliases: [] }])).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringMatching(/network nope is not set up on this node/),
    });
    await expect(manager.attach('../c1', '/run/x', [{ networkId: 'n1', aliases: [] }])).rejects.toMatchObject(
      {
        code: 'invalid_argument',
      },
    );
    expect(calls).toEqual([]);
    await manager.ensureNetwork({ ...bridgeNet, internal: true });
    calls.length = 0;
    await expect(
      manager.attach(
        'c1',
        '/run/x',
        [{ networkId: 'n1', aliases: [] }],
        [{ containerPort: 80, hostPort: 80, protocol: 'tcp' }],
      ),
    ).rejects.toThrow(/network web_default is internal: ports cannot be published/);
    await expect(
      manager.attach('c1', '/run/x', [{ networkId: 'n1', aliases: [], ipv4Address: '10.89.1.1' }]),
    ).rejects.toThrow(/10\.89\.1\.1 is not a free host address/);
    expect(calls).toEqual([]);
  });

  it('refuses a second network with an overlapping subnet, and a changed one with the same ID', async () => {
    await manager.ensureNetwork(bridgeNet);
    await expect(
      manager.ensureNetwork({
        ...bridgeNet,
        id: 'n2',
        name: 'other',
        subnet: '10.89.0.0/16',
        gateway: '10.89.0.1',
      }),
    ).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/overlaps network web_default/),
    });
    await expect(
      manager.ensureNetwork({ ...bridgeNet, subnet: '10.90.0.0/24', gateway: '10.90.0.1' }),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect(manager.listNetworks().map((n) => n.id)).toEqual(['n1']);
  });

  it('sets a bridge up in one ip batch, accepts a bridge that exists, and fails on any other error', async () => {
    batchReply = { code: 1, stdout: '', stderr: 'RTNETLINK answers: File exists\nCommand failed -:1\n' };
    await manager.ensureNetwork(bridgeNet);
    expect(calls.filter((c) => c.startsWith('ip -force -batch'))).toHaveLength(1);
    // A new bridge gets a MAC of its own (else it follows its ports'); one that existed keeps the one it has.
    expect(batchInputs[0]).toMatch(/^link add \S+ address [0-9a-f]{1}[26ae](:[0-9a-f]{2}){5} type bridge$/m);
    expect(calls).toContain(`ip link set dev ${bridgeNameFor('n1')} address 0a:11:22:33:44:55`);

    batchReply = { code: 1, stdout: '', stderr: 'Cannot find device "skbrx"\nCommand failed -:2\n' };
    await expect(
      manager.ensureNetwork({ ...bridgeNet, id: 'n2', subnet: '10.89.2.0/24', gateway: '10.89.2.1' }),
    ).rejects.toThrow(/cannot set up on this node: .*Cannot find device/);
  });

  it('keeps a network while a container prepares to join it, and removes it once that container is gone', async () => {
    await manager.ensureNetwork(bridgeNet, 'c1');
    await expect(manager.removeNetwork('n1')).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/in use by 1 container\(s\): c1/),
    });
    expect(manager.listNetworks().map((n) => n.id)).toEqual(['n1']);
    await manager.removeSandbox('c1');
    await manager.removeNetwork('n1');
    expect(manager.listNetworks()).toEqual([]);
  });

  it('treats removing an unknown network and detaching an unknown container as done', async () => {
    await manager.removeNetwork('never-was');
    await manager.detach('never-was');
    expect(calls).toEqual([]);
  });

  it('refuses overlay peers on a bridge network', async () => {
    await manager.ensureNetwork(bridgeNet);
    await expect(manager.setOverlayPeers('n1', [{ nodeId: 'x', underlayIp: '10.0.0.2' }])).rejects.toThrow(
      /bridge network, not an overlay/,
    );
  });
});
