// `docker save` and `docker load` with the real docker CLI (Docker 28 client) against a
// running skiff node (node/api/images.ts, agent/image/archive-*.ts): a round trip through
// the node's store, tarballs written by skopeo (docker-archive and oci-archive, from the
// node's own save: skopeo also reads what skiff writes) and bad tarballs refused whole.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../lab/command.js';
import { DOCKER, dockerNode } from '../../support/docker-cli.js';

const IMAGE = 'localhost/sl-busybox:1';

const d = dockerNode({ image: IMAGE, page: 'saved and loaded\n', tmpPrefix: 'skiff-dksl-' });
const { docker, ok } = d;

async function sh(script: string): Promise<string> {
  const r = await runCommand('sh', ['-c', script], { timeoutMs: 60_000 });
  expect(r.code, `${script}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

async function tags(): Promise<string[]> {
  return (await ok(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter(Boolean);
}

/** The blobs of the node's content store (to see that a refused load left none). */
function blobs(): string[] {
  const root = join(d.node.stateDir, 'content', 'blobs', 'sha256');
  return existsSync(root) ? readdirSync(root).sort() : [];
}

describe('docker save and docker load against a skiff node', () => {
  it('save, rmi, load and run: the image comes back whole', async () => {
    const id = await ok(['image', 'inspect', '-f', '{{.Id}}', IMAGE]);
    const tar = join(d.dir, 'saved.tar');
    await ok(['save', IMAGE, '-o', tar]);
    // dockerd 25+'s layout: docker-archive's files beside an OCI layout.
    const names = (await sh(`tar -tf ${tar}`)).split('\n');
    for (const f of ['manifest.json', 'repositories', 'index.json', 'oci-layout']) expect(names).toContain(f);
    const manifest = JSON.parse(await sh(`tar -xOf ${tar} manifest.json`)) as {
      Config: string;
      RepoTags: string[];
    }[];
    expect(manifest).toEqual([
      expect.objectContaining({ Config: `blobs/sha256/${id.slice(7)}`, RepoTags: [IMAGE] }),
    ]);

    expect(await ok(['rmi', IMAGE])).toContain(`Untagged: ${IMAGE}`);
    expect(await tags()).not.toContain(IMAGE);
    expect(await ok(['load', '-i', tar])).toBe(`Loaded image: ${IMAGE}`);
    expect(await ok(['image', 'inspect', '-f', '{{.Id}}', IMAGE])).toBe(id);
    expect(await ok(['run', '--rm', IMAGE, 'cat', '/www/index.html'])).toBe('saved and loaded');

    // docker save | docker load, by stdin and stdout.
    await sh(
      `DOCKER_HOST=unix://${join(d.node.runDir, 'skiff.sock')} DOCKER_CONFIG=${join(d.dir, 'docker-config')} ${DOCKER} save ${IMAGE} | gzip > ${join(d.dir, 'saved.tgz')}`,
    );
    await ok(['tag', IMAGE, 'localhost/sl-other:2']);
    const again = await docker(['load', '-i', join(d.dir, 'saved.tgz')]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.out).toBe(`Loaded image: ${IMAGE}`);
    await ok(['rmi', 'localhost/sl-other:2']);
  }, 180_000);

  it('loads what skopeo writes: docker-archive and oci-archive', async () => {
    const saved = join(d.dir, 'for-skopeo.tar');
    await ok(['save', IMAGE, '-o', saved]);
    const dockerArchive = join(d.dir, 'skopeo-docker.tar');
    const ociArchive = join(d.dir, 'skopeo-oci.tar');
    // skopeo reads skiff's save as a docker-archive, and writes both formats itself.
    await sh(
      `skopeo copy -q docker-archive:${saved} docker-archive:${dockerArchive}:localhost/sl-skopeo-docker:1`,
    );
    await sh(`skopeo copy -q docker-archive:${saved} oci-archive:${ociArchive}:localhost/sl-skopeo-oci:1`);
    expect(await ok(['load', '-i', dockerArchive])).toBe('Loaded image: localhost/sl-skopeo-docker:1');
    expect(await ok(['load', '-i', ociArchive])).toBe('Loaded image: localhost/sl-skopeo-oci:1');
    for (const ref of ['localhost/sl-skopeo-docker:1', 'localhost/sl-skopeo-oci:1'])
      expect(await ok(['run', '--rm', ref, 'cat', '/www/index.html'])).toBe('saved and loaded');
    // An OCI layout whose ref name is a bare tag has no repository: the image loads untagged.
    const bare = join(d.dir, 'skopeo-bare.tar');
    await sh(`skopeo copy -q docker-archive:${saved} oci-archive:${bare}:v1`);
    expect(await ok(['load', '-i', bare])).toMatch(/^Loaded image ID: sha256:[a-f0-9]{64}$/);
    for (const ref of ['localhost/sl-skopeo-docker:1', 'localhost/sl-skopeo-oci:1']) await ok(['rmi', ref]);
  }, 180_000);

  it('refuses bad tarballs with a 400 naming what is wrong, and loads nothing', async () => {
    const before = { tags: await tags(), blobs: blobs() };
    const refused = async (file: string, message: RegExp) => {
      const r = await docker(['load', '-i', file]);
      expect(r.code, r.out).toBe(1);
      expect(r.stderr).toMatch(message);
      // A 400 with Docker's error shape, not a message inside a 200 stream.
      const sock = join(d.node.runDir, 'skiff.sock');
      const answer = await sh(
        `curl -s -w '\\n%{http_code}' --unix-socket ${sock} -X POST -H 'Content-Type: application/x-tar' --data-binary @${file} http://skiff/v1.44/images/load?quiet=1`,
      );
      const [body, status] = answer.trim().split('\n');
      expect(status).toBe('400');
      expect((JSON.parse(body!) as { message: string }).message).toMatch(message);
    };
    const notTar = join(d.dir, 'not.tar');
    writeFileSync(notTar, 'this is not a tar archive\n'.repeat(100));
    await refused(notTar, /could not be read as a tar archive/);

    const empty = join(d.dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'hello.txt'), 'hi\n');
    await sh(`tar -C ${empty} -cf ${join(d.dir, 'no-manifest.tar')} hello.txt`);
    await refused(join(d.dir, 'no-manifest.tar'), /holds no image: neither a manifest\.json/);

    // A docker-archive whose layer is not the one its config names (an extra file in it).
    const bad = join(d.dir, 'bad');
    mkdirSync(bad);
    await ok(['save', IMAGE, '-o', join(d.dir, 'good.tar')]);
    await sh(`tar -C ${bad} -xf ${join(d.dir, 'good.tar')} manifest.json blobs`);
    const manifest = JSON.parse(await sh(`cat ${join(bad, 'manifest.json')}`)) as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    const layer = manifest[0]!.Layers[0]!;
    await sh(
      `mkdir ${bad}/x && echo extra > ${bad}/x/extra && tar -C ${bad}/x -cf ${bad}/forged.tar extra && rm ${bad}/${layer}`,
    );
    manifest[0]!.Layers = ['forged.tar'];
    manifest[0]!.RepoTags = ['localhost/sl-forged:1'];
    writeFileSync(join(bad, 'manifest.json'), JSON.stringify(manifest));
    await sh(`tar -C ${bad} -cf ${join(d.dir, 'forged.tar')} manifest.json blobs forged.tar`);
    await refused(
      join(d.dir, 'forged.tar'),
      /layer forged\.tar of image localhost\/sl-forged:1 does not match/,
    );

    expect(await tags()).toEqual(before.tags);
    expect(blobs()).toEqual(before.blobs);
    // Nothing was left in the store's scratch space either.
    const scratch = join(d.node.stateDir, 'tmp');
    expect(existsSync(scratch) ? readdirSync(scratch) : []).toEqual([]);
  }, 180_000);

  it('saves several images in one tarball and a missing one is a 404', async () => {
    await ok(['tag', IMAGE, 'localhost/sl-second:3']);
    const tar = join(d.dir, 'two.tar');
    await ok(['save', '-o', tar, IMAGE, 'localhost/sl-second:3']);
    await ok(['rmi', 'localhost/sl-second:3']);
    const out = (await ok(['load', '-i', tar])).split('\n').sort();
    expect(out).toEqual([`Loaded image: ${IMAGE}`, 'Loaded image: localhost/sl-second:3']);
    await ok(['rmi', 'localhost/sl-second:3']);
    const missing = await docker(['save', 'localhost/nothing:1', '-o', join(d.dir, 'none.tar')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such image: localhost/nothing:1');
  }, 120_000);
});
