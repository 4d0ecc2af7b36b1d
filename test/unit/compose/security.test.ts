// Compose's security keys: each reaches the service spec, or is refused at file:line:col.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatComposeErrors, loadProject, projectToStack, toCanonical } from '../../../compose/index.js';
import { loadErrors, loadOk, withProject } from './helpers.js';

const profile = JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [] });

describe('compose security keys → ServiceSpec', () => {
  it('carries each key into the container spec', async () => {
    await withProject(
      {
        'compose.yaml': [
          'services:',
          '  app:',
          '    image: busybox',
          '    cap_add: [NET_ADMIN, CAP_SYS_TIME]',
          '    cap_drop: [MKNOD]',
          '    sysctls: [net.core.somaxconn=1024, kernel.shmmax=65536]',
          '    ulimits: {nofile: {soft: 1000, hard: 2000}, nproc: 64}',
          '    read_only: true',
          '    pids_limit: 50',
          '    privileged: true',
          '    devices: ["/dev/fuse", "/dev/loop-control:/dev/lc:rw", {source: /dev/null, target: /dev/nothing}]',
          '    security_opt: ["seccomp=profiles/strict.json", "apparmor=unconfined", "no-new-privileges:false"]',
          '    userns_mode: host',
          '',
        ].join('\n'),
        'profiles/strict.json': profile,
      },
      async (dir) => {
        const r = await loadProject({ env: {}, files: [join(dir, 'compose.yaml')] });
        if (!r.ok) throw new Error(formatComposeErrors(r.errors));
        const spec = projectToStack(r.project).services[0]!;
        expect(spec.TaskTemplate?.ContainerSpec).toMatchObject({
          CapabilityAdd: ['NET_ADMIN', 'CAP_SYS_TIME'],
          CapabilityDrop: ['MKNOD'],
          Sysctls: { 'net.core.somaxconn': '1024', 'kernel.shmmax': '65536' },
          Ulimits: [
            { Name: 'nofile', Soft: 1000, Hard: 2000 },
            { Name: 'nproc', Soft: 64, Hard: 64 },
          ],
          ReadOnly: true,
          Privileged: true,
          Devices: [
            { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' },
            { PathOnHost: '/dev/loop-control', PathInContainer: '/dev/lc', CgroupPermissions: 'rw' },
            { PathOnHost: '/dev/null', PathInContainer: '/dev/nothing', CgroupPermissions: 'rwm' },
          ],
          Privileges: {
            Seccomp: { Mode: 'custom', Profile: profile },
            AppArmor: { Mode: 'disabled' },
            NoNewPrivileges: false,
          },
        });
        expect(spec.TaskTemplate?.Resources?.Limits?.Pids).toBe(50);
      },
    );
  });

  it('reads a device with permissions only, seccomp=unconfined, a bare no-new-privileges and label=disable', async () => {
    const { project } = await loadOk({
      'compose.yaml':
        'services:\n  s:\n    image: x\n    devices: ["/dev/fuse:r"]\n    security_opt: [seccomp=unconfined, no-new-privileges, label=disable]\n',
    });
    const cs = projectToStack(project).services[0]!.TaskTemplate!.ContainerSpec!;
    expect(cs.Devices).toEqual([
      { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'r' },
    ]);
    expect(cs.Privileges).toEqual({ Seccomp: { Mode: 'unconfined' }, NoNewPrivileges: true });
    // compose config prints the options as written, not the privileges derived from them.
    const svc = (toCanonical(project).services as Record<string, Record<string, unknown>>).s!;
    expect(svc.security_opt).toEqual(['seccomp=unconfined', 'no-new-privileges', 'label=disable']);
    expect(svc.privileges).toBeUndefined();
  });

  it('limits pids by pids_limit, deploy.resources.limits.pids winning; -1 or 0 mean no limit', async () => {
    const { project } = await loadOk({
      'compose.yaml': [
        'services:',
        '  a: {image: x, pids_limit: 10, deploy: {resources: {limits: {pids: 20}}}}',
        '  b: {image: x, pids_limit: -1}',
        '  c: {image: x, pids_limit: 0}',
        '  d: {image: x, pids_limit: 7}',
        '',
      ].join('\n'),
    });
    const pids = projectToStack(project).services.map((s) => s.TaskTemplate?.Resources?.Limits?.Pids);
    expect(pids).toEqual([20, undefined, undefined, 7]);
  });
});

describe('compose security keys skiff cannot honour', () => {
  it('refuses each with file:line:col', async () => {
    const errors = await loadErrors({
      'compose.yaml': [
        'services:', //                                           1
        '  app:', //                                              2
        '    image: busybox', //                                  3
        '    cap_add: [NET_ADMIN, NET_ADMN]', //                  4
        '    cap_drop:', //                                       5
        '      - bogus', //                                       6
        '    sysctls:', //                                        7
        '      kernel.panic: 1', //                               8
        '    ulimits: {files: 10}', //                            9
        '    devices: ["dev/fuse", "/dev/fuse:fuse"]', //         10
        '    userns_mode: "private"', //                          11
        '    device_cgroup_rules: ["c 10:229 rwm"]', //           12
        '    security_opt:', //                                   13
        '      - label=type:container_t', //                      14
        '      - apparmor=docker-default', //                     15
        '      - systempaths=unconfined', //                      16
        '      - seccomp=missing.json', //                        17
        '      - no-new-privileges=maybe', //                     18
        '      - bogus=1', //                                     19
        '    pids_limit: -5', //                                  20
        '',
      ].join('\n'),
    });
    const where = errors.map((e) => `${e.file}:${e.line}:${e.col} ${e.path}: ${e.message}`);
    const expectAt = (loc: string, path: string, msg: RegExp) =>
      expect(
        where.find((w) => w.startsWith(`compose.yaml:${loc} ${path}:`)),
        `${loc} ${path} in\n${where.join('\n')}`,
      ).toMatch(msg);
    expectAt('4:26', 'services.app.cap_add[1]', /"NET_ADMN" is not a Linux capability/);
    expectAt('6:9', 'services.app.cap_drop[0]', /"bogus" is not a Linux capability/);
    expectAt('8:7', 'services.app.sysctls["kernel.panic"]', /not namespaced: it would change the host/);
    expectAt('9:15', 'services.app.ulimits.files', /"files" is not a ulimit/);
    expectAt('10:15', 'services.app.devices[0]', /"dev\/fuse" is not an absolute path/);
    expectAt('10:27', 'services.app.devices[1]', /device target "fuse" is not an absolute path/);
    expectAt('11:5', 'services.app.userns_mode', /no user-namespace remapping/);
    expectAt('12:5', 'services.app.device_cgroup_rules', /cannot honour device_cgroup_rules/);
    expectAt('14:9', 'services.app.security_opt[0]', /does not apply SELinux labels/);
    expectAt('15:9', 'services.app.security_opt[1]', /apparmor profile "docker-default" cannot be applied/);
    expectAt('16:9', 'services.app.security_opt[2]', /only privileged: true unmasks them/);
    expectAt(
      '17:9',
      'services.app.security_opt[3]',
      /cannot read the seccomp profile .*missing\.json: no such file/,
    );
    expectAt('18:9', 'services.app.security_opt[4]', /no-new-privileges takes true or false/);
    expectAt('19:9', 'services.app.security_opt[5]', /unknown security option "bogus"/);
    expectAt('20:5', 'services.app.pids_limit', /pids_limit must be -1 or 0/);
  });

  it('refuses sharing a namespace with the host or another container, with file:line:col', async () => {
    const errors = await loadErrors({
      'compose.yaml': [
        'services:', //                                           1
        '  a:', //                                                2
        '    image: x', //                                        3
        '    pid: host', //                                       4
        '    ipc: host', //                                       5
        '    uts: host', //                                       6
        '    cgroup: private', //                                 7
        '    network_mode: host', //                              8
        '  b:', //                                                9
        '    image: x', //                                        10
        '    pid: "service:a"', //                                11
        '    ipc: "container:c1"', //                             12
        '    network_mode: none', //                              13
        '    ports: ["80:80"]', //                                14
        '',
      ].join('\n'),
    });
    expect(errors.map((e) => `${e.file}:${e.line}:${e.col} ${e.path}: ${e.message}`)).toEqual([
      expect.stringMatching(
        /^compose\.yaml:4:5 services\.a\.pid: pid "host" cannot be honoured: .*PID namespace/,
      ),
      expect.stringMatching(/^compose\.yaml:5:5 services\.a\.ipc: ipc "host" cannot be honoured/),
      expect.stringMatching(/^compose\.yaml:6:5 services\.a\.uts: uts "host" cannot be honoured/),
      expect.stringMatching(/^compose\.yaml:7:5 services\.a\.cgroup: cgroup "private" cannot be honoured/),
      expect.stringMatching(
        /^compose\.yaml:8:5 services\.a\.network_mode: network_mode "host" cannot be honoured/,
      ),
      expect.stringMatching(/^compose\.yaml:11:5 services\.b\.pid: pid "service:a" .*cannot share it/),
      expect.stringMatching(/^compose\.yaml:12:5 services\.b\.ipc: ipc "container:c1" .*cannot share it/),
      expect.stringMatching(
        /^compose\.yaml:14:5 services\.b\.ports: .*"none" has no network to publish ports on/,
      ),
    ]);
  });

  it('accepts the namespace keys that say what skiff does', async () => {
    const { project } = await loadOk({
      'compose.yaml':
        'services:\n  a: {image: x, ipc: private, cgroup: host, network_mode: none}\n  b: {image: x, ipc: shareable}\n',
    });
    const [a] = projectToStack(project).services;
    // network_mode none: no network at all (only the container's loopback).
    expect(a?.TaskTemplate?.Networks).toBeUndefined();
  });

  it('refuses a seccomp profile that is not a profile', async () => {
    const errors = await loadErrors({
      'compose.yaml':
        'services:\n  s:\n    image: x\n    security_opt: ["seccomp=p.json", "seccomp=q.json"]\n',
      'p.json': '{"syscalls": [',
      'q.json': '{"syscalls": []}',
    });
    expect(errors.map((e) => `${e.line}:${e.col} ${e.message}`)).toEqual([
      expect.stringMatching(/^4:20 the seccomp profile .*p\.json is not JSON/),
      expect.stringMatching(
        /^4:38 the seccomp profile .*q\.json is not a seccomp profile: it has no "defaultAction"/,
      ),
    ]);
  });
});
