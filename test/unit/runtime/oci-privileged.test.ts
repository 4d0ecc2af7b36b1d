// Privileged containers, host devices and no-new-privileges in the OCI config.
import { describe, expect, it } from 'vitest';
import { parseBoundingSet } from '../../../agent/runtime/host-limits.js';
import {
  buildOciConfig,
  type ContainerDevice,
  type OciConfigInput,
} from '../../../agent/runtime/oci-config.js';
import { ALL_CAPABILITIES } from '../../../lib/index.js';

const base: OciConfigInput = {
  rootfs: '/rootfs',
  readonlyRootfs: false,
  args: ['sh'],
  env: [],
  cwd: '/',
  user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
  tty: false,
  hostname: 'abc',
  mounts: [],
  cgroupsPath: '/skiff/abc',
  hostHardLimits: {},
};

const fuse: ContainerDevice = {
  path: '/dev/fuse',
  type: 'c',
  major: 10,
  minor: 229,
  fileMode: 0o600,
  uid: 0,
  gid: 0,
  access: 'rw',
};

describe('privileged', () => {
  it('lifts every confinement, as docker run --privileged', () => {
    const host = ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
    const c = buildOciConfig({ ...base, privileged: true, hostCapabilities: host, devices: [fuse] });
    expect(c.process.capabilities).toMatchObject({ bounding: host, effective: host, permitted: host });
    expect(c.process.noNewPrivileges).toBe(false);
    expect(c.linux.maskedPaths).toEqual([]);
    expect(c.linux.readonlyPaths).toEqual([]);
    expect(c.linux.resources.devices[0]).toEqual({ allow: true, access: 'rwm' });
    for (const dest of ['/sys', '/sys/fs/cgroup']) {
      const opts = c.mounts.find((m) => m.destination === dest)?.options ?? [];
      expect(opts).toContain('rw');
      expect(opts).not.toContain('ro');
    }
    expect(c.linux.devices).toEqual([
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0 },
    ]);
    // Whatever profiles the builder applied before (seccomp, AppArmor) go; no-new-privileges
    // stays only when the spec asks for it.
    expect('seccomp' in c.linux).toBe(false);
    expect('apparmorProfile' in c.process).toBe(false);
    expect(buildOciConfig({ ...base, privileged: true, noNewPrivileges: true }).process.noNewPrivileges).toBe(
      true,
    );
  });
});

describe('devices and no-new-privileges', () => {
  it('creates a mapped device and allows only it in the device cgroup', () => {
    const c = buildOciConfig({ ...base, devices: [fuse] });
    expect(c.linux.devices).toHaveLength(1);
    expect(c.linux.resources.devices[0]).toEqual({ allow: false, access: 'rwm' });
    expect(c.linux.resources.devices.at(-1)).toEqual({
      allow: true,
      type: 'c',
      major: 10,
      minor: 229,
      access: 'rw',
    });
  });

  it('sets no-new-privileges by default and clears it only when the spec says false', () => {
    expect(buildOciConfig(base).process.noNewPrivileges).toBe(true);
    expect(buildOciConfig({ ...base, noNewPrivileges: true }).process.noNewPrivileges).toBe(true);
    expect(buildOciConfig({ ...base, noNewPrivileges: false }).process.noNewPrivileges).toBe(false);
  });

  it('reads the bounding set of /proc/self/status by capability bit', () => {
    expect(parseBoundingSet('Name:\tx\nCapBnd:\t000001fffeffffff\n')).toEqual(
      ALL_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE'),
    );
    expect(parseBoundingSet('CapBnd:\t0000000000000003\n')).toEqual(['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
  });
});
