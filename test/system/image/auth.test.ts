// Registry authentication against the real registry: htpasswd basic auth, and the
// bearer token flow with the fixtures' token server (the registry verifies its JWTs).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ImageService } from '../../../agent/image/index.js';
import { buildImage, inspectImage, pushImage, startRegistry } from '../../fixtures/index.js';

const USER = { user: 'alice', password: 'pa55:word' };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(kind: 'basic' | 'token') {
  const registry = await startRegistry(
    kind === 'basic' ? { htpasswd: USER } : { tokenAuth: { users: [USER] } },
  );
  cleanups.push(() => registry.stop());
  const image = await buildImage({ files: { '/secret.txt': 'only for alice\n' } });
  cleanups.push(() => image.remove());
  await pushImage(image, registry.host, 'private/app:1', { creds: USER });
  const root = await mkdtemp(join(tmpdir(), 'skiff-auth-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const authFile = join(root, 'docker', 'config.json');
  const images = new ImageService({ root, authFile });
  cleanups.push(() => images.close());
  return { registry, image, images, authFile, root, ref: `${registry.host}/private/app:1` };
}

describe('registry auth', () => {
  it('basic: fails with "authentication required" without credentials, succeeds after login', async () => {
    const { registry, images, authFile, ref, image } = await setup('basic');
    await expect(images.pull(ref)).rejects.toThrow(
      `authentication required for ${registry.host}: run \`skiff login ${registry.host}\``,
    );
    expect(images.list()).toEqual([]);
    await expect(images.login(registry.host, USER.user, 'wrong')).rejects.toThrow(
      `login to ${registry.host} failed: the registry refused the user name or password`,
    );
    await images.login(registry.host, USER.user, USER.password);
    const saved = JSON.parse(await readFile(authFile, 'utf8'));
    expect(Buffer.from(saved.auths[registry.host].auth, 'base64').toString()).toBe(
      `${USER.user}:${USER.password}`,
    );
    const rec = await images.pull(ref);
    expect(rec.repoDigests).toEqual([`${registry.host}/private/app@${image.digest}`]);
  });

  it('bearer: gets a scoped token with the stored credentials, reuses it, and pushes with a push scope', async () => {
    const { registry, images, authFile, ref } = await setup('token');
    const tokens = registry.tokenServer!;
    await expect(images.pull(ref)).rejects.toThrow(`authentication required for ${registry.host}`);
    // Credentials written as docker writes them.
    await mkdir(dirname(authFile), { recursive: true });
    const auth = Buffer.from(`${USER.user}:${USER.password}`).toString('base64');
    await writeFile(authFile, JSON.stringify({ auths: { [registry.host]: { auth } } }));
    const before = tokens.requests.length;
    const rec = await images.pull(ref);
    expect(rec.layers).toHaveLength(2);
    const issued = tokens.requests.slice(before).filter((r) => r.status === 200);
    // One token for the manifest, config and both layers: it is cached for its scope.
    expect(issued).toEqual([
      expect.objectContaining({
        account: USER.user,
        scopes: ['repository:private/app:pull'],
        granted: ['repository:private/app:pull'],
      }),
    ]);

    await images.tag(ref, `${registry.host}/private/copy:2`);
    await images.push(`${registry.host}/private/copy:2`);
    expect(
      tokens.requests.some((r) => r.scopes.includes('repository:private/copy:pull,push') && r.status === 200),
    ).toBe(true);
    const inspected = await inspectImage(`${registry.host}/private/copy:2`, { creds: USER });
    expect(inspected.Digest).toBe(rec.manifestDigest);
  });
});
