// Compose's security keys under `compose up` and under `stack deploy` on a single node:
// each one is applied, checked from inside the running container (its main process's
// /proc/1 status and limits, its sysctls, cgroup, devices and root filesystem), and what
// skiff cannot honour is refused with file:line:col before anything is created.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CAPABILITIES } from '../../../lib/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

/** Docker's default capabilities, + NET_ADMIN − MKNOD, as the compose file asks. */
const CONFINED_CAPS = [
  'CAP_AUDIT_WRITE',
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_NET_ADMIN',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW',
  'CAP_SETFCAP',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_SETUID',
  'CAP_SYS_CHROOT',
];

/** A capability set as /proc/PID/status prints it (16 hex digits). */
const capMask = (caps: readonly string[]) =>
  caps
    .reduce((m, c) => m | (1n << BigInt(ALL_CAPABILITIES.indexOf(c))), 0n)
    .toString(16)
    .padStart(16, '0');

const COMPOSE = [
  'services:',
  '  confined:',
  '    image: localhost/sec-busybox:1',
  '    command: ["sleep", "3600"]',
  '    stop_grace_period: 1s',
  '    cap_add: [NET_ADMIN]',
  '    cap_drop: [MKNOD]',
  '    sysctls:',
  '      net.core.somaxconn: 1234',
  '      kernel.shmmax: 65536',
  '    ulimits: {nofile: {soft: 1000, hard: 2000}}',
  '    read_only: true',
  '    pids_limit: 42',
  '    devices: ["/dev/fuse"]',
  '    security_opt: ["no-new-privileges:false", "apparmor=unconfined"]',
  '  priv:',
  '    image: localhost/sec-busybox:1',
  '    command: ["sleep", "3600"]',
  '    stop_grace_period: 1s',
  '    privileged: true',
  // One network for both deployments (see env-parity.test.ts).
  'networks:',
  '  default:',
  '    name: secnet',
  '',
].join('\n');

/** What the probe prints, key=value a line, from inside a service's container. */
const PROBE = [
  'for f in CapEff Seccomp NoNewPrivs; do echo "$f=$(busybox grep "^$f:" /proc/1/status | busybox cut -f2)"; done',
  'echo "nofile=$(busybox grep "Max open files" /proc/1/limits | busybox awk \'{print $4 "/" $5}\')"',
  'echo "somaxconn=$(cat /proc/sys/net/core/somaxconn)"',
  'echo "shmmax=$(cat /proc/sys/kernel/shmmax)"',
  '(echo x > /probe) 2>/dev/null && echo rootfs=rw || echo rootfs=ro',
  'echo "pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"',
  '(exec 3<>/dev/fuse) 2>/dev/null && echo fuse=open || echo fuse=closed',
  '[ -c /dev/loop-control ] && echo loop=yes || echo loop=no',
  'echo "sys=$(busybox awk \'$2 == "/sys" {print substr($4, 1, 2)}\' /proc/mounts)"',
].join('; ');

