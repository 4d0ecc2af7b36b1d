// The real docker CLI (Docker 28 client) against a running skiff node's image and volume
// endpoints (node/api/): what `docker image …` and `docker volume …` need of them.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VolumeManager } from '../../../agent/volume/index.js';
import { runCommand } from '../../lab/command.js';
import { DOCKER, dockerNode } from '../../support/docker-cli.js';

const IMAGE = 'localhost/dk-busybox:1';

const d = dockerNode({ image: IMAGE, page: 'docker cli\n', tmpPrefix: 'skiff-dkimg-' });
const { docker, ok } = d;

describe('docker CLI against a skiff node: images', () => {
  it('docker image ls and image inspect show the imported image', async () => {
    const ls = await ok(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    const [line] = ls.split('\n').filter((l) => l.startsWith(`${IMAGE} `));
    expect(line).toMatch(/^localhost\/dk-busybox:1 [a-f0-9]{12}$/);
    const [doc] = JSON.parse(await ok(['image', 'inspect', IMAGE])) as {
      Id: string;
      RepoTags: string[];
      Os: string;
      RootFS: { Layers: string[] };
    }[];
    expect(doc?.RepoTags).toEqual([IMAGE]);
    expect(doc?.Os).toBe('linux');
    expect(doc?.RootFS.Layers).toHaveLength(1);
    expect(line?.split(' ')[1]).toBe(doc?.Id.slice(7, 19));
  });

  it('docker image tag and image rm change the node store; a missing image is a 404', async () => {
    await ok(['image', 'tag', IMAGE, 'localhost/dk-copy:2']);
    expect(await ok(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(
      'localhost/dk-copy:2',
    );
    expect(await ok(['image', 'rm', 'localhost/dk-copy:2'])).toBe('Untagged: localhost/dk-copy:2');
    expect(await ok(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])).not.toContain('dk-copy');
    const missing = await docker(['image', 'rm', 'localhost/nothing:1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such image: localhost/nothing:1');
    const inspectMissing = await docker(['image', 'inspect', 'localhost/nothing:1']);
    expect(inspectMissing.code).toBe(1);
  });

  it('docker import makes an image of a rootfs tarball, from a file and from stdin', async () => {
    // The CLI labels the tarball it sends application/json, as dockerd takes it.
    const tarball = join(d.dir, 'busybox.tgz');
    const id = await ok(['import', '--change', 'CMD ["echo", "imported"]', tarball, 'localhost/dk-imp:1']);
    expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await ok(['run', '--rm', 'localhost/dk-imp:1'])).toBe('imported');
    const piped = await runCommand('sh', ['-c', `"${DOCKER}" import - localhost/dk-imp:2 < "${tarball}"`], {
      env: d.env(),
      timeoutMs: 60_000,
    });
    expect(piped.code, piped.stderr).toBe(0);
    expect(await ok(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])).toContain('localhost/dk-imp:2');
    await ok(['image', 'rm', 'localhost/dk-imp:1', 'localhost/dk-imp:2']);
  });
});

describe('docker CLI against a skiff node: volumes', () => {
  it('docker volume ls, inspect and rm', async () => {
    // A volume as a service mount would leave it.
    await new VolumeManager({ root: join(d.node.stateDir, 'volumes') }).ensure('dk-data', {
      labels: { tier: 'db' },
    });
    expect((await ok(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}'])).split('\n')).toContain(
      'local dk-data',
    );
    expect(await ok(['volume', 'ls', '-q', '--filter', 'label=tier=db'])).toBe('dk-data');
    const [vol] = JSON.parse(await ok(['volume', 'inspect', 'dk-data'])) as {
      Name: string;
      Labels: Record<string, string>;
      Scope: string;
    }[];
    expect(vol).toMatchObject({ Name: 'dk-data', Labels: { tier: 'db' }, Scope: 'local' });
    expect(await ok(['volume', 'rm', 'dk-data'])).toBe('dk-data');
    const again = await docker(['volume', 'rm', 'dk-data']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no such volume: dk-data');
  });
});
