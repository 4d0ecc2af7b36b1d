// The real docker CLI against a skiff node's local networks and volumes, as against
// dockerd: user bridge networks whose containers reach each other by name and alias
// through the embedded DNS, connect/disconnect, and a named volume two containers share.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../lab/command.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';
const IMAGE = 'localhost/dk-net:1';

let node: TestNode;
let dir: string;

async function docker(args: string[], timeoutMs = 60_000) {
  const r = await runCommand(DOCKER, args, {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      DOCKER_HOST: `unix://${join(node.runDir, 'skiff.sock')}`,
      DOCKER_CONFIG: join(dir, 'docker-config'),
    },
    timeoutMs,
  });
  return { ...r, out: r.stdout.trim() };
}

async function ok(args: string[], timeoutMs?: number): Promise<string> {
  const r = await docker(args, timeoutMs);
  expect(r.code, `docker ${args.join(' ')} failed: ${r.stderr}`).toBe(0);
  return r.out;
}

beforeAll(async () => {
  node = testNode();
  dir = mkdtempSync(join(tmpdir(), 'skiff-dknet-'));
  const imp = await importBusybox(node, dir, 'from-web\n', IMAGE);
  expect(imp.code, imp.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  if (node) {
    await docker(['rm', '-f', 'net-web', 'net-other']).catch(() => {});
    await docker(['network', 'rm', 'dknet', 'dknet2']).catch(() => {});
    await docker(['volume', 'rm', 'dkvol']).catch(() => {});
    await node.destroy();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('docker CLI, local networks', () => {
  it('network create; containers on it resolve each other by name and alias', async () => {
    const id = await ok(['network', 'create', 'dknet']);
    const [net] = JSON.parse(await ok(['network', 'inspect', 'dknet'])) as {
      Id: string;
      Driver: string;
      Scope: string;
    }[];
    expect(net).toMatchObject({ Id: id, Driver: 'bridge', Scope: 'local' });
    expect(await ok(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}'])).toMatch(
      /^dknet bridge local$/m,
    );
    await ok([
      'run',
      '-d',
      '--network',
      'dknet',
      '--name',
      'net-web',
      '--network-alias',
      'www',
      IMAGE,
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    ]);
    for (const name of ['net-web', 'www']) {
      const got = await docker([
        'run',
        '--rm',
        '--network',
        'dknet',
        IMAGE,
        'sh',
        '-c',
        // The embedded DNS answers; busybox's static wget and nc (glibc) cannot resolve
        // names themselves, and its wget crashes in this rootfs: nc to the address found.
        `ip=$(busybox nslookup ${name} | busybox awk '/^Address: /{a=$2} END{print a}') && echo -e 'GET / HTTP/1.0\r\n\r' | nc -w 5 $ip 80`,
      ]);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdout).toMatch(/^HTTP\/1\.[01] 200 [\s\S]*\r\n\r\nfrom-web\n$/);
    }
    const members = await ok(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{end}}', 'dknet']);
    expect(members).toBe('net-web');
    // A container elsewhere does not know the name.
    const outside = await docker(['run', '--rm', IMAGE, 'busybox', 'nslookup', 'www']);
    expect(outside.code).not.toBe(0);
    const busy = await docker(['network', 'rm', 'dknet']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('has active endpoints');
  }, 180_000);

  it('network connect and disconnect a running container', async () => {
    await ok(['network', 'create', 'dknet2']);
    await ok(['run', '-d', '--name', 'net-other', IMAGE, 'sleep', '600']);
    await ok(['network', 'connect', '--alias', 'other', 'dknet2', 'net-other']);
    await ok(['network', 'connect', 'dknet2', 'net-web']);
    const seen = await docker(['exec', 'net-web', 'busybox', 'nslookup', 'other']);
    expect(seen.code, seen.stdout + seen.stderr).toBe(0);
    expect(
      await ok(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'net-other']),
    ).toBe('bridge dknet2');
    await ok(['network', 'disconnect', 'dknet2', 'net-other']);
    const gone = await docker(['exec', 'net-web', 'busybox', 'nslookup', 'other']);
    expect(gone.code).not.toBe(0);
    await ok(['rm', '-f', 'net-web', 'net-other']);
    await ok(['network', 'rm', 'dknet', 'dknet2']);
    expect(await ok(['network', 'ls', '--filter', 'scope=local', '--format', '{{.Name}}'])).toBe(
      'bridge\nnone',
    );
  }, 180_000);

  it('volume create, shared by two containers', async () => {
    expect(await ok(['volume', 'create', '--label', 'team=a', 'dkvol'])).toBe('dkvol');
    await ok(['run', '--rm', '-v', 'dkvol:/data', IMAGE, 'sh', '-c', 'echo shared > /data/f']);
    expect(await ok(['run', '--rm', '-v', 'dkvol:/data:ro', IMAGE, 'cat', '/data/f'])).toBe('shared');
    expect(await ok(['volume', 'inspect', '-f', '{{.Labels.team}}', 'dkvol'])).toBe('a');
    await ok(['volume', 'rm', 'dkvol']);
  }, 120_000);
});
