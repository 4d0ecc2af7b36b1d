// Network benchmark: CNI attach time per container, TCP throughput between two
// containers on different lab hosts over the VXLAN overlay next to the bare
// host-to-host veth path (iperf3), and a service VIP (nftables DNAT in the client's
// namespace) next to the task's own address: iperf3 throughput and the p50 of a loop of
// HTTP requests, each on a new connection, side by side in one run; and the routing
// mesh (a published port on h1 forwarded over the overlay to the task on h2, DNAT and
// SNAT in h1's namespace) next to h1 reaching the task's address over the same overlay
// directly, iperf3 and the request loop again. Prints one JSON
// record per figure, then a table.
// Run as root: npx tsx bench/network.ts [--attach-count N] [--seconds S] [--runs R] [--requests N]
import type { runCommand } from '../test/lab/command.js';
import { Cleanup, createLab, type LabHost, waitFor } from '../test/lab/index.js';
import { NetworkAgent, Sandbox } from '../test/support/network-agent/index.js';
import type { Figure } from './lib/index.js';

/** A figure as the harness records it (it adds the machine). */
type BenchRecord = Figure;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs iperf3 from `client` against a server started in `server`; bits per second received. */
async function iperf(
  serve: (args: string[]) => { stop(): Promise<void> },
  client: (args: string[]) => ReturnType<typeof runCommand>,
  targetIp: string,
  seconds: number,
): Promise<number> {
  const server = serve(['iperf3', '-s']);
  try {
    // Until the server listens, iperf3 reports "connection refused" (in its JSON, exit 0 or 1).
    return await waitFor(
      async () => {
        const r = await client(['iperf3', '-c', targetIp, '-t', String(seconds), '-J']);
        const json = JSON.parse(r.stdout || '{}') as {
          error?: string;
          end?: { sum_received?: { bits_per_second: number } };
        };
        if (json.error || r.code !== 0) throw new Error(json.error ?? r.stderr);
        return json.end?.sum_received?.bits_per_second;
      },
      { what: `iperf3 server on ${targetIp}`, timeoutMs: 20_000, intervalMs: 200 },
    );
  } finally {
    await server.stop();
  }
}

function hostServe(host: LabHost) {
  return (args: string[]) => {
    const p = host.spawn(args[0]!, args.slice(1));
    return { stop: async () => void (await p.kill('SIGKILL')) };
  };
}

