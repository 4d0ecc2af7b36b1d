// `skiff image …` end to end: the CLI against a real registry and a running node, whose
// image store it changes through the node's API; skopeo, an independent client, reads
// what `skiff image push` wrote.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BuiltImage,
  buildImage,
  encodeTar,
  inspectImage,
  pushImage,
  startRegistry,
  type TestRegistry,
  toRawEntries,
} from '../../fixtures/index.js';
import { runCommand } from '../../lab/index.js';
import { type TestNode, testNode } from '../../support/skiff-node/index.js';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');
let registry: TestRegistry;
let image: BuiltImage;
let root: string;
let node: TestNode;

beforeAll(async () => {
  registry = await startRegistry();
  image = await buildImage({ files: { '/hello': 'hello\n' }, config: { Cmd: ['cat', '/hello'] } });
  await pushImage(image, registry.host, 'cli/app:1');
  root = await mkdtemp(join(tmpdir(), 'skiff-cli-'));
  node = testNode();
  const started = await node.skiff(['daemon', 'start']);
  expect(started.code, started.stderr).toBe(0);
}, 120_000);
afterAll(async () => {
  if (node) {
    await skiff('image', 'prune', '-a');
    await node.destroy();
  }
  if (root) await rm(root, { recursive: true, force: true });
  await image?.remove();
  await registry?.stop();
}, 120_000);

function skiff(...args: string[]) {
  const [group, cmd, ...rest] = args;
  const withAuthFile =
    group === 'image' && cmd === 'push'
      ? [group, cmd, '--auth-file', join(root, 'auth.json'), ...rest]
      : args;
  return runCommand(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli/main.ts'), ...withAuthFile], {
    cwd: REPO_ROOT,
    env: node.env,
    timeoutMs: 60_000,
  });
}

