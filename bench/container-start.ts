// Container start latency: image present (a prepared rootfs directory), no network,
// from a create request to a running container — skiff (bundle + conmon + crun
// create/start) next to the floor, `crun run --detach` of the very same bundle, and
// `docker run -d` when a dockerd answers; and what the default seccomp profile costs:
// the same start with `seccomp=unconfined`. Also conmon's resident memory per container.
// Prints one JSON record per line, then a short table. Run as root:
//   npx tsx bench/container-start.ts [--runs 50]
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerRuntime } from '../agent/runtime/index.js';
import type { Figure } from './lib/index.js';

/** A figure as the harness records it (it adds the machine). */
type BenchRecord = Figure;

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 50;

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

async function makeRootfs(dir: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'proc', 'sys', 'dev', 'tmp', 'root'])
    await mkdir(join(dir, d), { recursive: true });
  await chmod(dir, 0o755);
  execFileSync('cp', ['/bin/busybox', join(dir, 'bin/busybox')]);
  for (const applet of ['sh', 'sleep', 'true']) await symlink('busybox', join(dir, 'bin', applet));
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\n');
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the container start benchmark needs root');
  const base = await mkdtemp(join(tmpdir(), 'skiff-bench-start-'));
  const cgroupParent = `/skiff-bench/${base.split('/').pop()}`;
  const rootfs = join(base, 'rootfs');
  await makeRootfs(rootfs);
  const rt = new ContainerRuntime({
    root: join(base, 'state', 'containers'),
    runRoot: join(base, 'run'),
    cgroupParent,
  });
  const records: BenchRecord[] = [];
  try {
    const spec = { Image: 'busybox', Command: ['sleep', '3600'] };
    const unconfinedSpec = { ...spec, Privileges: { Seccomp: { Mode: 'unconfined' as const } } };
    // Warm-up: page cache, binaries.
    await rt.create({ id: 'warm', name: 'warm', rootfs, imageConfig: {}, spec });
    await rt.start('warm');
    const bundle = JSON.parse(await readFile(join(base, 'state/containers/warm/config.json'), 'utf8')) as {
      linux: { cgroupsPath: string };
    };
    // 'warm' stays (stopped) until the end: the floor's bundle binds its /etc files.
    await rt.stop('warm', { graceMs: 0 });

    // The floor: crun alone, the same config.json.
    const floorDir = join(base, 'floor');
    await mkdir(floorDir);
    bundle.linux.cgroupsPath = `${cgroupParent}/floor`;
    await writeFile(join(floorDir, 'config.json'), JSON.stringify(bundle));
    const crunRoot = join(base, 'crun-floor');
    const errFile = join(base, 'crun-floor.err');
    const errFd = openSync(errFile, 'w');

    // Interleaved, so that the other load on the machine weighs on both alike.
    const skiff: number[] = [];
    const floor: number[] = [];
    const unconfined: number[] = [];
    for (let i = 0; i < runs; i++) {
      const id = `b${i}`;
      let t0 = performance.now();
      await rt.create({ id, name: id, rootfs, imageConfig: {}, spec });
      const info = await rt.start(id);
      skiff.push(performance.now() - t0);
      if (info.state !== 'running') throw new Error(`container ${id} is ${info.state} after start`);
      await rt.delete(id, { force: true });

      const fid = `f${i}`;
      t0 = performance.now();
      // A file, not a pipe, for stderr: the detached container would hold a pipe open.
      const r = spawnSync('crun', [`--root=${crunRoot}`, 'run', '--detach', '-b', floorDir, fid], {
        stdio: ['ignore', 'ignore', errFd],
      });
      floor.push(performance.now() - t0);
      if (r.status !== 0)
        throw new Error(`crun run failed (exit ${r.status}): ${await readFile(errFile, 'utf8')}`);
      spawnSync('crun', [`--root=${crunRoot}`, 'delete', '--force', fid], { stdio: 'ignore' });

      const uid = `u${i}`;
      t0 = performance.now();
      await rt.create({ id: uid, name: uid, rootfs, imageConfig: {}, spec: unconfinedSpec });
      const uinfo = await rt.start(uid);
      unconfined.push(performance.now() - t0);
      if (uinfo.state !== 'running') throw new Error(`container ${uid} is ${uinfo.state} after start`);
      await rt.delete(uid, { force: true });
    }
    closeSync(errFd);

    let docker: number[] | undefined;
    if (spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0) {
      docker = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const r = spawnSync('docker', ['run', '-d', '--network', 'none', 'busybox', 'sleep', '3600'], {
          encoding: 'utf8',
        });
        docker.push(performance.now() - t0);
        if (r.status !== 0) {
          docker = undefined;
          break;
        }
        spawnSync('docker', ['rm', '-f', r.stdout.trim()], { stdio: 'ignore' });
      }
    }

    // conmon's memory per container, with 5 running.
    const conmonRss: number[] = [];
    for (let i = 0; i < 5; i++) {
      await rt.create({ id: `m${i}`, name: `m${i}`, rootfs, imageConfig: {}, spec });
      await rt.start(`m${i}`);
      const pid = Number((await readFile(join(base, 'run', `m${i}`, 'conmon.pid'), 'utf8')).trim());
      conmonRss.push(await rssKb(pid));
    }

    const s = [...skiff].sort((a, b) => a - b);
    const f = [...floor].sort((a, b) => a - b);
    const d = docker ? [...docker].sort((a, b) => a - b) : undefined;
    const u = [...unconfined].sort((a, b) => a - b);
    for (const p of [50, 95]) {
      // The default profile's cost: default (filtered) start next to an unfiltered one.
      const value = round(percentile(s, p));
      const peerValue = round(percentile(u, p));
      records.push({
        name: 'container-start-seccomp',
        metric: `p${p}`,
        unit: 'ms',
        value,
        peer: 'seccomp=unconfined',
        peerValue,
        ratio: round(value / peerValue),
      });
    }
    for (const p of [50, 95]) {
      const value = round(percentile(s, p));
      const rec: BenchRecord = {
        name: 'container-start',
        metric: `p${p}`,
        unit: 'ms',
        value,
        peer: 'crun run --detach',
        peerValue: round(percentile(f, p)),
      };
      rec.ratio = round(value / rec.peerValue!);
      records.push(rec);
      if (d) {
        const dv = round(percentile(d, p));
        records.push({
          name: 'container-start',
          metric: `p${p}`,
          unit: 'ms',
          value,
          peer: 'docker run -d',
          peerValue: dv,
          ratio: round(value / dv),
        });
      }
    }
    records.push({
      name: 'conmon-rss',
      metric: 'mean',
      unit: 'KiB',
      value: round(conmonRss.reduce((a, b) => a + b, 0) / conmonRss.length),
    });
    for (const r of records) process.stdout.write(`${JSON.stringify(r)}\n`);
    process.stdout.write(`\n${runs} starts each${d ? '' : ' (no dockerd answering: docker peer skipped)'}\n`);
    process.stdout.write(
      'metric                 skiff        peer                      peer value   ratio\n',
    );
    for (const r of records) {
      process.stdout.write(
        `${`${r.name} ${r.metric}`.padEnd(22)} ${`${r.value} ${r.unit}`.padEnd(12)} ${(r.peer ?? '-').padEnd(25)} ${(r.peerValue === undefined ? '-' : `${r.peerValue} ${r.unit}`).padEnd(12)} ${r.ratio ?? '-'}\n`,
      );
    }
  } finally {
    rt.close();
    for (const c of await rt.list().catch(() => []))
      await rt.delete(c.id, { force: true }).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
    for (const h of await readdir('/sys/fs/cgroup')) {
      for (const p of [`${cgroupParent}/floor`, cgroupParent, '/skiff-bench']) {
        await rmdir(join('/sys/fs/cgroup', h, p)).catch(() => undefined);
      }
    }
  }
}

await main();
