// docker-compose 1.29 (Debian's, Python over docker-py) against a skiff node, as against
// dockerd: a multi-service project with a user network (and an alias on it), a named
// volume and a published port: up -d (twice: the second finds it up to date), ps, logs,
// exec -T, and down -v leaving no container, network or volume behind.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../lab/command.js';
import { freePort, waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/dk-compose:1';
const PROJECT = 'dkc';

let node: TestNode;
let dir: string;
let port: number;

function env() {
  return {
    PATH: process.env.PATH,
    HOME: dir,
    DOCKER_HOST: `unix://${join(node.runDir, 'skiff.sock')}`,
    DOCKER_CONFIG: join(dir, 'docker-config'),
  };
}

async function compose(args: string[], timeoutMs = 120_000) {
  const r = await runCommand('docker-compose', ['--no-ansi', '-p', PROJECT, ...args], {
    env: env(),
    cwd: dir,
    timeoutMs,
  });
  return { ...r, out: r.stdout.trim() };
}

async function docker(args: string[]) {
  const r = await runCommand('/usr/local/bin/docker', args, { env: env(), timeoutMs: 60_000 });
  expect(r.code, `docker ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.trim();
}

function httpGet(p: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(p, '127.0.0.1');
    let out = '';
    sock.setTimeout(5000, () => sock.destroy(new Error('timed out')));
    sock.on('connect', () => sock.write('GET / HTTP/1.0\r\n\r\n'));
    sock.on('data', (d) => {
      out += d.toString();
    });
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

beforeAll(async () => {
  node = testNode();
  dir = mkdtempSync(join(tmpdir(), 'skiff-dkcompose-'));
  const imp = await importBusybox(node, dir, 'compose-web\n', IMAGE);
  expect(imp.code, imp.stderr).toBe(0);
  port = await freePort();
  writeFileSync(
    join(dir, 'docker-compose.yml'),
    `version: "3.8"
services:
  web:
    image: ${IMAGE}
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    ports:
      - "127.0.0.1:${port}:80"
    networks:
      back:
        aliases: [frontend]
  worker:
    image: ${IMAGE}
    command: ["sh", "-c", "echo worker-up; echo kept > /data/x; exec sleep 600"]
    volumes:
      - data:/data
    networks: [back]
    depends_on: [web]
networks:
  back: {}
volumes:
  data: {}
`,
  );
}, 120_000);

afterAll(async () => {
  if (node) {
    await compose(['down', '-v', '-t', '1']).catch(() => {});
    await node.destroy();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('docker-compose 1.29 against a skiff node', () => {
  it('up -d, ps, logs, exec -T, the published port, down -v leaving nothing', async () => {
    const up = await compose(['up', '-d']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stderr).toContain(`Creating network "${PROJECT}_back"`);
    expect(up.stderr).toContain(`Creating volume "${PROJECT}_data"`);
    const again = await compose(['up', '-d']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`${PROJECT}_web_1 is up-to-date`);

    const ps = await compose(['ps']);
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.out).toMatch(new RegExp(`^${PROJECT}_web_1 .* Up .*127\\.0\\.0\\.1:${port}->80/tcp`, 'm'));
    expect(ps.out).toMatch(new RegExp(`^${PROJECT}_worker_1 .* Up`, 'm'));

    await waitFor(async () => (await compose(['logs', 'worker'])).out.includes('worker-up'), {
      what: 'the worker to log',
      timeoutMs: 30_000,
      intervalMs: 300,
    });

    // The other service by its name, its alias and its container name, over the user network.
    const exec = await compose([
      'exec',
      '-T',
      'worker',
      'sh',
      '-c',
      "cat /data/x && for n in web frontend dkc_web_1; do busybox nslookup $n | busybox awk '/^Address: /{a=$2} END{print a}'; done",
    ]);
    expect(exec.code, exec.stderr).toBe(0);
    const [kept, ...addrs] = exec.out.split('\n');
    expect(kept).toBe('kept');
    expect(addrs).toHaveLength(3);
    expect(new Set(addrs).size).toBe(1);
    expect(addrs[0]).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const failing = await compose(['exec', '-T', 'worker', 'sh', '-c', 'exit 7']);
    expect(failing.code).toBe(7);

    await waitFor(async () => (await httpGet(port).catch(() => '')).endsWith('compose-web\n'), {
      what: 'the published port to answer',
      timeoutMs: 20_000,
      intervalMs: 300,
    });

    const down = await compose(['down', '-v', '-t', '1']);
    expect(down.code, down.stderr).toBe(0);
    expect(await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${PROJECT}`])).toBe('');
    expect(await docker(['network', 'ls', '--filter', 'scope=local', '--format', '{{.Name}}'])).toBe(
      'bridge\nnone',
    );
    expect(await docker(['volume', 'ls', '-q'])).toBe('');
  }, 300_000);
});
