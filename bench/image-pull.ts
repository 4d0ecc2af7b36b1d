// Image pull benchmark: a 200 MB image of 8 layers (incompressible data, gzip) from a
// loopback registry, pulled by skiff and by `skopeo copy docker://… dir:` in turn (A/B
// interleaved, fresh destination each run), plus `docker pull` when a dockerd answers.
// skiff's pull runs in a child process so its peak RSS is its own (GNU time's %M).
// Prints one JSON record per line, then a table.
// Run as root: npx tsx bench/image-pull.ts [--runs N] [--layers N] [--layer-mb N]
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ImageService } from '../agent/image/index.js';
import { Snapshotter } from '../agent/snapshot/index.js';
import { buildImage, pushImage, startRegistry } from '../test/fixtures/index.js';
import { runCommand } from '../test/lab/index.js';
import type { Figure } from './lib/index.js';

/** A figure as the harness records it (it adds the machine). */
type BenchRecord = Figure;

const REPO_ROOT = resolve(import.meta.dirname, '..');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Child mode: one pull into `root`, reporting the pull's own time as JSON on stdout. */
async function child(root: string, ref: string, unpack: boolean): Promise<void> {
  const snapshots = new Snapshotter({ root });
  const images = new ImageService({ root, ...(unpack ? { unpacker: snapshots } : {}) });
  const started = performance.now();
  await images.pull(ref);
  const ms = performance.now() - started;
  await images.close();
  process.stdout.write(`${JSON.stringify({ ms, maxRssKb: process.resourceUsage().maxRSS })}\n`);
}

