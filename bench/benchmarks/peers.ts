// `peers`: every peer starts, does one unit of its work, stops, and the host is
// compared before and after. Figures: start, work and stop time per peer. Fails when
// anything a peer made (matched by its signature) is still there.
//
// At tiny size (the smoke test) only etcd and the registry run: installing docker.io
// alone takes ~40 s on a 2-core machine. BENCH_PEERS=dockerd,podman,etcd,registry chooses.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { busyboxTarball } from '../../test/support/skiff-node/index.js';
import {
  attributeDiff,
  type BenchContext,
  type Benchmark,
  captureHostState,
  diffHostState,
  formatDiff,
  residentKiB,
  round,
  waitFor,
} from '../lib/index.js';
import { startDockerd, startEtcdCluster, startPodman, startRegistryPeer } from '../peers/index.js';

const PEERS = ['dockerd', 'podman', 'etcd', 'registry'] as const;
type PeerName = (typeof PEERS)[number];

interface Started {
  label: string;
  /** Every process of the peer names this directory on its command line. */
  stateDir: string;
  signatures: RegExp[];
  /** The unit of work: named timed steps. */
  work: Array<{ what: string; run: () => Promise<void> }>;
  stop(): Promise<void>;
}

const HOST_STATE = {
  paths: [
    '/etc/docker/key.json',
    '/run/docker',
    '/var/lib/docker',
    '/run/containerd',
    '/var/lib/cni',
    '/run/libpod',
    '/run/containers',
    '/var/lib/containers/storage',
  ],
  sysctls: [
    'net/ipv4/ip_forward',
    'net/bridge/bridge-nf-call-iptables',
    'net/bridge/bridge-nf-call-ip6tables',
  ],
};

const STACK = `services:
  s:
    image: busybox:latest
    command: ["sleep", "3600"]
    # sleep as PID 1 ignores SIGTERM: without this every stop waits out the 10 s grace.
    stop_signal: SIGKILL
    deploy:
      replicas: 1
      # No IPVS in this kernel: DNS round robin instead of a virtual IP.
      endpoint_mode: dnsrr
`;

async function startPeer(name: PeerName, ctx: BenchContext): Promise<Started> {
  const log = (m: string) => ctx.log(m);
  if (name === 'dockerd') {
    const d = await startDockerd({ log });
    try {
      await d.loadBusybox(['busybox:latest']);
      await d.swarmInit();
    } catch (e) {
      await d.stop();
      throw e;
    }
    return {
      label: d.label,
      stateDir: d.stateDir,
      signatures: d.signatures,
      work: [
        {
          what: 'docker run --rm busybox true',
          run: async () => {
            await d.docker(['run', '--rm', '--network', 'none', 'busybox:latest', 'true']);
          },
        },
        {
          what: 'docker stack deploy (1 service) to running',
          run: async () => {
            const file = join(d.stateDir, 'stack.yml');
            await writeFile(file, STACK);
            await d.docker(['stack', 'deploy', '-c', file, 'bench']);
            await waitFor(
              async () =>
                (await d.docker(['service', 'ps', 'bench_s', '--format', '{{.CurrentState}}'])).includes(
                  'Running',
                ),
              { what: 'the stack service bench_s to run a task', timeoutMs: 60_000, intervalMs: 100 },
            );
          },
        },
        {
          what: 'docker stack rm to containers gone',
          run: async () => {
            await d.docker(['stack', 'rm', 'bench']);
            await waitFor(async () => (await d.docker(['ps', '-aq'])).trim() === '', {
              what: 'the stack containers to go',
              timeoutMs: 60_000,
              intervalMs: 100,
            });
          },
        },
      ],
      stop: d.stop,
    };
  }
  if (name === 'podman') {
    const p = await startPodman({ log });
    try {
      const tarball = await busyboxTarball(await mkdtemp(join(p.stateDir, 'image-')), 'peers\n');
      await p.docker(['import', tarball, 'busybox:latest']);
    } catch (e) {
      await p.stop();
      throw e;
    }
    return {
      label: p.label,
      stateDir: p.stateDir,
      signatures: p.signatures,
      work: [
        {
          what: 'docker run --rm busybox true (its default network)',
          run: async () => {
            await p.docker(['run', '--rm', 'busybox:latest', 'true']);
          },
        },
      ],
      stop: p.stop,
    };
  }
  if (name === 'etcd') {
    const e = await startEtcdCluster({ log });
    return {
      label: e.label,
      stateDir: e.stateDir,
      signatures: e.signatures,
      work: [
        {
          what: 'a write on each member, read back from each',
          run: async () => {
            const keys = e.urls.map((u, i) => ({
              url: u,
              key: `peers/${i}`,
              value: `written via member ${i + 1}`,
            }));
            for (const k of keys) await e.put(k.url, k.key, k.value);
            for (const u of e.urls) {
              for (const k of keys) {
                const got = await e.get(u, k.key);
                if (got !== k.value)
                  throw new Error(`etcd member ${u} read ${k.key} = ${got}, wanted ${k.value}`);
              }
            }
          },
        },
      ],
      stop: e.stop,
    };
  }
  const r = await startRegistryPeer();
  let ref = '';
  return {
    label: r.label,
    stateDir: r.stateDir,
    signatures: r.signatures,
    work: [
      {
        what: 'skopeo copy (push busybox)',
        run: async () => {
          ref = await r.pushBusybox('bench/busybox:1');
        },
      },
      {
        what: 'skopeo inspect',
        run: async () => {
          const digest = await r.inspect(ref);
          if (!digest.startsWith('sha256:')) throw new Error(`unexpected digest ${digest}`);
        },
      },
    ],
    stop: r.stop,
  };
}

