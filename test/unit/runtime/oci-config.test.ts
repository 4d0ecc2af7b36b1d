import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import {
  buildOciConfig,
  DEFAULT_CAPABILITIES,
  effectiveCapabilities,
  type OciConfigInput,
  rootfsMountFlags,
} from '../../../agent/runtime/index.js';
import { parseSeccompProfile, resolveSeccomp } from '../../../agent/runtime/seccomp.js';
import { PROFILE } from './seccomp-profile.js';

// The runtime spec's own JSON schema, read from the shared reference (never copied).
const SCHEMA_DIR = join(import.meta.dirname, '../../../../shared/reference/oci-runtime-spec/schema');

function loadSchema(file: string): Record<string, unknown> {
  const s = JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
  // Draft-04 by declaration, but nothing in it differs from what Ajv's default draft reads.
  delete s.$schema;
  return s;
}

function validator() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema(loadSchema('defs.json'), 'defs.json');
  ajv.addSchema(loadSchema('defs-linux.json'), 'defs-linux.json');
  ajv.addSchema(loadSchema('config-linux.json'), 'config-linux.json');
  for (const os of ['solaris', 'windows', 'vm', 'zos', 'freebsd'])
    ajv.addSchema({ [os]: {} }, `config-${os}.json`);
  return ajv.compile(loadSchema('config-schema.json'));
}

const base: OciConfigInput = {
  rootfs: '/var/lib/skiff/snapshots/1/merged',
  readonlyRootfs: false,
  args: ['sh', '-c', 'echo hi'],
  env: ['PATH=/bin'],
  cwd: '/',
  user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
  tty: false,
  hostname: 'abc',
  mounts: [],
  cgroupsPath: '/skiff/node1/abc',
  hostHardLimits: { RLIMIT_NOFILE: 20000 },
};

describe('rootfsMountFlags', () => {
  it('mounts the root nosuid,nodev unless the spec needs devices or is privileged', () => {
    expect(rootfsMountFlags({})).toEqual(['nosuid', 'nodev']);
    expect(
      rootfsMountFlags({ Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse' }] }),
    ).toEqual(['nosuid']);
    expect(rootfsMountFlags({ Privileged: true })).toEqual([]);
    expect(rootfsMountFlags({ Privileges: { NoNewPrivileges: false } })).toEqual(['nodev']);
  });
});

describe('buildOciConfig', () => {
  it('produces a config.json valid against the runtime-spec schema, also with every option set', () => {
    const validate = validator();
    const full = buildOciConfig({
      ...base,
      readonlyRootfs: true,
      tty: true,
      user: { uid: 1000, gid: 1000, additionalGids: [10, 20], home: '/home/app' },
      mounts: [{ destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'ro'] }],
      netnsPath: '/run/netns/abc',
      memoryBytes: 64 << 20,
      nanoCpus: 1.5e9,
      pidsLimit: 100,
      capAdd: ['NET_ADMIN'],
      capDrop: ['MKNOD'],
      sysctls: { 'net.ipv4.ip_forward': '1' },
      ulimits: [{ Name: 'nproc', Soft: 100, Hard: 200 }],
      annotations: { 'io.skiff.name': 'web.1' },
      seccomp: resolveSeccomp(
        parseSeccompProfile(JSON.stringify(PROFILE), 'test'),
        { capabilities: DEFAULT_CAPABILITIES, arch: 'amd64', kernel: '6.1.0' },
        true,
      ),
      apparmorProfile: 'skiff-default',
    });
    for (const config of [buildOciConfig(base), full]) {
      const ok = validate(JSON.parse(JSON.stringify(config)));
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    }
    // The validator does reject what the spec forbids.
    expect(validate({ ...JSON.parse(JSON.stringify(full)), process: { ...full.process, args: 'sh' } })).toBe(
      false,
    );
    expect(full.linux.resources).toMatchObject({
      memory: { limit: 64 << 20, swap: 64 << 20 },
      cpu: { quota: 150000, period: 100000 },
      pids: { limit: 100 },
    });
    expect(full.linux.namespaces).toContainEqual({ type: 'network', path: '/run/netns/abc' });
  });

  it("defaults to Docker's hardening: capabilities, no-new-privileges, masked and read-only paths, ro sysfs", () => {
    const c = buildOciConfig(base);
    expect(c.process.capabilities?.bounding).toEqual([...DEFAULT_CAPABILITIES].sort());
    expect(c.process.capabilities?.bounding).not.toContain('CAP_NET_ADMIN');
    expect(c.process.noNewPrivileges).toBe(true);
    expect(c.linux.maskedPaths).toContain('/proc/kcore');
    expect(c.linux.maskedPaths).toContain('/proc/interrupts');
    expect(c.linux.readonlyPaths).toContain('/proc/sys');
    expect(c.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(c.mounts.map((m) => m.destination)).toEqual(
      expect.arrayContaining(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys']),
    );
    expect(c.linux.namespaces.map((n) => n.type).sort()).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expect(c.linux.namespaces.find((n) => n.type === 'network')?.path).toBeUndefined();
  });

  it('gives a non-root user a bounding set but no effective capabilities', () => {
    const c = buildOciConfig({ ...base, user: { uid: 1000, gid: 1000, additionalGids: [], home: '/' } });
    expect(c.process.capabilities?.bounding.length).toBeGreaterThan(0);
    expect(c.process.capabilities?.effective).toEqual([]);
  });

  it('keeps rlimits within the host hard limit and refuses more with a clear error', () => {
    expect(buildOciConfig(base).process.rlimits).toContainEqual({
      type: 'RLIMIT_NOFILE',
      soft: 20000,
      hard: 20000,
    });
    expect(
      buildOciConfig({ ...base, ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 4096 }] }).process.rlimits,
    ).toContainEqual({ type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 });
    expect(() => buildOciConfig({ ...base, ulimits: [{ Name: 'nofile', Soft: 1, Hard: 65536 }] })).toThrow(
      /hard limit 65536 is above this node's hard limit 20000/,
    );
    expect(() => buildOciConfig({ ...base, ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] })).toThrow(
      /unknown ulimit/,
    );
    expect(() => buildOciConfig({ ...base, ulimits: [{ Name: 'nproc', Soft: 5, Hard: 1 }] })).toThrow(
      /soft limit/,
    );
  });

  it('refuses a memory limit below 6 MiB', () => {
    expect(() => buildOciConfig({ ...base, memoryBytes: 1024 })).toThrow(/below the minimum/);
  });

  it('lets a user mount replace a default one on the same path', () => {
    const c = buildOciConfig({
      ...base,
      mounts: [{ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['size=1g'] }],
    });
    const shm = c.mounts.filter((m) => m.destination === '/dev/shm');
    expect(shm).toEqual([{ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['size=1g'] }]);
  });
});

describe('effectiveCapabilities', () => {
  it('adds, drops and understands ALL and names without CAP_', () => {
    expect(effectiveCapabilities(['net_admin'], [])).toContain('CAP_NET_ADMIN');
    expect(effectiveCapabilities([], ['CAP_CHOWN'])).not.toContain('CAP_CHOWN');
    expect(effectiveCapabilities(['NET_BIND_SERVICE'], ['ALL'])).toEqual(['CAP_NET_BIND_SERVICE']);
    const all = effectiveCapabilities(['ALL'], ['SYS_ADMIN']);
    expect(all).toContain('CAP_SYS_TIME');
    expect(all).not.toContain('CAP_SYS_ADMIN');
    expect(() => effectiveCapabilities(['NOT_A_CAP'])).toThrow(/unknown capability 'NOT_A_CAP'/);
  });
});
