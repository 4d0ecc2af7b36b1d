// The main job on one machine: `skiff compose up` starts the embedded single-node
// cluster and runs a real container (crun under conmon, CNI bridge, published port);
// `down` leaves nothing behind.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCommand, waitFor } from '../../lab/index.js';
import { importBusybox, socketApi, type TestNode, testNode } from '../../support/skiff-node/index.js';

/** The mount options of each mountinfo line whose mount point (and type) `pick` accepts. */
function mountOptions(mountinfo: string, pick: (point: string, type: string) => boolean): string[][] {
  const out: string[][] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0) continue;
    if (pick(f[4] ?? '', f[sep + 1] ?? '')) out.push((f[5] ?? '').split(','));
  }
  return out;
}

function apparmorEnabled(): boolean {
  try {
    return readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    return false;
  }
}

describe('skiff compose on the embedded single-node cluster', () => {
  let node: TestNode;
  let dir: string;
  let port: number;

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-compose-'));
    port = await freePort();
    const imp = await importBusybox(node, dir, 'hello from skiff\n', 'localhost/e2e-busybox:1');
    expect(imp.stderr).toBe('');
    writeFileSync(
      join(dir, 'compose.yaml'),
      [
        'name: e2eweb',
        'services:',
        '  web:',
        '    image: localhost/e2e-busybox:1',
        '    command: ["httpd", "-f", "-p", "80", "-h", "/www"]',
        '    stop_grace_period: 1s',
        '    ports:',
        `      - "${port}:80"`,
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await node.skiff(['compose', 'down'], { cwd: dir });
    await node.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the service, publishes its port, lists it, and removes everything on down', async () => {
    const up = await node.skiff(['compose', 'up', '-d'], { cwd: dir });
    expect(up.stderr).toContain('e2eweb_web: converged (1/1 running)');
    expect(up.code).toBe(0);

    const page = await waitFor(
      async () => {
        const r = await runCommand('busybox', ['wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`]);
        return r.code === 0 ? r.stdout : undefined;
      },
      { what: `the page on 127.0.0.1:${port}` },
    );
    expect(page).toBe('hello from skiff\n');

    const ps = await node.skiff(['compose', 'ps'], { cwd: dir });
    expect(ps.stdout).toMatch(/^NAME\s+IMAGE\s+COMMAND\s+SERVICE/);
    expect(ps.stdout).toMatch(/e2eweb-web-1\s+localhost\/e2e-busybox:1\s+.*\s+web\s+.*Up/);
    expect(ps.stdout).toContain(`0.0.0.0:${port}->80/tcp`);

    // The container's first process runs under the default seccomp filter.
    const status = await node.skiff(['compose', 'exec', '-T', 'web', 'cat', '/proc/1/status'], { cwd: dir });
    expect(status.stdout).toMatch(/^Seccomp:\s+2$/m);
    // Its root filesystem, mounted on the host, holds no working device node or setuid
    // file for a host user who walks it. (crun re-mounts the root inside the container
    // without them; there no-new-privileges and the device cgroup do that job.)
    const onHost = mountOptions(
      readFileSync('/proc/self/mountinfo', 'utf8'),
      (point, type) => point.startsWith(node.stateRoot) && type === 'overlay',
    );
    expect(onHost).toEqual([expect.arrayContaining(['nosuid', 'nodev'])]);

    const pidsBefore = (await runCommand('pgrep', ['-f', `conmon.*${node.runDir}`])).stdout.trim();
    expect(pidsBefore).not.toBe('');

    const down = await node.skiff(['compose', 'down'], { cwd: dir });
    expect(down.code).toBe(0);
    expect(down.stderr).toContain('Removing service e2eweb_web');
    expect(down.stderr).toContain('Removing network e2eweb_default');

    const psAfter = await node.skiff(['compose', 'ps'], { cwd: dir });
    expect(psAfter.stdout.trim().split('\n')).toHaveLength(1);
    expect((await runCommand('pgrep', ['-f', `conmon.*${node.runDir}`])).stdout.trim()).toBe('');
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(node.stateRoot);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(node.runDir);
    const r = await runCommand('busybox', ['wget', '-q', '-O', '-', `http://127.0.0.1:${port}/`]);
    expect(r.code).not.toBe(0);
  });

  it('reports in /info only the confinement it applies', async () => {
    const info = (await socketApi(join(node.runDir, 'skiff.sock'), 'the node', 'GET', '/info')).json as {
      SecurityOptions: string[];
      Warnings: string[];
    };
    expect(info.SecurityOptions).toContain('name=seccomp,profile=default');
    expect(info.SecurityOptions).not.toContain('name=seccomp,profile=builtin');
    // AppArmor only where this kernel enforces it; said so where it does not.
    if (apparmorEnabled()) expect(info.SecurityOptions).toContain('name=apparmor');
    else {
      expect(info.SecurityOptions).not.toContainEqual(expect.stringMatching(/apparmor/));
      expect(info.Warnings.join('\n')).toMatch(/AppArmor is not enabled/);
    }
  });

  it('reports bad compose input with file:line:col and changes nothing', async () => {
    writeFileSync(
      join(dir, 'bad.yaml'),
      'services:\n  web:\n    image: x\n    ports:\n      - "8080:80/tcp"\n      - "abc:80"\n',
    );
    const r = await node.skiff(['compose', '-f', 'bad.yaml', 'up', '-d'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:6:\d+: services\.web\.ports\[1\]/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    const ls = await node.skiff(['service', 'ls', '-q'], { cwd: dir });
    expect(ls.stdout.trim()).toBe('');
  });
});