async function main(): Promise<void> {
  const attachCount = arg('--attach-count', 30);
  const seconds = arg('--seconds', 5);
  const runs = arg('--runs', 3);
  const records: BenchRecord[] = [];
  const cleanup = new Cleanup();
  try {
    const lab = await createLab({ hosts: 2 });
    cleanup.add(() => lab.destroy(), 'lab');
    const [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    const [a1, a2] = await Promise.all([NetworkAgent.start(h1), NetworkAgent.start(h2)]);
    cleanup.add(() => a1.stop(), 'agent 1');
    cleanup.add(() => a2.stop(), 'agent 2');

    // Attach time: CNI ADD through bridge + host-local (+ portmap for every other one).
    const bridgeNet = {
      id: 'bench-bridge',
      name: 'bench',
      driver: 'bridge',
      subnet: '10.240.0.0/22',
      gateway: '10.240.0.1',
    } as const;
    await a1.ensureNetwork(bridgeNet);
    cleanup.add(() => a1.removeNetwork(bridgeNet.id), 'bench network');
    const times: number[] = [];
    for (let i = 0; i < attachCount; i++) {
      const id = `bench-${i}`;
      const { netnsPath } = await a1.createSandbox(id);
      cleanup.add(() => a1.removeSandbox(id), id);
      const ports = i % 2 === 0 ? [{ containerPort: 80, hostPort: 20000 + i, protocol: 'tcp' as const }] : [];
      const t0 = process.hrtime.bigint();
      await a1.attach(id, netnsPath, [{ networkId: bridgeNet.id, aliases: [`svc${i}`] }], ports);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const sorted = [...times].sort((x, y) => x - y);
    records.push({
      name: 'network attach (bridge, 1 interface)',
      metric: 'p50',
      unit: 'ms',
      value: percentile(sorted, 50),
    });
    records.push({
      name: 'network attach (bridge, 1 interface)',
      metric: 'p95',
      unit: 'ms',
      value: percentile(sorted, 95),
    });

    // Throughput over the overlay vs the bare underlay between the same two hosts.
    const overlay = {
      id: 'bench-ov',
      name: 'bench_ov',
      driver: 'overlay',
      subnet: '10.241.0.0/24',
      gateway: '10.241.0.1',
      vxlanId: 777,
    } as const;
    const peers = [
      { nodeId: 'h1', underlayIp: h1.addr },
      { nodeId: 'h2', underlayIp: h2.addr },
    ];
    const boxes: Sandbox[] = [];
    for (const [agent, ip] of [
      [a1, '10.241.0.11'],
      [a2, '10.241.0.12'],
    ] as const) {
      await agent.ensureNetwork(overlay);
      cleanup.add(() => agent.removeNetwork(overlay.id), 'overlay');
      await agent.call('setOverlayPeers', overlay.id, peers);
      const id = `ov-${ip.split('.').pop()}`;
      const { netnsPath } = await agent.createSandbox(id);
      cleanup.add(() => agent.removeSandbox(id), id);
      await agent.attach(id, netnsPath, [{ networkId: overlay.id, aliases: [], ipv4Address: ip }]);
      boxes.push(new Sandbox(id, netnsPath, agent.host));
    }
    const [c1, c2] = [boxes[0]!, boxes[1]!];
    // Alternating runs, median of each: the machine is shared, single runs are noisy.
    const overlayRuns: number[] = [];
    const bareRuns: number[] = [];
    for (let i = 0; i < runs; i++) {
      overlayRuns.push(
        await iperf(
          (args) => c2.serve(args[0]!, args.slice(1)),
          (args) => c1.exec(args[0]!, args.slice(1), { timeoutMs: (seconds + 20) * 1000 }),
          '10.241.0.12',
          seconds,
        ),
      );
      bareRuns.push(
        await iperf(
          hostServe(h2),
          (args) => h1.exec(args[0]!, args.slice(1), { timeoutMs: (seconds + 20) * 1000 }),
          h2.addr,
          seconds,
        ),
      );
    }
    const overlayBps = percentile(
      [...overlayRuns].sort((x, y) => x - y),
      50,
    );
    const bareBps = percentile(
      [...bareRuns].sort((x, y) => x - y),
      50,
    );
    records.push({
      name: 'TCP throughput between lab hosts (iperf3)',
      metric: 'overlay container-to-container',
      unit: 'Gbit/s',
      value: round(overlayBps / 1e9),
      peer: 'bare host-to-host veth',
      peerValue: round(bareBps / 1e9),
      ratio: round(overlayBps / bareBps),
    });

    // The VIP: c1's namespace balances 10.241.0.100 over c2 (one task, so every
    // connection pays the DNAT and goes to the same place as the direct one).
    const vip = '10.241.0.100';
    await a1.call('setServiceVips', overlay.id, [{ vip, backends: ['10.241.0.12'] }]);
    const vipRuns: number[] = [];
    const directRuns: number[] = [];
    const client = (args: string[]) => c1.exec(args[0]!, args.slice(1), { timeoutMs: (seconds + 20) * 1000 });
    const serve = (args: string[]) => c2.serve(args[0]!, args.slice(1));
    for (let i = 0; i < runs; i++) {
      vipRuns.push(await iperf(serve, client, vip, seconds));
      directRuns.push(await iperf(serve, client, '10.241.0.12', seconds));
    }
    const vipBps = median(vipRuns);
    const directBps = median(directRuns);
    records.push({
      name: 'TCP throughput to a service (iperf3, other host)',
      metric: 'through the VIP',
      unit: 'Gbit/s',
      value: round(vipBps / 1e9),
      peer: 'task address',
      peerValue: round(directBps / 1e9),
      ratio: round(vipBps / directBps),
    });
    const requests = arg('--requests', 300);
    const http = serve([process.execPath, '-e', HTTP_SERVER]);
    cleanup.add(() => http.stop(), 'http server');
    const vipLatency: number[] = [];
    const directLatency: number[] = [];
    for (let i = 0; i < runs; i++) {
      vipLatency.push(...(await requestLoop(c1, vip, requests)));
      directLatency.push(...(await requestLoop(c1, '10.241.0.12', requests)));
    }
    const vipP50 = percentile(
      [...vipLatency].sort((x, y) => x - y),
      50,
    );
    const directP50 = percentile(
      [...directLatency].sort((x, y) => x - y),
      50,
    );
    records.push({
      name: 'HTTP request on a new connection (other host)',
      metric: 'p50 through the VIP',
      unit: 'ms',
      value: round(vipP50),
      peer: 'task address',
      peerValue: round(directP50),
      ratio: round(vipP50 / directP50),
    });
    records.push({
      name: 'HTTP request on a new connection (other host)',
      metric: 'p50 added by the VIP',
      unit: 'ms',
      value: round(vipP50 - directP50),
    });

    // The routing mesh: h1 publishes 9090 → the task's 8080 and 5201 → 5201 (iperf3),
    // with the task on h2; the client on h1's host (its own address, so the output hook
    // translates) next to the same client reaching the task's address directly.
    const mesh = {
      networkId: overlay.id,
      address: '10.241.0.250',
      ports: [
        { protocol: 'tcp', publishedPort: 9090, targetPort: 8080, keepClientAddress: false },
        { protocol: 'tcp', publishedPort: 5201, targetPort: 5201, keepClientAddress: false },
      ].map((p) => ({ ...p, backends: [{ ip: '10.241.0.12', nodeId: 'h2' }] })),
    };
    await a1.call('setRoutingMesh', mesh, 'h1');
    cleanup.add(() => a1.call('setRoutingMesh', null, 'h1'), 'routing mesh');
    const hostClient = (args: string[]) =>
      h1.exec(args[0]!, args.slice(1), { timeoutMs: (seconds + 20) * 1000 });
    const meshRuns: number[] = [];
    const meshDirectRuns: number[] = [];
    for (let i = 0; i < runs; i++) {
      meshRuns.push(await iperf(serve, hostClient, h1.addr, seconds));
      // From h1's own ingress address: its gateway address is every node's, replies to it stay on h2.
      meshDirectRuns.push(
        await iperf(serve, (args) => hostClient([...args, '-B', mesh.address]), '10.241.0.12', seconds),
      );
    }
    records.push({
      name: 'TCP throughput to a published port (iperf3, task on the other host)',
      metric: 'through the routing mesh',
      unit: 'Gbit/s',
      value: round(median(meshRuns) / 1e9),
      peer: 'task address',
      peerValue: round(median(meshDirectRuns) / 1e9),
      ratio: round(median(meshRuns) / median(meshDirectRuns)),
    });
    const meshLatency: number[] = [];
    const meshDirectLatency: number[] = [];
    for (let i = 0; i < runs; i++) {
      meshLatency.push(...(await requestLoop(h1, h1.addr, requests, 9090)));
      meshDirectLatency.push(...(await requestLoop(h1, '10.241.0.12', requests, 8080, mesh.address)));
    }
    const meshP50 = median(meshLatency);
    const meshDirectP50 = median(meshDirectLatency);
    records.push({
      name: 'HTTP request on a new connection (task on the other host)',
      metric: 'p50 through the routing mesh',
      unit: 'ms',
      value: round(meshP50),
      peer: 'task address',
      peerValue: round(meshDirectP50),
      ratio: round(meshP50 / meshDirectP50),
    });
  } finally {
    await cleanup.run().catch((e: unknown) => console.error(String(e)));
  }
  for (const r of records) console.log(JSON.stringify(r));
  console.log('');
  console.log(['name', 'metric', 'value', 'peer', 'ratio'].join(' | '));
  for (const r of records) {
    const peer = r.peer ? `${r.peer}: ${r.peerValue} ${r.unit}` : '';
    console.log([r.name, r.metric, `${round(r.value)} ${r.unit}`, peer, r.ratio ?? ''].join(' | '));
  }
}

/** An HTTP server on port 8080 answering every request with "ok". */
const HTTP_SERVER = "require('node:http').createServer((q,s)=>s.end('ok')).listen(8080)";

/** Milliseconds per request of `count` sequential GETs, each on a new connection, from inside `box`. */
async function requestLoop(
  box: Pick<Sandbox, 'exec'> | LabHost,
  ip: string,
  count: number,
  port = 8080,
  localAddress?: string,
): Promise<number[]> {
  const script = `
const http = require('node:http');
const out = [];
const one = () => new Promise((resolve, reject) => {
  const t0 = process.hrtime.bigint();
  http.get({ host: '${ip}', port: ${port}, agent: false${localAddress ? `, localAddress: '${localAddress}'` : ''} }, (res) => {
    res.resume();
    res.on('end', () => { out.push(Number(process.hrtime.bigint() - t0) / 1e6); resolve(); });
  }).on('error', reject);
});
(async () => { for (let i = 0; i < ${count}; i++) await one(); console.log(JSON.stringify(out)); })()
  .catch((e) => { console.error(String(e)); process.exit(1); });`;
  return waitFor(
    async () => {
      const r = await box.exec(process.execPath, ['-e', script], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(r.stderr);
      return JSON.parse(r.stdout) as number[];
    },
    { what: `HTTP requests to ${ip}`, timeoutMs: 60_000, intervalMs: 200 },
  );
}

function median(values: number[]): number {
  return percentile(
    [...values].sort((x, y) => x - y),
    50,
  );
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

await main();
process.exit(0);
