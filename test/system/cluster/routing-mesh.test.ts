// The routing mesh across three lab hosts, with the real `skiff daemon` and real
// containers: web's two tasks run on the two workers and publish 8080:80 in ingress mode
// (the default). Every host's address answers on 8080, the manager's too though it runs
// no task, and balances over both tasks; after kill -9 of one task's container, once the
// task is failed, every host still answers and none sends to it. With the service's
// client-address label, a host running a task delivers to it with the client's own
// address as source; the manager (no task) still forwards, from its ingress address.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { INGRESS_CLIENT_ADDRESS_LABEL } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import {
  containerPids,
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  logTail,
  startLabCluster,
} from '../../support/lab-cluster.js';

/** The stack; `keep` sets the client-address label. */
function stackFile(keep: boolean): string {
  // A CGI answering "<hostname> <the client's address as the task sees it>".
  const cgi = [
    'busybox mkdir -p /www/cgi-bin',
    "echo '#!/bin/sh' > /www/cgi-bin/who",
    "echo 'echo Content-Type: text/plain; echo; echo $(/bin/busybox hostname) $REMOTE_ADDR' >> /www/cgi-bin/who",
    'busybox chmod +x /www/cgi-bin/who',
    'echo ok > /www/index.html',
    'exec httpd -f -p 80 -h /www',
  ].join(' && ');
  return [
    'services:',
    '  web:',
    `    image: ${LAB_IMAGE}`,
    `    command: ["sh", "-c", ${JSON.stringify(cgi.replaceAll('$', () => '$$'))}]`,
    '    ports: ["8080:80"]',
    '    healthcheck:',
    '      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]',
    '      interval: 1s',
    '      timeout: 5s',
    '      retries: 3',
    '    deploy:',
    '      replicas: 2',
    ...(keep ? ['      labels:', `        ${INGRESS_CLIENT_ADDRESS_LABEL}: keep`] : []),
    '      placement:',
    '        max_replicas_per_node: 1',
    '        constraints: ["node.role == worker"]',
    '',
  ].join('\n');
}

/** One HTTP GET on a fresh connection (no keep-alive: each request is a new flow); undefined on failure. */
function get(url: string, timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    // busybox httpd passes the CGI's bare-LF headers on: Node's strict parser refuses them.
    const req = request(url, { agent: false, timeout: timeoutMs, insecureHTTPParser: true }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : undefined));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

