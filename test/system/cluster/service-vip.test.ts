// Service VIPs across two lab hosts, with the real `skiff daemon` and real containers:
// web's two tasks and a dnsrr service run on the manager (h1), a client on the worker
// (h2). From inside the client, `web` resolves to exactly one address, its VIP, and
// requests to it reach both tasks over the overlay; `tasks.web` and the dnsrr service
// resolve to task addresses. A start-first rolling update of web behind the VIP fails
// none of the client's requests.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import {
  containerPids,
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  logTail,
  startLabCluster,
} from '../../support/lab-cluster.js';

/** The stack: `version` changes web's spec (a rolling update). */
function stackFile(outDir: string, version: number): string {
  // The client appends one line per request to web's VIP: "ok PAGE" or "fail" (busybox
  // wget's own -T crashes this static build: `timeout` bounds it instead).
  const loop = [
    'while true; do',
    'if page=$(busybox timeout 5 busybox wget -qO- http://web/ 2>/dev/null); then echo "ok $page"; else echo fail; fi >> /out/loop.log;',
    'busybox usleep 100000; done',
  ].join(' ');
  const httpd = 'busybox hostname > /www/index.html && exec httpd -f -p 80 -h /www';
  const onManager = ['      placement:', '        constraints: ["node.role == manager"]'];
  return [
    'services:',
    '  web:',
    `    image: ${LAB_IMAGE}`,
    `    command: ["sh", "-c", ${JSON.stringify(httpd)}]`,
    `    environment: { VERSION: "${version}" }`,
    '    networks: [front]',
    '    healthcheck:',
    '      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]',
    '      interval: 1s',
    '      timeout: 5s',
    '      retries: 3',
    '    stop_grace_period: 3s',
    '    deploy:',
    '      replicas: 2',
    '      update_config: { parallelism: 1, order: start-first, delay: 0s, monitor: 1s }',
    ...onManager,
    '  rr:',
    `    image: ${LAB_IMAGE}`,
    '    command: ["sleep", "3600"]',
    '    networks: [front]',
    '    deploy:',
    '      replicas: 2',
    '      endpoint_mode: dnsrr',
    ...onManager,
    '  client:',
    `    image: ${LAB_IMAGE}`,
    `    command: ["sh", "-c", ${JSON.stringify(loop.replaceAll('$', () => '$$'))}]`,
    '    networks: [front]',
    `    volumes: ["${outDir}:/out"]`,
    '    deploy:',
    '      placement:',
    '        constraints: ["node.role == worker"]',
    'networks:',
    '  front:',
    '    driver: overlay',
    '',
  ].join('\n');
}

