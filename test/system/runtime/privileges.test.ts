// Privileged containers and host devices under real crun: what the spec asks for is what
// the process inside sees.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, lines } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.cleanup();
});

const status = (field: string) => `grep '^${field}:' /proc/self/status`;

describe('privileged and devices', () => {
  it('gives a privileged container every capability and device, no seccomp, writable /sys', async () => {
    const { logs, info } = await h.run({
      Privileged: true,
      Command: [
        'sh',
        '-c',
        [
          status('CapEff'),
          status('Seccomp'),
          status('NoNewPrivs'),
          'ls /dev/loop-control',
          'grep " /sys " /proc/mounts',
          'echo masked=$(grep -c " /proc/kcore " /proc/mounts)',
        ].join('; '),
      ],
    });
    expect(info.exitCode, JSON.stringify(logs)).toBe(0);
    const out = lines(logs);
    // Every capability this host allows (its bounding set), as Docker gives.
    const hostBounding = /^CapBnd:\t(\w+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    expect(out).toContain(`CapEff:\t${hostBounding}`);
    expect(out).toContain('Seccomp:\t0');
    expect(out).toContain('NoNewPrivs:\t0');
    expect(out).toContain('/dev/loop-control');
    expect(out.find((l) => l.includes(' /sys '))).toMatch(/sysfs \/sys sysfs rw,/);
    expect(out).toContain('masked=0');
  });

  it('creates a mapped host device the container can open, and only that one', async () => {
    const { logs, info } = await h.run({
      Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }],
      Command: ['sh', '-c', 'ls -l /dev/fuse; ls /dev/loop-control 2>&1; exec 3<>/dev/fuse && echo opened'],
    });
    expect(info.exitCode, JSON.stringify(logs)).toBe(0);
    const out = lines(logs);
    expect(out[0]).toMatch(/^crw.* 10, *229 .*\/dev\/fuse$/);
    expect(out.join('\n')).toMatch(/loop-control.*No such file/);
    expect(out).toContain('opened');
  });

  it('refuses a device the node does not have, naming it', async () => {
    await expect(
      h.create({
        Devices: [{ PathOnHost: '/dev/skiff-no-such-device', PathInContainer: '/dev/x' }],
        Command: ['true'],
      }),
    ).rejects.toThrow(/device \/dev\/skiff-no-such-device: no such device on this node/);
  });
});
