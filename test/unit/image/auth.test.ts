import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lookupCredentials, parseChallenges, storeCredentials } from '../../../agent/image/index.js';

describe('parseChallenges', () => {
  it('reads a bearer challenge with quoted params', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.example/token',
          service: 'registry.example',
          scope: 'repository:a/b:pull,push',
        },
      },
    ]);
  });

  it('reads basic, several challenges, unquoted values and escapes', () => {
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
    ]);
    expect(parseChallenges('Negotiate, Basic realm=x, Bearer realm="a\\"b"')).toEqual([
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'bearer', params: { realm: 'a"b' } },
    ]);
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('credentials file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-auth-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads docker config auths (base64 user:password), by host and by URL key', async () => {
    const file = join(dir, 'config.json');
    await writeFile(
      file,
      JSON.stringify({
        auths: {
          'reg.example:5000': { auth: Buffer.from('alice:s3:cret').toString('base64') },
          'https://index.docker.io/v1/': { auth: Buffer.from('bob:pw').toString('base64') },
          'https://other.example': { auth: Buffer.from('carol:x').toString('base64') },
        },
      }),
    );
    expect(await lookupCredentials(file, 'reg.example:5000')).toEqual({
      username: 'alice',
      password: 's3:cret',
    });
    expect(await lookupCredentials(file, 'docker.io')).toEqual({ username: 'bob', password: 'pw' });
    expect(await lookupCredentials(file, 'other.example')).toEqual({ username: 'carol', password: 'x' });
    expect(await lookupCredentials(file, 'nowhere.example')).toBeUndefined();
    expect(await lookupCredentials(join(dir, 'missing.json'), 'x')).toBeUndefined();
  });

  it('stores credentials keeping the rest of the file, mode 0600', async () => {
    const file = join(dir, 'sub', 'config.json');
    await storeCredentials(file, 'a.example', { username: 'u', password: 'p' });
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), credsStore: 'x' }));
    await storeCredentials(file, 'b.example', { username: 'v', password: 'q' });
    const doc = JSON.parse(await readFile(file, 'utf8'));
    expect(doc.credsStore).toBe('x');
    expect(Object.keys(doc.auths)).toEqual(['a.example', 'b.example']);
    expect(await lookupCredentials(file, 'b.example')).toEqual({ username: 'v', password: 'q' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('refuses a file that is not JSON with a clear error', async () => {
    const file = join(dir, 'config.json');
    await writeFile(file, 'nope');
    await expect(lookupCredentials(file, 'x')).rejects.toThrow(/cannot read credentials from/);
  });
});
