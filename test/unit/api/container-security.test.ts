// The security fields of a ContainerSpec through the API: stored as sent when skiff can
// honour them, a 400 naming the field when it cannot.
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../../../manager/index.js';
import { newApi, serviceBody } from './helpers.js';

let app: FastifyInstance;
let store: Store;

beforeEach(async () => {
  ({ app, store } = await newApi());
});
afterEach(async () => {
  await app.close();
});

const create = (containerSpec: Record<string, unknown>) =>
  app.inject({
    method: 'POST',
    url: '/v1.44/services/create',
    payload: serviceBody('sec', { TaskTemplate: { ContainerSpec: { Image: 'busybox', ...containerSpec } } }),
  });

const profile = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] });

describe('ContainerSpec security fields', () => {
  it('stores capabilities, sysctls, ulimits, privileges, privileged and devices as sent, and answers 400 naming the field for what skiff cannot honour', async () => {
    const spec = {
      ReadOnly: true,
      CapabilityAdd: ['NET_ADMIN', 'CAP_SYS_TIME'],
      CapabilityDrop: ['all'],
      Sysctls: { 'net.core.somaxconn': '1024', 'kernel.shmmax': '65536', 'fs.mqueue.msg_max': '20' },
      Ulimits: [{ Name: 'nofile', Soft: 1000, Hard: 2000 }],
      Privileges: {
        Seccomp: { Mode: 'custom', Profile: profile },
        AppArmor: { Mode: 'disabled' },
        NoNewPrivileges: false,
        CredentialSpec: null,
        SELinuxContext: null,
      },
      Privileged: true,
      Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }],
    };
    const r = await create(spec);
    expect(r.statusCode, r.body).toBe(201);
    const stored = store.getService('sec')!.Spec.TaskTemplate!.ContainerSpec!;
    const { CredentialSpec: _c, SELinuxContext: _s, ...privileges } = spec.Privileges;
    expect(stored).toMatchObject({ ...spec, Privileges: privileges });
    const rm = await app.inject({ method: 'DELETE', url: '/v1.44/services/sec' });
    expect(rm.statusCode, rm.body).toBe(200);

    const cases: [Record<string, unknown>, RegExp][] = [
      [{ CapabilityAdd: ['NET_ADMN'] }, /CapabilityAdd\.0: "NET_ADMN" is not a Linux capability/],
      [{ CapabilityDrop: ['bogus'] }, /CapabilityDrop\.0: "bogus" is not a Linux capability/],
      [
        { Sysctls: { 'kernel.panic': '1' } },
        /Sysctls\.kernel\.panic: sysctl "kernel.panic" is not namespaced/,
      ],
      [{ Ulimits: [{ Name: 'files', Soft: 1, Hard: 1 }] }, /Ulimits\.0\.Name: "files" is not a ulimit/],
      [
        { Devices: [{ PathOnHost: 'dev/fuse', PathInContainer: '/dev/fuse' }] },
        /Devices\.0: device "dev\/fuse" is not an absolute path/,
      ],
      [
        { Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: 'fuse' }] },
        /Devices\.0: device target "fuse" is not an absolute path/,
      ],
      [
        { Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rx' }] },
        /Devices\.0: device permissions "rx"/,
      ],
      [
        { Privileges: { Seccomp: { Mode: 'custom' } } },
        /Privileges\.Seccomp: a custom seccomp mode needs a Profile/,
      ],
      [
        { Privileges: { Seccomp: { Mode: 'custom', Profile: '{not json' } } },
        /Privileges\.Seccomp\.Profile: the profile is not JSON/,
      ],
      [{ Privileges: { Seccomp: { Mode: 'strict' } } }, /Privileges\.Seccomp\.Mode/],
      [{ Privileges: { AppArmor: { Mode: 'enforce' } } }, /Privileges\.AppArmor\.Mode/],
      [
        { Privileges: { SELinuxContext: { Type: 'container_t' } } },
        /Privileges\.SELinuxContext: skiff does not apply SELinux labels/,
      ],
      [{ Privileged: 'yes' }, /Privileged/],
    ];
    for (const [spec, msg] of cases) {
      const r = await create(spec);
      expect(r.statusCode, JSON.stringify(spec)).toBe(400);
      expect((r.json() as { message: string }).message).toMatch(msg);
    }
    expect(store.listServices()).toEqual([]);
  });
});
