// Services on different hosts reach each other by name over an overlay network: the
// real `skiff daemon` on two lab hosts (a manager on h1, a worker on h2). The dispatcher
// tells each agent its VXLAN peers and the other host's task names; a client on h2
// fetches `web`'s page from h1 (through its VIP) and resolves `tasks.web` to its tasks,
// then reaches both hosts' tasks once web spreads;
// removing the stack leaves no VXLAN device or bridge on either host.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { createLab, type Lab, type LabHost, waitFor } from '../../lab/index.js';
import { seedImage } from '../../support/seed-image.js';
import { busyboxTarball, socketNodes, socketTasks } from '../../support/skiff-node/index.js';

const BIN = resolve(import.meta.dirname, '../../../bin/skiff.js');
const IMAGE = 'localhost/lab-busybox:1';

interface HostNode {
  host: LabHost;
  stateRoot: string;
  runDir: string;
  env: NodeJS.ProcessEnv;
}

/** web: busybox httpd answering with its own hostname; `pin` keeps it on the manager. */
function composeFile(probeDir: string, web: { replicas: number; pin: boolean }): string {
  const placement = web.pin
    ? ['      placement:', '        constraints: ["node.role == manager"]']
    : ['      placement:', '        max_replicas_per_node: 1'];
  // The client writes what it sees every second: the page fetched by the service name
  // (its VIP), then each task address `tasks.web` resolves to and the page fetched from it.
  const probe = [
    'while true; do',
    '{ echo "name $(busybox timeout 5 busybox wget -qO- http://web/)";',
    "for ip in $(busybox nslookup tasks.web | busybox awk '/^Address: /{print $2}'); do",
    'echo "addr $ip $(busybox timeout 5 busybox wget -qO- http://$ip/)"; done; } > /out/probe.tmp 2>&1;',
    'busybox mv /out/probe.tmp /out/probe; busybox sleep 1; done',
  ].join(' ');
  return [
    // `$$` is a literal `$` in a compose file.
    'services:',
    '  web:',
    `    image: ${IMAGE}`,
    '    command: ["sh", "-c", "busybox hostname > /www/index.html && exec httpd -f -p 80 -h /www"]',
    '    networks: [front]',
    '    deploy:',
    `      replicas: ${web.replicas}`,
    ...placement,
    '  client:',
    `    image: ${IMAGE}`,
    `    command: ["sh", "-c", ${JSON.stringify(probe.replaceAll('$', () => '$$'))}]`,
    '    networks: [front]',
    `    volumes: ["${probeDir}:/out"]`,
    '    deploy:',
    '      placement:',
    '        constraints: ["node.role == worker"]',
    'networks:',
    '  front:',
    '    driver: overlay',
    '',
  ].join('\n');
}

/** What a failed run leaves of a node's containers: runtime state and mounts (rootfs, netns). */
async function removeLeftovers(n: HostNode): Promise<void> {
  const crunRoot = join(n.runDir, 'runtime', 'crun');
  const list = await n.host.exec('crun', ['--root', crunRoot, 'list', '-q'], { sharedMounts: true });
  for (const id of list.stdout.split('\n').filter(Boolean)) {
    await n.host.exec('crun', ['--root', crunRoot, 'delete', '-f', id], { sharedMounts: true });
  }
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(n.stateRoot) || m.startsWith(n.runDir))
    .reverse();
  for (const m of mounts) await n.host.exec('umount', ['-l', m], { sharedMounts: true });
}