describe('the routing mesh across three lab hosts', () => {
  let c: LabCluster;
  let base: string;

  const deploy = async (keep: boolean) => {
    const file = join(base, `stack-${keep}.yml`);
    writeFileSync(file, stackFile(keep));
    const r = await c.skiff(['stack', 'deploy', '-c', file, 'mesh']);
    expect(r.code, r.stderr).toBe(0);
  };
  const serving = async () =>
    (await c.apiTasks(['mesh_web'])).filter(
      (t) => t.Status.State === 'running' && t.DesiredState === 'running',
    );
  /** `n` requests to a node's published port: "<task hostname> <address the task saw>" or "fail". */
  let lastPages: string[] = [];
  const ask = async (node: LabClusterNode, n: number) => {
    const out: string[] = [];
    lastPages = out;
    for (let i = 0; i < n; i++) {
      const page = await get(`http://${node.addr}:8080/cgi-bin/who`);
      // httpd may name an IPv4 peer as [::ffff:a.b.c.d].
      out.push(page ? page.replace(/\[(?:::ffff:)?([\d.]+)\]/, '$1') : 'fail');
    }
    return out;
  };
  const logs = () => c.nodes.map((n) => `${n.host.name}:\n${logTail(n, 40)}`).join('\n');
  const diagnose = async () => {
    const out: string[] = [];
    for (const n of c.nodes) {
      for (const cmd of [
        ['ip', '-br', 'addr'],
        ['ip', 'neigh'],
        [
          'sh',
          '-c',
          'for b in /sys/class/net/sk*; do bridge fdb show br $(basename $b) 2>/dev/null | grep -v permanent; done',
        ],
        ['iptables-save', '-c'],
        ['sh', '-c', 'cat /proc/net/nf_conntrack 2>/dev/null | grep 8080; sysctl net.ipv4.ip_forward'],
      ]) {
        const r = await n.host
          .exec(cmd[0] as string, cmd.slice(1))
          .catch((e) => ({ stdout: String(e), stderr: '' }));
        out.push(`${n.host.name} ${cmd.join(' ')}: ${r.stdout} ${r.stderr}`);
      }
      for (const [id, pid] of await containerPids(n)) {
        const r = await n.host
          .exec('nsenter', ['-t', String(pid), '-n', 'sh', '-c', 'ip -br addr; ip route; ip neigh'])
          .catch((e) => ({ stdout: String(e), stderr: '' }));
        out.push(`${n.host.name} task ${id}: ${r.stdout} ${r.stderr}`);
      }
      const r = await n.host
        .exec('nft', ['list', 'table', 'ip', 'skiff_mesh'])
        .catch((e) => ({ stdout: String(e) }));
      out.push(`${n.host.name}: ${r.stdout}`);
    }
    return out.join('\n');
  };

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'skiff-mesh-'));
    c = await startLabCluster({ managers: 1, workers: 2, image: true });
  }, 300_000);

  afterAll(async () => {
    await c?.skiff(['stack', 'rm', 'mesh']).catch(() => {});
    await c?.destroy();
    if (base) rmSync(base, { recursive: true, force: true });
  }, 120_000);

  it('answers on every host, stops sending to a killed task, and keeps the client address on request', async () => {
    const manager = c.managers[0] as LabClusterNode;
    try {
      await deploy(false);
      const web = await waitFor(async () => ((await serving()).length === 2 ? serving() : undefined), {
        what: 'web running twice',
        timeoutMs: 120_000,
      });
      expect(web.every((t) => t.NodeID !== manager.id)).toBe(true);

      // Every host answers, the one running no task too, and each balances over both tasks.
      for (const node of c.nodes) {
        const seen = await waitFor(
          async () => {
            const pages = await ask(node, 12);
            return pages.every((p) => p !== 'fail') && new Set(pages.map((p) => p.split(' ')[0])).size === 2
              ? pages
              : undefined;
          },
          { what: `${node.host.name}:8080 answering from both tasks`, timeoutMs: 60_000 },
        );
        // Forwarded over the mesh: the task sees a node's ingress address, not the client's.
        expect(seen.some((p) => p.endsWith(` ${c.lab.rootAddr}`))).toBe(false);
      }

      // kill -9 of one task's container: once the task is failed, no host sends to it.
      const victim = web[0] as Task;
      const victimNode = c.nodeOf(victim.NodeID) as LabClusterNode;
      const pid = (await containerPids(victimNode)).get(victim.ID);
      expect(pid).toBeDefined();
      const victimHost = execFileSync('nsenter', ['-u', '-t', String(pid), 'hostname'], {
        encoding: 'utf8',
      }).trim();
      expect(victimHost).not.toBe('');
      const killedAt = Date.now();
      process.kill(pid as number, 'SIGKILL');
      await waitFor(
        async () => {
          const t = (await c.apiTasks(['mesh_web'])).find((x) => x.ID === victim.ID);
          return t && t.Status.State !== 'running' ? true : undefined;
        },
        { what: 'the killed task reported ended', timeoutMs: 60_000 },
      );
      const failedAfterMs = Date.now() - killedAt;
      // The views reach the nodes a moment after the store has the failure.
      const settled = await waitFor(
        async () => {
          const rounds = await Promise.all(c.nodes.map((n) => ask(n, 6)));
          const all = rounds.flat();
          return all.every((p) => p !== 'fail' && !p.startsWith(`${victimHost} `)) ? all : undefined;
        },
        { what: 'every host answering without the killed task', timeoutMs: 30_000 },
      );
      const meshAfterMs = Date.now() - killedAt;
      console.log(`task failed ${failedAfterMs} ms after kill -9; mesh clean ${meshAfterMs} ms after it`);
      expect(settled).toHaveLength(18);

      // Keep the client's address: hosts with a task deliver to it unchanged.
      await deploy(true);
      // Whatever tasks serve now (the killed one's replacement may still be on its way).
      await waitFor(
        async () => {
          const nodes = [...new Set((await serving()).map((t) => c.nodeOf(t.NodeID) as LabClusterNode))];
          if (nodes.length === 0) return undefined;
          for (const node of nodes) {
            const pages = await ask(node, 6);
            if (!pages.every((p) => p.endsWith(` ${c.lab.rootAddr}`))) return undefined;
          }
          return true;
        },
        {
          what: `hosts with a task delivering with the client's address ${c.lab.rootAddr}`,
          timeoutMs: 60_000,
        },
      );
      // The manager runs none: it still answers, over the mesh.
      const fromManager = await ask(manager, 6);
      expect(fromManager.every((p) => p !== 'fail' && !p.endsWith(` ${c.lab.rootAddr}`))).toBe(true);
    } catch (e) {
      throw new Error(`${String(e)}\nlast answers: ${lastPages.join(' | ')}\n${await diagnose()}\n${logs()}`);
    }
  }, 600_000);
});
