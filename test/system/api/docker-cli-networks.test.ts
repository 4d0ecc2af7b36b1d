// The real docker CLI against a skiff node's local networks and volumes, as against
// dockerd: user bridge networks whose containers reach each other by name and alias
// through the embedded DNS, connect/disconnect, and a named volume two containers share.
import { describe, expect, it } from 'vitest';
import { dockerNode } from '../../support/docker-cli.js';

const IMAGE = 'localhost/dk-net:1';

const { docker, ok } = dockerNode({
  image: IMAGE,
  page: 'from-web\n',
  tmpPrefix: 'skiff-dknet-',
  cleanup: () => [
    ['rm', '-f', 'net-web', 'net-other'],
    ['network', 'rm', 'dknet', 'dknet2'],
    ['volume', 'rm', 'dkvol'],
  ],
});

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
