import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CniInvoker,
  CniPluginError,
  parseCniError,
  parseCniResult,
  pluginInput,
} from '../../../agent/network/cni.js';
import { interfaceConfigList } from '../../../agent/network/cni-config.js';
import type { Exec, ExecOptions } from '../../../agent/network/exec.js';
import { bridgeNameFor, cniNetworkNameFor } from '../../../agent/network/names.js';

const network = {
  id: 'n1',
  name: 'web_default',
  driver: 'bridge',
  subnet: '10.89.4.0/24',
  gateway: '10.89.4.1',
} as const;

describe('CNI configuration', () => {
  it('chains bridge (host-local IPAM) and portmap for the first interface', () => {
    const list = interfaceConfigList({
      network,
      ipamDataDir: '/s/ipam',
      defaultRoute: true,
      publishesPorts: true,
    });
    expect(list.name).toBe(cniNetworkNameFor('n1'));
    expect(list.name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);
    expect(list.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(list.plugins[0]).toMatchObject({
      bridge: bridgeNameFor('n1'),
      isGateway: true,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.89.4.0/24', gateway: '10.89.4.1' }]],
        routes: [{ dst: '0.0.0.0/0' }],
        dataDir: '/s/ipam',
      },
    });
  });

  it('uses static IPAM for an allocator-given address and no default route on later interfaces', () => {
    const list = interfaceConfigList({
      network,
      ipamDataDir: '/s/ipam',
      ipv4Address: '10.89.4.77',
      defaultRoute: false,
      mtu: 1450,
      publishesPorts: false,
    });
    expect(list.plugins.map((p) => p.type)).toEqual(['bridge']);
    expect(list.plugins[0]).toMatchObject({
      mtu: 1450,
      ipam: { type: 'static', addresses: [{ address: '10.89.4.77/24', gateway: '10.89.4.1' }], routes: [] },
    });
  });

  it('gives internal networks no default route', () => {
    const list = interfaceConfigList({
      network: { ...network, internal: true },
      ipamDataDir: '/x',
      defaultRoute: true,
      publishesPorts: false,
    });
    expect(list.plugins[0]?.ipam).toMatchObject({ routes: [] });
  });

  it('builds each plugin input with name, version, prevResult and only its declared capabilities', () => {
    const list = interfaceConfigList({
      network,
      ipamDataDir: '/x',
      defaultRoute: true,
      publishesPorts: true,
    });
    const prev = { cniVersion: '1.0.0', ips: [{ address: '10.89.4.2/24', interface: 0 }] };
    const caps = { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], other: 1 };
    const bridge = pluginInput(list, list.plugins[0]!, undefined, caps);
    expect(bridge).not.toHaveProperty('runtimeConfig');
    expect(bridge).not.toHaveProperty('prevResult');
    expect(bridge).toMatchObject({ cniVersion: '1.0.0', name: list.name, type: 'bridge' });
    const portmap = pluginInput(list, list.plugins[1]!, prev, caps);
    expect(portmap).toMatchObject({ runtimeConfig: { portMappings: caps.portMappings }, prevResult: prev });
    expect(portmap).not.toHaveProperty('capabilities');
    expect(portmap.runtimeConfig).not.toHaveProperty('other');
  });
});

describe('CNI results and errors', () => {
  it('parses a result', () => {
    const r = parseCniResult(
      JSON.stringify({
        cniVersion: '1.0.0',
        interfaces: [{ name: 'skbr1' }, { name: 'eth0', mac: 'aa:bb:cc:dd:ee:ff', sandbox: '/run/netns/x' }],
        ips: [{ address: '10.89.4.2/24', gateway: '10.89.4.1', interface: 1 }],
      }),
      'bridge',
    );
    expect(r.ips?.[0]?.interface).toBe(1);
  });

  it('rejects output that is not a CNI result', () => {
    expect(() => parseCniResult('not json', 'bridge')).toThrow(CniPluginError);
    expect(() => parseCniResult('{"ips": 3}', 'bridge')).toThrow(/does not follow the CNI spec/);
  });

  it("keeps the plugin's own error words", () => {
    expect(parseCniError('{"code":11,"msg":"failed to allocate","details":"range full"}', '', 1)).toBe(
      'failed to allocate: range full',
    );
    expect(parseCniError('', 'panic: boom\nstack', 2)).toBe('panic: boom');
    expect(parseCniError('', '', 3)).toBe('exited with code 3');
  });
});