function selected(ctx: BenchContext): PeerName[] {
  const env = process.env.BENCH_PEERS;
  if (env) {
    const names = env.split(',').map((s) => s.trim());
    const bad = names.filter((n) => !(PEERS as readonly string[]).includes(n));
    if (bad.length > 0)
      throw new Error(`BENCH_PEERS: unknown peer ${bad.join(', ')}; known: ${PEERS.join(', ')}`);
    return names as PeerName[];
  }
  return ctx.size === 'tiny' ? ['etcd', 'registry'] : [...PEERS];
}

async function onePeer(name: PeerName, ctx: BenchContext): Promise<string | undefined> {
  const before = await captureHostState(HOST_STATE);
  let started: Started | undefined;
  let failure: string | undefined;
  try {
    let t0 = performance.now();
    started = await startPeer(name, ctx);
    const label = started.label;
    ctx.emit({
      name: `peers/${name}`,
      metric: `start (${label})`,
      unit: 'ms',
      value: round(performance.now() - t0),
    });
    const mem = residentKiB(started.stateDir);
    ctx.emit({
      name: `peers/${name}`,
      metric: `resident memory after start (${mem.processes} processes)`,
      unit: 'MiB',
      value: round(mem.kib / 1024, 1),
    });
    for (const step of started.work) {
      t0 = performance.now();
      await step.run();
      ctx.emit({
        name: `peers/${name}`,
        metric: step.what,
        unit: 'ms',
        value: round(performance.now() - t0),
      });
    }
    t0 = performance.now();
    await started.stop();
    ctx.emit({ name: `peers/${name}`, metric: 'stop', unit: 'ms', value: round(performance.now() - t0) });
  } catch (e) {
    failure = `${name}: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    await started?.stop().catch((e: unknown) => {
      failure ??= `${name} stop: ${e instanceof Error ? e.message : String(e)}`;
    });
  }
  const after = await captureHostState(HOST_STATE);
  const diff = diffHostState(before, after);
  const { ours, others } = attributeDiff(diff, started?.signatures ?? []);
  if (ours.length > 0) {
    ctx.log(`${name} LEFT BEHIND:\n${formatDiff(ours)}`);
    failure ??= `${name} left ${ours.length} thing(s) behind: ${ours[0]!.category} ${ours[0]!.line}`;
  } else {
    ctx.log(
      `${name}: nothing left behind (processes, mounts, links, iptables, cgroups, sysctls, paths compared)`,
    );
  }
  ctx.emit({ name: `peers/${name}`, metric: 'leftovers after stop', unit: 'count', value: ours.length });
  if (others.length > 0) {
    ctx.log(
      `${others.length} other difference(s), not from ${name} (other work on this machine), e.g.:\n${formatDiff(others.slice(0, 8))}`,
    );
  }
  return failure;
}

export const peersBenchmark: Benchmark = {
  name: 'peers',
  description:
    'each peer (dockerd+swarm, podman service, 3-member etcd, registry+skopeo) starts, does one unit of work, stops, leaves nothing',
  async run(ctx) {
    const failures: string[] = [];
    for (const name of selected(ctx)) {
      const failure = await onePeer(name, ctx);
      if (failure) failures.push(failure);
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  },
};