describe('service VIPs across two lab hosts', () => {
  let c: LabCluster;
  let base: string;
  let outDir: string;

  const deploy = async (version: number) => {
    const file = join(base, `stack-${version}.yml`);
    writeFileSync(file, stackFile(outDir, version));
    const r = await c.skiff(['stack', 'deploy', '-c', file, 'vip']);
    expect(r.code, r.stderr).toBe(0);
  };
  const serving = async (service: string) =>
    (await c.apiTasks([service])).filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');
  const ipOf = (t: Task) => t.NetworksAttachments?.[0]?.Addresses[0]?.split('/')[0] ?? '';
  /** Runs a command inside a running task's container (crun exec on its node). */
  const inTask = async (node: LabClusterNode, taskId: string, cmd: string[]) => {
    const crunRoot = join(node.runDir, 'runtime', 'crun');
    const r = await node.host.exec('crun', ['--root', crunRoot, 'exec', taskId, ...cmd], {
      sharedMounts: true,
      timeoutMs: 60_000,
    });
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
  /** The addresses busybox nslookup gives for a name (those after its "Name:" line). */
  const lookup = async (node: LabClusterNode, taskId: string, name: string) => {
    const r = await inTask(node, taskId, ['busybox', 'nslookup', name]);
    const lines = r.stdout.split('\n');
    const from = lines.findIndex((l) => l.startsWith('Name:'));
    if (from < 0) return [];
    return lines
      .slice(from)
      .flatMap((l) => /^Address(?: \d+)?:\s+([\d.]+)$/.exec(l.trim())?.[1] ?? [])
      .sort();
  };
  const loopLines = () => {
    try {
      return readFileSync(join(outDir, 'loop.log'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  /** What the client sees: its resolver's answers and its namespace's VIP table. */
  const diagnose = async (clientId: string) => {
    if (!clientId) return '(no client task)';
    const worker = c.nodes[1] as LabClusterNode;
    const out: string[] = [];
    for (const name of ['web', 'tasks.web']) {
      const r = await inTask(worker, clientId, ['busybox', 'nslookup', name]).catch((e) => ({
        stdout: String(e),
        stderr: '',
      }));
      out.push(`nslookup ${name}: ${r.stdout} ${r.stderr}`);
    }
    const pid = (await containerPids(worker)).get(clientId);
    if (pid) {
      const r = await worker.host.exec('nsenter', [`--net=/proc/${pid}/ns/net`, 'nft', 'list', 'ruleset'], {
        sharedMounts: true,
      });
      out.push(`nft: ${r.stdout} ${r.stderr}`);
    }
    return out.join('\n');
  };
  /** The client's VIP table (nft) in its namespace on the worker. */
  const vipTable = async (clientId: string) => {
    const worker = c.nodes[1] as LabClusterNode;
    const pid = (await containerPids(worker)).get(clientId);
    if (!pid) return '';
    const r = await worker.host.exec(
      'nsenter',
      [`--net=/proc/${pid}/ns/net`, 'nft', 'list', 'table', 'ip', 'skiff_lb'],
      { sharedMounts: true },
    );
    return r.stdout;
  };
  const logs = () => c.nodes.map((n) => `${n.host.name}:\n${logTail(n, 40)}`).join('\n');

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'skiff-vip-'));
    outDir = mkdtempSync(join(base, 'out-'));
    c = await startLabCluster({ managers: 1, workers: 1, image: true });
  }, 240_000);

  afterAll(async () => {
    await c?.skiff(['stack', 'rm', 'vip']).catch(() => {});
    await c?.destroy();
    if (base) rmSync(base, { recursive: true, force: true });
  }, 120_000);

  it('resolves a service to its VIP and balances over its tasks on another host; dnsrr and tasks.NAME give task addresses; a start-first update fails no request', async () => {
    const [manager, worker] = c.nodes as [LabClusterNode, LabClusterNode];
    await deploy(1);
    let clientId = '';
    try {
      const web = await waitFor(
        async () => ((await serving('vip_web')).length === 2 ? serving('vip_web') : undefined),
        {
          what: 'web running twice',
          timeoutMs: 120_000,
        },
      );
      const rr = await waitFor(
        async () => ((await serving('vip_rr')).length === 2 ? serving('vip_rr') : undefined),
        {
          what: 'rr running twice',
          timeoutMs: 120_000,
        },
      );
      const [client] = await waitFor(
        async () => ((await serving('vip_client')).length === 1 ? serving('vip_client') : undefined),
        { what: 'the client running', timeoutMs: 120_000 },
      );
      clientId = (client as Task).ID;
      expect((client as Task).NodeID).toBe(worker.id);
      expect(web.every((t) => t.NodeID === manager.id)).toBe(true);
      const svc = await c.api().inspectService('vip_web');
      const vip = svc.Endpoint?.VirtualIPs?.[0]?.Addr?.split('/')[0] ?? '';
      expect(vip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const webIps = web.map(ipOf).sort();
      expect(webIps).not.toContain(vip);

      // Names: the VIP for web, task addresses for tasks.web and the dnsrr service.
      await waitFor(async () => (await lookup(worker, clientId, 'tasks.web')).join() === webIps.join(), {
        what: `tasks.web → ${webIps.join(', ')}`,
        timeoutMs: 60_000,
      });
      expect(await lookup(worker, clientId, 'web')).toEqual([vip]);
      const rrIps = rr.map(ipOf).sort();
      await waitFor(async () => (await lookup(worker, clientId, 'rr')).join() === rrIps.join(), {
        what: `rr → ${rrIps.join(', ')}`,
        timeoutMs: 60_000,
      });

      // The names answer from the view that the client's node got; its VIP table is
      // written from that view a moment later (an exec on a busy node): the requests
      // below need the table.
      await waitFor(
        async () => {
          const table = await vipTable(clientId);
          return webIps.every((ip) => table.includes(ip)) ? true : undefined;
        },
        { what: `the client's VIP table sending to ${webIps.join(', ')}`, timeoutMs: 30_000 },
      );

      // 40 requests to the VIP from the other host reach both tasks.
      const fetches = await inTask(worker, clientId, [
        'sh',
        '-c',
        'i=0; while [ $i -lt 40 ]; do busybox timeout 5 busybox wget -qO- http://web/ || echo fail; i=$((i+1)); done',
      ]);
      const pages = fetches.stdout.split('\n').filter(Boolean);
      expect(pages).toHaveLength(40);
      expect(pages).not.toContain('fail');
      expect(new Set(pages).size).toBe(2);

      // A start-first rolling update behind the VIP: the client's loop sees no failure.
      await waitFor(
        () => {
          const last = loopLines().slice(-5);
          return last.length === 5 && last.every((l) => l.startsWith('ok ')) ? true : undefined;
        },
        { what: "the client's loop succeeding", timeoutMs: 60_000 },
      );
      const from = loopLines().length;
      await deploy(2);
      const oldIds = new Set(web.map((t) => t.ID));
      await waitFor(
        async () => {
          const s = await c.api().inspectService('vip_web');
          const now = await serving('vip_web');
          return s.UpdateStatus?.State === 'completed' &&
            now.length === 2 &&
            now.every((t) => !oldIds.has(t.ID))
            ? true
            : undefined;
        },
        { what: 'the rolling update completed', timeoutMs: 180_000 },
      );
      // Some requests after the old tasks stopped too.
      const done = loopLines().length;
      await waitFor(() => (loopLines().length >= done + 10 ? true : undefined), {
        what: 'ten more requests',
        timeoutMs: 60_000,
      });
      const during = loopLines().slice(from);
      const failed = during.filter((l) => !l.startsWith('ok '));
      expect(failed, `${failed.length} of ${during.length} requests failed`).toEqual([]);
      // The requests were served by the old tasks, then by the new ones.
      expect(new Set(during.map((l) => l.slice(3))).size).toBeGreaterThanOrEqual(3);
    } catch (e) {
      throw new Error(
        `${String(e)}\nloop tail: ${loopLines().slice(-5).join('\n')}\n${await diagnose(clientId)}\n${logs()}`,
      );
    }
  }, 600_000);
});