describe('CniInvoker', () => {
  // Stand-in plugin files: the invoker only looks them up; the fake exec "runs" them.
  const binDir = mkdtempSync(path.join(tmpdir(), 'skiff-cni-'));
  for (const p of ['bridge', 'portmap']) writeFileSync(path.join(binDir, p), '');
  afterAll(() => rmSync(binDir, { recursive: true, force: true }));
  function fakeExec(fail?: string): { exec: Exec; calls: { file: string; options: ExecOptions }[] } {
    const calls: { file: string; options: ExecOptions }[] = [];
    const exec: Exec = async (file, _args, options = {}) => {
      calls.push({ file, options });
      const type = file.split('/').pop();
      if (type === fail) return { code: 1, stdout: '{"code":7,"msg":"no bridge for you"}', stderr: '' };
      const input = JSON.parse(options.input ?? '{}') as { prevResult?: unknown };
      return {
        code: 0,
        stdout: JSON.stringify(input.prevResult ?? { cniVersion: '1.0.0', ips: [] }),
        stderr: '',
      };
    };
    return { exec, calls };
  }
  const list = interfaceConfigList({ network, ipamDataDir: '/x', defaultRoute: true, publishesPorts: true });
  const rt = { containerId: 'c1', netnsPath: '/run/x', ifName: 'eth0' };

  it('runs ADD in order and DEL in reverse, with the CNI_* environment', async () => {
    const { exec, calls } = fakeExec();
    const cni = new CniInvoker([binDir], exec);
    const result = await cni.add(list, rt);
    await cni.del(list, rt, result);
    expect(calls.map((c) => `${c.options.env?.CNI_COMMAND} ${c.file}`)).toEqual([
      `ADD ${binDir}/bridge`,
      `ADD ${binDir}/portmap`,
      `DEL ${binDir}/portmap`,
      `DEL ${binDir}/bridge`,
    ]);
    expect(calls[0]?.options.env).toMatchObject({
      CNI_CONTAINERID: 'c1',
      CNI_NETNS: '/run/x',
      CNI_IFNAME: 'eth0',
      CNI_PATH: binDir,
    });
  });

  it('reports which plugin failed, and keeps going through DEL', async () => {
    const { exec, calls } = fakeExec('portmap');
    const cni = new CniInvoker([binDir], exec);
    await expect(cni.add(list, rt)).rejects.toMatchObject({
      plugin: 'portmap',
      message: 'no bridge for you',
    });
    calls.length = 0;
    await expect(cni.del(list, rt, undefined)).rejects.toThrow('no bridge for you');
    expect(calls.map((c) => c.file)).toEqual([`${binDir}/portmap`, `${binDir}/bridge`]);
  });

  it('says where it looked when a plugin is missing', async () => {
    const { exec } = fakeExec();
    const cni = new CniInvoker([binDir], exec);
    await expect(cni.add({ ...list, plugins: [{ type: 'macvlan' }] }, rt)).rejects.toThrow(
      /CNI plugin "macvlan" not found in/,
    );
  });

  it('refuses plugin types that are paths', async () => {
    const { exec } = fakeExec();
    const cni = new CniInvoker([binDir], exec);
    await expect(cni.add({ ...list, plugins: [{ type: '../../bin/sh' }] }, rt)).rejects.toThrow(
      /not a plain name/,
    );
  });
});