describe('an overlay network across two lab hosts', () => {
  let lab: Lab;
  let base: string;
  let probeDir: string;
  const nodes: HostNode[] = [];

  const run = async (n: HostNode, args: string[]) => {
    // Only the network namespace is the host's: containers need the real cgroup mounts.
    const r = await n.host.exec(process.execPath, [BIN, ...args], { env: n.env, sharedMounts: true });
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
  const skiff = (args: string[]) => {
    const m = nodes[0] as HostNode;
    return run(m, ['-H', `unix://${m.runDir}/skiff.sock`, ...args]);
  };
  const socket = () => `${(nodes[0] as HostNode).runDir}/skiff.sock`;
  const deploy = async (web: { replicas: number; pin: boolean }) => {
    const file = join(base, `stack-${web.replicas}.yml`);
    writeFileSync(file, composeFile(probeDir, web));
    const r = await skiff(['stack', 'deploy', '-c', file, 'ov']);
    expect(r.code, r.stderr).toBe(0);
  };
  /** The client's latest probe: the page fetched by name, and each resolved address's page. */
  const probe = () => {
    let text = '';
    try {
      text = readFileSync(join(probeDir, 'probe'), 'utf8');
    } catch {
      return undefined;
    }
    const lines = text.split('\n');
    const byName =
      lines
        .find((l) => l.startsWith('name '))
        ?.slice(5)
        .trim() ?? '';
    const byAddr = new Map<string, string>();
    for (const l of lines.filter((x) => x.startsWith('addr '))) {
      const [, ip, page] = l.split(' ');
      if (ip) byAddr.set(ip, page ?? '');
    }
    return { byName, byAddr, text };
  };
  const webTasks = async () =>
    (await socketTasks(socket(), ['ov_web'])).filter(
      (t) => t.Status.State === 'running' && t.DesiredState === 'running',
    );
  const ipOf = (t: Task) => t.NetworksAttachments?.[0]?.Addresses[0]?.split('/')[0] ?? '';
  const logTail = (n: HostNode) => {
    try {
      return readFileSync(join(n.stateRoot, 'local', 'daemon.log'), 'utf8')
        .split('\n')
        .slice(-40)
        .join('\n');
    } catch {
      return '(no daemon log)';
    }
  };

  beforeAll(async () => {
    lab = await createLab({ hosts: 2 });
    base = mkdtempSync(join(tmpdir(), 'skiff-overlay-'));
    probeDir = join(base, 'probe');
    mkdirSync(probeDir);
    const tarball = await busyboxTarball(mkdtempSync(join(base, 'img-')), 'overlay\n');
    for (const host of lab.hosts) {
      const stateRoot = join(base, host.name);
      const runDir = mkdtempSync(`/run/skov-${host.name}-`);
      const env = { ...process.env, SKIFF_STATE_ROOT: stateRoot, SKIFF_RUN_DIR: runDir };
      const n: HostNode = { host, stateRoot, runDir, env };
      nodes.push(n);
      await seedImage(join(stateRoot, 'local'), tarball, IMAGE);
    }
    const [manager, worker] = nodes as [HostNode, HostNode];
    const init = await run(manager, ['cluster', 'init', '--advertise-addr', manager.host.addr]);
    expect(init.code, init.stderr).toBe(0);
    const token = (await skiff(['cluster', 'join-token', 'worker', '-q'])).stdout.trim();
    const join_ = await run(worker, [
      'cluster',
      'join',
      '--advertise-addr',
      worker.host.addr,
      '--token',
      token,
      `${manager.host.addr}:2377`,
    ]);
    expect(join_.code, join_.stderr).toBe(0);
    await waitFor(
      async () => {
        const ns = await socketNodes(socket()).catch(() => []);
        return ns.filter((n) => n.Status.State === 'ready').length === 2;
      },
      { what: 'two ready nodes', timeoutMs: 90_000 },
    );
  }, 180_000);

  afterAll(async () => {
    await skiff(['stack', 'rm', 'ov']).catch(() => {});
    for (const n of nodes) await n.host.crash().catch(() => {});
    for (const n of nodes) await removeLeftovers(n);
    await lab?.destroy();
    for (const n of nodes) rmSync(n.runDir, { recursive: true, force: true });
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('resolves and reaches a service on the other host by name, then all of its tasks', async () => {
    const [manager, worker] = nodes as [HostNode, HostNode];
    await deploy({ replicas: 1, pin: true });
    const [web] = await waitFor(async () => ((await webTasks()).length === 1 ? webTasks() : undefined), {
      what: 'web running on the manager',
      timeoutMs: 90_000,
    });
    const managerId = web?.NodeID;
    const webIp = ipOf(web as Task);
    expect(webIp).not.toBe('');
    try {
      // The client on h2 fetches h1's page by name, through the VXLAN tunnel.
      const seen = await waitFor(
        () => {
          const p = probe();
          return p && p.byName !== '' && p.byAddr.size === 1 ? p : undefined;
        },
        { what: 'the client reaching web by name', timeoutMs: 90_000 },
      );
      expect([...seen.byAddr.keys()]).toEqual([webIp]);
      expect(seen.byAddr.get(webIp)).toBe(seen.byName);

      // web spreads over both hosts: tasks.web resolves to both tasks, and both answer.
      await deploy({ replicas: 2, pin: false });
      const spread = await waitFor(
        async () => {
          // Both from the unpinned spec: the pinned task runs on while its replacement
          // waits (stop-first), and the new replica can be running before it is replaced.
          const ts = (await webTasks()).filter((t) => (t.Spec.Placement?.Constraints ?? []).length === 0);
          return ts.length === 2 && new Set(ts.map((t) => t.NodeID)).size === 2 ? ts : undefined;
        },
        { what: 'web on both hosts', timeoutMs: 120_000 },
      );
      const ips = spread.map(ipOf).sort();
      const both = await waitFor(
        () => {
          const p = probe();
          const answered = p && [...p.byAddr.keys()].sort().join() === ips.join();
          return answered && [...p.byAddr.values()].every((page) => page !== '') ? p : undefined;
        },
        { what: `the client reaching web at ${ips.join(' and ')}`, timeoutMs: 90_000 },
      );
      // Each task answered with its own page: two different containers, one per host.
      expect(new Set(both.byAddr.values()).size).toBe(2);
      expect(spread.some((t) => t.NodeID === managerId)).toBe(true);
      for (const n of nodes) {
        const vxlan = await n.host.exec('ip', ['-o', 'link', 'show', 'type', 'vxlan']);
        expect(vxlan.stdout, n.host.name).toMatch(/skvx/);
      }
    } catch (e) {
      throw new Error(
        `${String(e)}\nprobe: ${probe()?.text}\nmanager log:\n${logTail(manager)}\nworker log:\n${logTail(worker)}`,
      );
    }

    const rm = await skiff(['stack', 'rm', 'ov']);
    expect(rm.code, rm.stderr).toBe(0);
    for (const n of nodes) {
      await waitFor(
        async () => {
          const links = await n.host.exec('ip', ['-o', 'link', 'show']);
          return !/skvx|skbr/.test(links.stdout) ? true : undefined;
        },
        { what: `no VXLAN device or bridge left on ${n.host.name}`, timeoutMs: 60_000 },
      );
    }
  }, 420_000);
});
