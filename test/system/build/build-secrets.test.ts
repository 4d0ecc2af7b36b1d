// compose's build.secrets and build.ssh on a real node with real buildah: a secret from
// a file and one from an environment variable are readable in `RUN --mount=type=secret`
// (their digests land in the image, computed inside the build) while their values are
// nowhere in what the node keeps (image layers unpacked or compressed, content store,
// records) nor in the build's output; `RUN --mount=type=ssh` reaches a real ssh-agent
// (`default`) and a key file (`id=path`), ssh-add inside the build listing each key.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../lab/command.js';
import { waitFor } from '../../lab/wait.js';
import { type TestNode, testNode } from '../../support/skiff-node/index.js';

const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

let node: TestNode;
let dir: string;
let agent: ReturnType<typeof spawn> | undefined;
const agentSock = () => join(dir, 'agent.sock');

const FILE_SECRET = `file-secret-${randomBytes(12).toString('hex')}`;
const ENV_SECRET = `env-secret-${randomBytes(12).toString('hex')}`;

/** A binary and the shared libraries it loads, copied into the context under their own paths. */
async function copyWithLibs(bin: string, root: string): Promise<void> {
  const ldd = await runCommand('ldd', [bin]);
  const paths = [bin, ...[...ldd.stdout.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!)];
  for (const p of paths) {
    mkdirSync(join(root, dirname(p)), { recursive: true });
    copyFileSync(p, join(root, p));
  }
}

async function docker(args: string[]) {
  return runCommand(DOCKER, args, {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      DOCKER_HOST: `unix://${join(node.runDir, 'skiff.sock')}`,
      DOCKER_CONFIG: join(dir, 'docker-config'),
    },
    timeoutMs: 60_000,
  });
}

/** Every file under `root`, gzip'd ones read unpacked too. */
function* filesUnder(root: string): Generator<{ path: string; data: Buffer }> {
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) yield* filesUnder(p);
    else if (e.isFile()) {
      let data = readFileSync(p);
      if (data[0] === 0x1f && data[1] === 0x8b) {
        try {
          data = gunzipSync(data);
        } catch {
          // not gzip after all: searched as it is
        }
      }
      yield { path: p, data };
    }
  }
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

