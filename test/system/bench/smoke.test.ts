// Every registered benchmark at its tiny size, through `scripts/bench` as a user runs
// it, so none of them rots. Figures are not checked (speed comes from benchmarks, not
// tests): the run must succeed, print well-formed records and the table, and store
// them. At tiny size the dockerd peer is left out (installing docker.io alone takes
// ~40 s here): `peers` runs etcd and the registry, and the wrapped scripts measure
// their skiff side only; `npm run bench -- peers` covers dockerd.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allBenchmarks } from '../../../bench/benchmarks/index.js';
import { REPO_ROOT } from '../../../bench/lib/index.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/bench; on a deadline SIGTERM first, so the harness stops its peers. */
function bench(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['scripts/bench', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const term = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

const NAMES = allBenchmarks().map((b) => b.name);

/** Figures some benchmarks must print even at tiny size (what their issue asks them to measure). */
const REQUIRED_METRICS: Record<string, RegExp[]> = {
  placement: [/create to all assigned/, /create to all running/, /peak RSS/],
  backup: [/: backup \(/, /backup file size/, /: restore \(/, /restored start to store loaded/],
  'stack-deploy': [/deploy → all running median/],
  'rolling-update': [/update → completed median/, /update → all running median/],
  'docker-run': [/docker run --rm busybox true, median/, /resident memory after the runs/],
};

// Two benchmarks at a time: the whole smoke test stays near a minute on 2 cores.
let slots = 2;
const waiting: Array<() => void> = [];
async function withSlot<T>(body: () => Promise<T>): Promise<T> {
  while (slots === 0) await new Promise<void>((r) => waiting.push(r));
  slots--;
  try {
    return await body();
  } finally {
    slots++;
    waiting.shift()?.();
  }
}

describe('npm run bench', () => {
  let resultsDir = '';
  beforeAll(async () => {
    resultsDir = await mkdtemp(join(tmpdir(), 'skiff-bench-smoke-'));
  });
  afterAll(async () => {
    await rm(resultsDir, { recursive: true, force: true });
  });

  it('lists every benchmark and refuses unknown names', async () => {
    const list = await bench(['--list'], {}, 30_000);
    expect(list.code).toBe(0);
    for (const name of NAMES) expect(list.stdout).toMatch(new RegExp(`^${name}\\s`, 'm'));
    const unknown = await bench(['no-such-benchmark'], { BENCH_RESULTS_DIR: resultsDir }, 30_000);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no benchmark named no-such-benchmark');
  });

  for (const name of NAMES) {
    it.concurrent(`${name} runs at tiny size, prints records and the table, stores them`, {
      timeout: 300_000,
    }, async () => {
      const dir = join(resultsDir, name);
      const r = await withSlot(() => bench(['--size', 'tiny', name], { BENCH_RESULTS_DIR: dir }, 150_000));
      expect(r.code, `stderr:\n${r.stderr.slice(-3000)}`).toBe(0);
      const records = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.length).toBeGreaterThan(0);
      for (const rec of records) {
        expect(rec).toMatchObject({
          name: expect.any(String),
          metric: expect.any(String),
          unit: expect.any(String),
          value: expect.any(Number),
          machine: { cores: expect.any(Number), memoryGiB: expect.any(Number), kernel: expect.any(String) },
        });
      }
      for (const want of REQUIRED_METRICS[name] ?? []) {
        expect(
          records.some((rec) => want.test(String(rec.metric))),
          `${name} prints a figure matching ${want}`,
        ).toBe(true);
      }
      expect(r.stdout).toMatch(/benchmark\s+metric\s+value\s+peer\s+peer value\s+ratio/);
      expect(r.stdout).toContain(`ok     ${name} (`);
      const files = await readdir(dir);
      expect(files).toHaveLength(1);
      const stored = (await readFile(join(dir, files[0]!), 'utf8')).trim().split('\n');
      expect(stored).toHaveLength(records.length);
    });
  }
});