describe('compose security keys under compose up and stack deploy', () => {
  let node: TestNode;
  let dir: string;

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-sec-'));
    const imp = await importBusybox(node, dir, 'sec\n', 'localhost/sec-busybox:1');
    expect(imp.code, imp.stderr).toBe(0);
    writeFileSync(join(dir, 'compose.yaml'), COMPOSE);
    writeFileSync(
      join(dir, 'refused.yaml'),
      [
        'services:',
        '  s:',
        '    image: localhost/sec-busybox:1',
        '    userns_mode: private',
        '    pid: host',
        '    ipc: host',
        '    uts: host',
        '    cgroup: private',
        '    network_mode: host',
        '',
      ].join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await node?.skiff(['stack', 'rm', 'secs'], { cwd: dir });
    // Only there when the refusal failed.
    await node?.skiff(['stack', 'rm', 'refused'], { cwd: dir });
    await node?.skiff(['compose', '-p', 'secc', 'down'], { cwd: dir });
    await node?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  const probe = async (project: string, service: string): Promise<Record<string, string>> => {
    const r = await node.skiff(['compose', '-p', project, 'exec', '-T', service, 'sh', '-c', PROBE], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
  };

  /** The one checker both deployments go through. */
  const checkApplied = async (project: string) => {
    expect(await probe(project, 'confined')).toEqual({
      CapEff: capMask(CONFINED_CAPS),
      Seccomp: expect.any(String),
      NoNewPrivs: '0',
      nofile: '1000/2000',
      somaxconn: '1234',
      shmmax: '65536',
      rootfs: 'ro',
      pids: '42',
      fuse: 'open',
      loop: 'no',
      sys: 'ro',
    });
    const hostBounding = /^CapBnd:\t(\w+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    expect(await probe(project, 'priv')).toMatchObject({
      CapEff: hostBounding,
      Seccomp: '0',
      NoNewPrivs: '0',
      rootfs: 'rw',
      loop: 'yes',
      fuse: 'open',
      sys: 'rw',
    });
  };

  it('applies every key under compose up', async () => {
    const up = await node.skiff(['compose', '-p', 'secc', 'up', '-d'], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    await checkApplied('secc');
  }, 240_000);

  it('applies every key under stack deploy', async () => {
    const deploy = await node.skiff(['stack', 'deploy', '--wait', '-c', 'compose.yaml', 'secs'], {
      cwd: dir,
    });
    expect(deploy.code, deploy.stderr).toBe(0);
    await checkApplied('secs');
  }, 240_000);

  it('refuses what it cannot honour with file:line:col, in both, creating nothing', async () => {
    const before = (await node.skiff(['service', 'ls', '-q'], { cwd: dir })).stdout;
    for (const args of [
      ['compose', '-p', 'refused', '-f', 'refused.yaml', 'up', '-d'],
      ['stack', 'deploy', '-c', 'refused.yaml', 'refused'],
    ]) {
      const r = await node.skiff(args, { cwd: dir });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/refused\.yaml:4:5: services\.s\.userns_mode: .*no user-namespace remapping/);
      for (const [line, key] of [
        [5, 'pid'],
        [6, 'ipc'],
        [7, 'uts'],
        [8, 'cgroup'],
        [9, 'network_mode'],
      ] as const)
        expect(r.stderr).toMatch(
          new RegExp(`refused\\.yaml:${line}:5: services\\.s\\.${key}: ${key} ".*" cannot be honoured`),
        );
    }
    expect((await node.skiff(['service', 'ls', '-q'], { cwd: dir })).stdout).toBe(before);
  }, 120_000);

  it('service create and update carry --cap-add, --cap-drop and --security-opt into the spec', async () => {
    writeFileSync(
      join(dir, 'strict.json'),
      JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] }),
    );
    const inspect = async () => {
      const r = await node.skiff(['service', 'inspect', 'capsvc'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      return (
        JSON.parse(r.stdout) as { Spec: { TaskTemplate: { ContainerSpec: Record<string, unknown> } } }[]
      )[0]!.Spec.TaskTemplate.ContainerSpec;
    };
    try {
      const create = await node.skiff(
        [
          'service',
          'create',
          '--name',
          'capsvc',
          '-d',
          '--cap-add',
          'NET_ADMIN',
          '--cap-drop',
          'mknod',
          '--security-opt',
          'seccomp=strict.json',
          '--security-opt',
          'no-new-privileges:false',
          'localhost/sec-busybox:1',
          'sleep',
          '3600',
        ],
        { cwd: dir },
      );
      expect(create.code, create.stderr).toBe(0);
      expect(await inspect()).toMatchObject({
        CapabilityAdd: ['CAP_NET_ADMIN'],
        CapabilityDrop: ['CAP_MKNOD'],
        Privileges: {
          Seccomp: { Mode: 'custom', Profile: readFileSync(join(dir, 'strict.json'), 'utf8') },
          NoNewPrivileges: false,
        },
      });
      const update = await node.skiff(
        [
          'service',
          'update',
          '-d',
          '--cap-drop',
          'NET_ADMIN',
          '--security-opt',
          'seccomp=unconfined',
          'capsvc',
        ],
        { cwd: dir },
      );
      expect(update.code, update.stderr).toBe(0);
      const cs = await inspect();
      expect(cs.CapabilityAdd).toBeUndefined();
      expect(cs.CapabilityDrop).toEqual(['CAP_MKNOD', 'CAP_NET_ADMIN']);
      expect(cs.Privileges).toEqual({ Seccomp: { Mode: 'unconfined' }, NoNewPrivileges: false });
      const refused = await node.skiff(
        ['service', 'update', '-d', '--security-opt', 'apparmor=docker-default', 'capsvc'],
        { cwd: dir },
      );
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/can only turn it off/);
    } finally {
      await node.skiff(['service', 'rm', 'capsvc'], { cwd: dir });
    }
  }, 120_000);
});