/** Runs a command under GNU time: wall seconds and peak RSS (KiB) of the process. */
async function timed(
  cmd: string,
  args: string[],
): Promise<{ wallMs: number; maxRssKb: number; stdout: string }> {
  const r = await runCommand('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], {
    cwd: REPO_ROOT,
    timeoutMs: 600_000,
  });
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (r.code !== 0 || !m)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.slice(-500)}`);
  return { wallMs: Number(m[1]) * 1000, maxRssKb: Number(m[2]), stdout: r.stdout };
}

async function main(): Promise<void> {
  const runs = arg('--runs', 5);
  const layers = arg('--layers', 8);
  const layerMb = arg('--layer-mb', 25);
  const registry = await startRegistry();
  const work = await mkdtemp(join(tmpdir(), 'skiff-bench-pull-'));
  const image = await buildImage({
    busybox: false,
    layers: Array.from({ length: layers }, (_, i) => ({
      entries: [
        { type: 'file' as const, path: `layer${i}/data.bin`, content: randomBytes(layerMb * 1024 * 1024) },
      ],
    })),
  });
  try {
    await pushImage(image, registry.host, 'bench/big:1');
    const ref = `${registry.host}/bench/big:1`;
    const totalMb = image.manifests[0]!.layers.reduce((n, l) => n + l.size, 0) / 1e6;
    process.stderr.write(`image: ${layers} layers, ${totalMb.toFixed(1)} MB; ${runs} runs each\n`);

    // The child runs compiled JavaScript (as the agent does from dist/), not through tsx,
    // whose on-the-fly compilation would dominate both its start time and its memory.
    const build = join(REPO_ROOT, 'bench', 'results', 'image-pull-build');
    // Compiled with the project's own options (a tsconfig extending it), so the child sees
    // the code exactly as tsc --noEmit checked it.
    await mkdir(build, { recursive: true });
    const childTsconfig = join(build, 'tsconfig.json');
    await writeFile(
      childTsconfig,
      JSON.stringify({
        extends: join(REPO_ROOT, 'tsconfig.json'),
        compilerOptions: { outDir: build, rootDir: REPO_ROOT, sourceMap: false, noEmit: false },
        files: [join(REPO_ROOT, 'bench', 'image-pull.ts')],
        include: [],
      }),
    );
    const tsc = await runCommand(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', childTsconfig],
      { cwd: REPO_ROOT, timeoutMs: 300_000 },
    );
    if (tsc.code !== 0) throw new Error(`compiling the bench child failed: ${tsc.stdout.slice(0, 1000)}`);
    const childJs = join(build, 'bench', 'image-pull.js');

    const dockerUp =
      (await runCommand('docker', ['info'], { timeoutMs: 10_000 }).catch(() => ({ code: 1 }))).code === 0;
    const skiff: { ms: number; wallMs: number; rssKb: number }[] = [];
    const unpacked: number[] = [];
    const skopeo: { wallMs: number; rssKb: number }[] = [];
    const docker: number[] = [];
    for (let i = 0; i < runs; i++) {
      const root = join(work, `skiff-${i}`);
      const a = await timed(process.execPath, [childJs, '--child', root, ref]);
      const inner = JSON.parse(a.stdout.trim().split('\n').at(-1)!) as { ms: number };
      skiff.push({ ms: inner.ms, wallMs: a.wallMs, rssKb: a.maxRssKb });
      await rm(root, { recursive: true, force: true });

      const dest = join(work, `skopeo-${i}`);
      const b = await timed('skopeo', [
        '--insecure-policy',
        'copy',
        '--quiet',
        '--src-tls-verify=false',
        `docker://${ref}`,
        `dir:${dest}`,
      ]);
      skopeo.push({ wallMs: b.wallMs, rssKb: b.maxRssKb });
      await rm(dest, { recursive: true, force: true });

      const rootU = join(work, `unpack-${i}`);
      const c = await timed(process.execPath, [childJs, '--child', rootU, ref, '--unpack']);
      unpacked.push((JSON.parse(c.stdout.trim().split('\n').at(-1)!) as { ms: number }).ms);
      await rm(rootU, { recursive: true, force: true });

      if (dockerUp) {
        const t = performance.now();
        const d = await runCommand('docker', ['pull', '-q', ref], { timeoutMs: 600_000 });
        if (d.code === 0) docker.push(performance.now() - t);
        await runCommand('docker', ['rmi', '-f', ref]);
      }
      process.stderr.write(
        `run ${i + 1}: skiff ${inner.ms.toFixed(0)} ms (process ${a.wallMs.toFixed(0)} ms, ${(a.maxRssKb / 1024).toFixed(0)} MB), skopeo ${b.wallMs.toFixed(0)} ms, skiff+unpack ${unpacked.at(-1)!.toFixed(0)} ms\n`,
      );
    }

    const name = `image-pull ${layers}x${layerMb}MB`;
    const skiffMs = median(skiff.map((s) => s.ms));
    const skopeoMs = median(skopeo.map((s) => s.wallMs));
    const records: BenchRecord[] = [
      {
        name,
        metric: 'pull time (median)',
        unit: 'ms',
        value: round(skiffMs, 0),
        peer: 'skopeo copy docker:// dir:',
        peerValue: round(skopeoMs, 0),
        ratio: round(skiffMs / skopeoMs),
      },
      {
        name,
        metric: 'process time incl. node start (median)',
        unit: 'ms',
        value: round(median(skiff.map((s) => s.wallMs)), 0),
        peer: 'skopeo copy docker:// dir:',
        peerValue: round(skopeoMs, 0),
        ratio: round(median(skiff.map((s) => s.wallMs)) / skopeoMs),
      },
      {
        name,
        metric: 'peak RSS of the pull process (max)',
        unit: 'MB',
        value: round(Math.max(...skiff.map((s) => s.rssKb)) / 1024, 1),
        peer: 'skopeo copy docker:// dir:',
        peerValue: round(Math.max(...skopeo.map((s) => s.rssKb)) / 1024, 1),
      },
      { name, metric: 'pull + unpack time (median)', unit: 'ms', value: round(median(unpacked), 0) },
      { name, metric: 'throughput (median pull)', unit: 'MB/s', value: round(totalMb / (skiffMs / 1000), 1) },
    ];
    if (docker.length > 0) {
      records.push({
        name,
        metric: 'pull + unpack time (median)',
        unit: 'ms',
        value: round(median(unpacked), 0),
        peer: 'docker pull',
        peerValue: round(median(docker), 0),
        ratio: round(median(unpacked) / median(docker)),
      });
    }
    for (const r of records) process.stdout.write(`${JSON.stringify(r)}\n`);
    process.stdout.write(
      '\nmetric                                        skiff        peer                        peer value   ratio\n',
    );
    for (const r of records) {
      process.stdout.write(
        `${r.metric.padEnd(45)} ${`${r.value} ${r.unit}`.padEnd(12)} ${(r.peer ?? '-').padEnd(27)} ${(r.peerValue === undefined ? '-' : `${r.peerValue} ${r.unit}`).padEnd(12)} ${r.ratio ?? '-'}\n`,
      );
    }
  } finally {
    await image.remove();
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  await child(process.argv[childAt + 1]!, process.argv[childAt + 2]!, process.argv.includes('--unpack'));
} else {
  await main();
}
