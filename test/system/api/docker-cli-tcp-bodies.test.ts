// The real docker CLI over the TCP API (client certificates) of a `skiff cluster init`
// node whose body timeout is 2 s (SKIFF_API_BODY_TIMEOUT): a streamed upload that
// takes longer (`docker import -`, `docker cp -`, fed by a throttled pipe) goes through,
// as does an exec whose input stays silent past it; a JSON body or an upload that
// stalls is cut. The docker CLI labels its import and cp tarballs application/json, so
// only the route can tell them apart from a JSON body.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCommand } from '../../lab/index.js';
import { DOCKER } from '../../support/docker-cli.js';
import { busyboxTarball, type TestNode, testNode } from '../../support/skiff-node/index.js';

const BODY_TIMEOUT_MS = 2_000;
const IMAGE = 'localhost/tcp-bodies:1';
const CONTAINER = 'tcp-bodies';

describe('docker CLI over TCP: streamed bodies outlast the body timeout, stalled ones do not', () => {
  let node: TestNode;
  let dir: string;
  let port: number;
  let tarball: string;

  const env = () => ({
    PATH: process.env.PATH,
    HOME: dir,
    DOCKER_CONFIG: join(dir, 'docker-config'),
    DOCKER_HOST: `tcp://127.0.0.1:${port}`,
    DOCKER_CERT_PATH: join(dir, 'certs'),
  });
  // The node's certificate names its ID and role, not 127.0.0.1: TLS with the client
  // certificate, without checking the server's name.
  const tls = ['--tls'];

  /** Runs docker with `input` written to its stdin in `chunks` pieces `gapMs` apart, the first after `gapMs`. */
  function dockerSlowly(args: string[], input: Buffer, chunks: number, gapMs: number) {
    return new Promise<{ code: number; stdout: string; stderr: string; ms: number }>((resolve, reject) => {
      const started = Date.now();
      const p = spawn(DOCKER, [...tls, ...args], { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      p.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const kill = setTimeout(() => p.kill('SIGKILL'), 60_000);
      p.on('error', reject);
      p.on('close', (code) => {
        clearTimeout(kill);
        resolve({ code: code ?? -1, stdout: stdout.trim(), stderr, ms: Date.now() - started });
      });
      trickle(p.stdin, input, chunks, gapMs);
    });
  }

  function trickle(to: Writable, input: Buffer, chunks: number, gapMs: number): void {
    const size = Math.ceil(input.length / chunks);
    let i = 0;
    to.on('error', () => {});
    const next = () => {
      if (to.destroyed) return;
      to.write(input.subarray(i * size, (i + 1) * size));
      i += 1;
      if (i < chunks) setTimeout(next, gapMs);
      else to.end();
    };
    setTimeout(next, gapMs);
  }

  const docker = (args: string[]) => runCommand(DOCKER, [...tls, ...args], { env: env(), timeoutMs: 60_000 });

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-tcpbody-'));
    port = await freePort();
    const init = await node.skiff(
      ['cluster', 'init', '--advertise-addr', '127.0.0.1', '--port', String(port)],
      {
        env: { SKIFF_API_BODY_TIMEOUT: `${BODY_TIMEOUT_MS}ms` },
      },
    );
    expect(init.code, init.stderr).toBe(0);
    const certs = join(dir, 'certs');
    mkdirSync(certs);
    const own = join(node.stateDir, 'certs');
    copyFileSync(join(own, 'ca.crt'), join(certs, 'ca.pem'));
    copyFileSync(join(own, 'node.crt'), join(certs, 'cert.pem'));
    copyFileSync(join(own, 'node.key'), join(certs, 'key.pem'));
    tarball = await busyboxTarball(dir, 'tcp bodies\n');
  }, 120_000);

  afterAll(async () => {
    if (node) {
      await docker(['rm', '-f', CONTAINER]).catch(() => {});
      await node.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('docker import - takes a tarball that arrives over twice the body timeout', async () => {
    // 16 pieces 250 ms apart: never silent for long, 4 s in all.
    const res = await dockerSlowly(['import', '-', IMAGE], readFileSync(tarball), 16, 250);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(res.ms).toBeGreaterThan(2 * BODY_TIMEOUT_MS);
  }, 90_000);

  it('docker cp - into a container takes a tar that arrives over twice the body timeout', async () => {
    const run = await docker(['run', '-d', '--name', CONTAINER, IMAGE, 'sleep', '600']);
    expect(run.code, run.stderr).toBe(0);
    const src = join(dir, 'cp-src');
    mkdirSync(src);
    writeFileSync(join(src, 'hello.txt'), 'copied slowly\n');
    const tar = await runCommand('tar', ['-C', src, '-cf', join(dir, 'cp.tar'), 'hello.txt'], {
      timeoutMs: 10_000,
    });
    expect(tar.code, tar.stderr).toBe(0);
    const res = await dockerSlowly(
      ['cp', '-', `${CONTAINER}:/tmp`],
      readFileSync(join(dir, 'cp.tar')),
      16,
      250,
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.ms).toBeGreaterThan(2 * BODY_TIMEOUT_MS);
    const cat = await docker(['exec', CONTAINER, 'cat', '/tmp/hello.txt']);
    expect(cat.stdout).toBe('copied slowly\n');
  }, 90_000);

  it('docker exec -i keeps a connection whose input is silent past the body timeout', async () => {
    // The command waits for a line that comes 3 s after the exec started.
    const res = await dockerSlowly(
      ['exec', '-i', CONTAINER, 'sh', '-c', 'read x; echo "got $x"'],
      Buffer.from('late\n'),
      1,
      BODY_TIMEOUT_MS + 1_000,
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('got late');
  }, 90_000);

  /** Sends a request's head and the start of its body, then nothing: when did the server close? */
  async function stall(head: string, start: string): Promise<number | undefined> {
    const certs = join(dir, 'certs');
    const sock = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(join(certs, 'ca.pem')),
      cert: readFileSync(join(certs, 'cert.pem')),
      key: readFileSync(join(certs, 'key.pem')),
      checkServerIdentity: () => undefined,
    });
    try {
      await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
      sock.on('error', () => {});
      const closed = new Promise<number>((resolve) => sock.once('close', () => resolve(Date.now())));
      const started = Date.now();
      sock.write(`${head}\r\n\r\n${start}`);
      const deadline = new Promise<number>((resolve) => setTimeout(() => resolve(-1), 15_000).unref());
      const at = await Promise.race([closed, deadline]);
      return at < 0 ? undefined : at - started;
    } finally {
      sock.destroy();
    }
  }

  it('cuts a JSON body that stalls, and an upload that stops sending', async () => {
    const json = await stall(
      'POST /v1.44/secrets/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000',
      '{"Name":',
    );
    expect(json, 'the server closed the stalled JSON body').toBeDefined();
    expect(json).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 100);
    expect(json).toBeLessThan(BODY_TIMEOUT_MS + 8_000);

    const upload = await stall(
      'POST /v1.44/images/create?fromSrc=-&repo=localhost/stalled HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000',
      'x'.repeat(512),
    );
    expect(upload, 'the server closed the silent upload').toBeDefined();
    expect(upload).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 100);
    expect(upload).toBeLessThan(BODY_TIMEOUT_MS + 8_000);
  }, 60_000);
});