beforeAll(async () => {
  node = testNode();
  dir = mkdtempSync(join(tmpdir(), 'skiff-build-secrets-'));
  const started = await node.skiff(['daemon', 'start']);
  expect(started.code, started.stderr).toBe(0);
  // Two keys: one held by a real ssh-agent (build.ssh default), one only in its file.
  for (const k of ['agent-key', 'file-key']) {
    const gen = await runCommand('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      k,
      '-f',
      join(dir, k),
    ]);
    expect(gen.code, gen.stderr).toBe(0);
  }
  agent = spawn('ssh-agent', ['-D', '-a', agentSock()], { stdio: 'ignore' });
  await waitFor(() => existsSync(agentSock()) && statSync(agentSock()).isSocket(), {
    what: 'the ssh-agent socket',
    timeoutMs: 20_000,
    intervalMs: 100,
  });
  const add = await runCommand('ssh-add', [join(dir, 'agent-key')], {
    env: { PATH: process.env.PATH, SSH_AUTH_SOCK: agentSock() },
  });
  expect(add.code, add.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  agent?.kill();
  await node?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('compose build secrets and ssh', () => {
  it('RUN --mount reads the secrets and the ssh keys; no secret value is kept anywhere', async () => {
    const ctx = join(dir, 'app');
    mkdirSync(ctx, { recursive: true });
    copyFileSync('/bin/busybox', join(ctx, 'busybox'));
    await copyWithLibs('/usr/bin/ssh-add', join(ctx, 'root'));
    writeFileSync(join(dir, 'token.txt'), FILE_SECRET);
    writeFileSync(
      join(ctx, 'Dockerfile'),
      [
        'FROM scratch',
        'COPY busybox /bin/busybox',
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
        'COPY root/ /',
        'RUN --mount=type=secret,id=filetok md5sum /run/secrets/filetok | cut -d" " -f1 > /filetok.md5',
        'RUN --mount=type=secret,id=envtok cat /run/secrets/envtok | md5sum | cut -d" " -f1 > /envtok.md5',
        'RUN --mount=type=ssh ssh-add -l > /ssh-default.txt',
        'RUN --mount=type=ssh,id=deploy ssh-add -l > /ssh-deploy.txt',
        'RUN ls /run/secrets > /after.txt 2>&1 || true',
        'CMD ["/bin/sh"]',
        '',
      ].join('\n'),
    );
    const file = join(dir, 'compose.yaml');
    writeFileSync(
      file,
      [
        'services:',
        '  web:',
        '    image: localhost/secret-built:1',
        '    build:',
        '      context: ./app',
        '      secrets:',
        '        - source: tok',
        '          target: filetok',
        '        - envtok',
        '      ssh:',
        '        - default',
        `        - deploy=${join(dir, 'file-key')}`,
        'secrets:',
        '  tok:',
        `    file: ${join(dir, 'token.txt')}`,
        '  envtok:',
        '    environment: BUILD_TOKEN',
        '',
      ].join('\n'),
    );
    const built = await node.skiff(['compose', '-f', file, 'build'], {
      timeoutMs: 180_000,
      env: { BUILD_TOKEN: ENV_SECRET, SSH_AUTH_SOCK: agentSock() },
    });
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr + built.stdout).not.toContain(FILE_SECRET);
    expect(built.stderr + built.stdout).not.toContain(ENV_SECRET);

    const show = async (path: string) => {
      const r = await docker(['run', '--rm', 'localhost/secret-built:1', 'cat', path]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    expect(await show('/filetok.md5')).toBe(md5(FILE_SECRET));
    expect(await show('/envtok.md5')).toBe(md5(ENV_SECRET));
    expect(await show('/ssh-default.txt')).toContain('agent-key');
    // A key from a file is in buildah's agent without its comment: its fingerprint then.
    const fp = await runCommand('ssh-keygen', ['-lf', join(dir, 'file-key.pub')]);
    expect(await show('/ssh-deploy.txt')).toContain(fp.stdout.split(' ')[1]);
    expect(await show('/after.txt')).not.toMatch(/filetok|envtok/);

    // Nothing the node keeps holds a value: layers (unpacked and compressed), records,
    // scratch, its log, its run dir.
    for (const root of [dirname(node.stateDir), node.runDir]) {
      for (const { path, data } of filesUnder(root)) {
        expect(data.includes(FILE_SECRET), path).toBe(false);
        expect(data.includes(ENV_SECRET), path).toBe(false);
      }
    }
    expect(readdirSync(join(node.runDir, 'build'))).toEqual([]);
    const saved = await runCommand(DOCKER, ['save', '-o', join(dir, 'img.tar'), 'localhost/secret-built:1'], {
      env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: `unix://${join(node.runDir, 'skiff.sock')}` },
      timeoutMs: 60_000,
    });
    expect(saved.code, saved.stderr).toBe(0);
    const untar = await runCommand('tar', [
      '-xf',
      join(dir, 'img.tar'),
      '-C',
      mkdtempSync(join(dir, 'img-')),
    ]);
    expect(untar.code, untar.stderr).toBe(0);
    for (const { path, data } of filesUnder(dir)) {
      if (!path.includes('/img-')) continue;
      expect(data.includes(FILE_SECRET), path).toBe(false);
      expect(data.includes(ENV_SECRET), path).toBe(false);
    }
  }, 300_000);

  it('refuses what it cannot honour, by name', async () => {
    const file = join(dir, 'refused.yaml');
    const write = (build: string[], top: string[] = []) =>
      writeFileSync(
        file,
        ['services:', '  web:', '    build:', '      context: ./app', ...build, ...top, ''].join('\n'),
      );
    write(['      secrets: [ext]'], ['secrets:', '  ext:', '    external: true']);
    let r = await node.skiff(['compose', '-f', file, 'build']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('build secret "ext" is external');
    write(['      secrets: [envtok]'], ['secrets:', '  envtok:', '    environment: NOT_SET_ANYWHERE']);
    r = await node.skiff(['compose', '-f', file, 'build']);
    expect(r.stderr).toContain('reads the variable NOT_SET_ANYWHERE, which is not set');
    write(['      cache_from: [localhost:5000/app:cache]']);
    r = await node.skiff(['compose', '-f', file, 'build']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('build.cache_from is not supported');
  }, 120_000);
});
