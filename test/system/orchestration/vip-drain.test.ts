// A stop-first rolling update behind a service VIP on one node (the single-node daemon,
// real containers): a stopping task leaves the VIP's set and stops only once this node's
// tables no longer send it new connections (no other node shares the network, so the
// node sees every table) — sooner than the fixed drain — and the client, asking the VIP
// every 100 ms, sees no request fail. Web exits at once on SIGTERM, so a connection sent
// to a task after its stop signal is refused.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/vip-drain:1';

function stackFile(outDir: string, version: number): string {
  const loop = [
    'while true; do',
    'if page=$(busybox timeout 5 busybox wget -qO- http://web/ 2>/dev/null); then echo "ok $page"; else echo fail; fi >> /out/loop.log;',
    'busybox usleep 100000; done',
  ].join(' ');
  const web = `echo ${version} > /www/index.html; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait`;
  const dollars = (s: string) => s.replaceAll('$', () => '$$');
  return [
    'services:',
    '  web:',
    `    image: ${IMAGE}`,
    `    command: ["sh", "-c", ${JSON.stringify(dollars(web))}]`,
    '    healthcheck:',
    '      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]',
    '      interval: 1s',
    '      timeout: 5s',
    '      retries: 3',
    '    stop_grace_period: 10s',
    '    deploy:',
    '      replicas: 2',
    '      update_config: { parallelism: 1, delay: 0s, monitor: 1s }',
    '  client:',
    `    image: ${IMAGE}`,
    `    command: ["sh", "-c", ${JSON.stringify(dollars(loop))}]`,
    `    volumes: ["${outDir}:/out"]`,
    '',
  ].join('\n');
}

describe('a rolling update behind a VIP on one node', () => {
  let node: TestNode;
  let dir: string;
  let outDir: string;

  const deploy = async (version: number) => {
    const file = join(dir, `stack-${version}.yml`);
    writeFileSync(file, stackFile(outDir, version));
    const r = await node.skiff(['stack', 'deploy', '-c', file, 'drain'], { timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
  };
  const loopLines = () => {
    try {
      return readFileSync(join(outDir, 'loop.log'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const daemonLog = () => readFileSync(join(node.stateDir, 'daemon.log'), 'utf8');

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-vip-drain-'));
    outDir = mkdtempSync(join(dir, 'out-'));
    const imp = await importBusybox(node, dir, 'page\n', IMAGE);
    expect(imp.code, imp.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await node?.skiff(['stack', 'rm', 'drain']).catch(() => {});
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('stops each old task once the tables left it out, and fails no request', async () => {
    await deploy(1);
    await waitFor(async () => loopLines().filter((l) => l === 'ok 1').length >= 5, {
      what: 'the client reaching web through its VIP',
      timeoutMs: 120_000,
    });
    const before = loopLines().length;
    await deploy(2);
    await waitFor(
      async () => {
        const r = await node.skiff(['service', 'inspect', 'drain_web']);
        const [svc] = JSON.parse(r.stdout || '[]') as Service[];
        return svc?.UpdateStatus?.State === 'completed';
      },
      { what: 'the update of web to complete', timeoutMs: 120_000, intervalMs: 250 },
    );
    await waitFor(async () => loopLines().length >= before + 10, {
      what: 'more requests after the update',
      timeoutMs: 30_000,
    });
    const during = loopLines().slice(before);
    expect(
      during.filter((l) => !l.startsWith('ok ')),
      during.join('\n'),
    ).toEqual([]);
    expect(during.at(-1)).toBe('ok 2');
    // Both old tasks drained on the tables' word, not after the fixed delay.
    const log = daemonLog();
    expect(log.match(/drained: out of every service VIP table/g) ?? [], log.slice(-4000)).toHaveLength(2);
    expect(log).not.toMatch(/stopping after the delay/);
  }, 300_000);
});