describe('skiff image', () => {
  it('pull prints plain progress lines when stdout is not a terminal; ls and inspect show the image', async () => {
    const ref = `${registry.host}/cli/app:1`;
    const pull = await skiff('image', 'pull', ref);
    expect(pull.stderr).toBe('');
    expect(pull.code).toBe(0);
    const lines = pull.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${ref}: resolved to ${image.digest} (linux/amd64)`);
    for (const layer of image.manifests[0]!.layers)
      expect(lines).toContain(`${layer.digest.slice(7, 19)}: downloading`);
    expect(lines).toContain('unpacking layers');
    expect(lines.at(-2)).toBe(`Digest: ${image.digest}`);

    const ls = await skiff('image', 'ls');
    expect(ls.stdout.split('\n')[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(ls.stdout).toMatch(
      new RegExp(`${registry.host}/cli/app\\s+1\\s+${image.manifests[0]!.configDigest.slice(7, 19)}`),
    );

    const inspect = await skiff('image', 'inspect', ref);
    const [doc] = JSON.parse(inspect.stdout);
    expect(doc).toMatchObject({
      Id: image.manifests[0]!.configDigest,
      Config: { Cmd: ['cat', '/hello'] },
      Os: 'linux',
    });
  });

  it('pull --format json prints one JSON event per line', async () => {
    const pull = await skiff('image', 'pull', '--format', 'json', `${registry.host}/cli/app:1`);
    expect(pull.code).toBe(0);
    const events = pull.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'resolved', digest: image.digest });
    expect(events.filter((e) => e.type === 'layer' && e.status === 'exists')).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'done', id: image.manifests[0]!.configDigest });
  });

  it('pull draws a progress bar per layer when stdout is a terminal', async () => {
    // script(1) gives the command a pseudo-terminal; an emptied store makes every layer download.
    const ref = `${registry.host}/cli/app:1`;
    expect((await skiff('image', 'rm', ref)).code).toBe(0);
    expect((await skiff('image', 'prune')).code).toBe(0);
    const cmd = [process.execPath, '--import', 'tsx', 'cli/main.ts', 'image', 'pull', ref];
    const r = await runCommand('script', ['-qec', cmd.join(' '), '/dev/null'], {
      cwd: REPO_ROOT,
      env: node.env,
      timeoutMs: 60_000,
    });
    expect(r.code).toBe(0);
    for (const layer of image.manifests[0]!.layers) {
      // each layer's line is redrawn in place (erase line) and ends done
      expect(r.stdout).toContain(`\x1b[2K${layer.digest.slice(7, 19)}: done (`);
    }
    expect(r.stdout).toMatch(/\x1b\[\d+A/); // cursor moved up to redraw the bars
  });

  it('import makes an image from a rootfs tarball; push sends it and skopeo reads it back', async () => {
    const tarball = join(root, 'rootfs.tar');
    await writeFile(
      tarball,
      encodeTar(
        toRawEntries([
          { type: 'dir', path: 'etc' },
          { type: 'file', path: 'etc/imported', content: 'yes' },
        ]),
      ),
    );
    const target = `${registry.host}/cli/imported:v1`;
    const imp = await skiff('image', 'import', '--cmd', '["/bin/sh"]', tarball, target);
    expect(imp.code).toBe(0);
    const id = imp.stdout.trim();
    expect(id).toMatch(/^sha256:[a-f0-9]{64}$/);
    const push = await skiff('image', 'push', target);
    expect(push.stderr).toBe('');
    const digest = /digest: (sha256:[a-f0-9]{64})/.exec(push.stdout)?.[1];
    expect(digest).toBeDefined();
    const inspected = await inspectImage(target);
    expect(inspected.Digest).toBe(digest);
    const config = await inspectImage(target, { config: true });
    expect(config).toMatchObject({ config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers' } });
  });

  it('tag, rm and prune change the store as docker would', async () => {
    const ref = `${registry.host}/cli/app:1`;
    expect((await skiff('image', 'tag', ref, 'local/renamed:x')).code).toBe(0);
    // One JSON line per tag, as docker's image ls prints it.
    const ls = (await skiff('image', 'ls', '--format', 'json')).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { Repository: string; Tag: string });
    expect(ls.map((i) => `${i.Repository}:${i.Tag}`)).toEqual(
      expect.arrayContaining([ref, 'local/renamed:x']),
    );
    const untag = await skiff('image', 'rm', 'local/renamed:x');
    expect(untag.stdout).toBe('Untagged: local/renamed:x\n');
    const rm1 = await skiff('image', 'rm', ref);
    expect(rm1.stdout).toBe(`Untagged: ${ref}\nDeleted: ${image.manifests[0]!.configDigest}\n`);
    const missing = await skiff('image', 'rm', ref);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`error: no such image: ${ref}`);
    const prune = JSON.parse((await skiff('image', 'prune', '--format', 'json')).stdout);
    expect(prune.blobsRemoved).toBeGreaterThanOrEqual(4);
    expect(prune.snapshotsRemoved).toBe(2);
    // Only the imported image's blobs (layer, config, manifest) remain.
    expect(await readdir(join(node.stateDir, 'content/blobs/sha256'))).toHaveLength(3);
  });

  it('reports registry errors in one line with exit status 1', async () => {
    const r = await skiff('image', 'pull', `${registry.host}/cli/nothing:1`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: manifest unknown: ${registry.host}/cli/nothing:1`);
    const hostile = join(root, 'hostile.tar');
    await writeFile(hostile, encodeTar([{ path: '../../escape', type: 'file', content: 'x' }]));
    const imp = await skiff('image', 'import', hostile, 'local/hostile:1');
    expect(imp.code).toBe(1);
    expect(imp.stderr).toMatch(/contains a path that escapes the rootfs: \.\.\/\.\.\/escape/);
    expect((await skiff('image', 'ls', '-q')).stdout.split('\n').filter(Boolean)).toHaveLength(1);
    const bad = await skiff('image', 'pull', 'Bad/Name');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("invalid image reference 'Bad/Name'");
  });
});
