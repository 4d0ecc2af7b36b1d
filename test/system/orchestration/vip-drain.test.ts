// A stop-first rolling update behind a service VIP on one node (the single-node daemon,
// real containers): the client, asking the VIP every 100 ms, sees no request fail. Web
// exits at once on SIGTERM, so a request still open when a task gets its stop signal is
// cut: the drain (a task out of the VIP's set keeps running a while before its stop
// signal) must cover both the tables' rewrite and the requests already sent to it.
// Ending the drain as soon as this node's tables dropped the task failed requests here.
// So did a departing task taking the bridge's MAC with it (the gateway's, the client's
// DNS server's: the bridge followed its lowest port's MAC), until bridges got their own.
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

  it('fails no request of a client asking the VIP', async () => {
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
    const completed = loopLines().length;
    await waitFor(async () => loopLines().length >= completed + 5, {
      what: 'more requests after the update',
      timeoutMs: 30_000,
    });
    const during = loopLines().slice(before);
    expect(
      during.filter((l) => !l.startsWith('ok ')),
      during.join('\n'),
    ).toEqual([]);
    expect(during.at(-1)).toBe('ok 2');
  }, 300_000);
});
