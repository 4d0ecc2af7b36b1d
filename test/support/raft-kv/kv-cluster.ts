// Starts kv-node processes on loopback and talks to them over HTTP: shared by the
// real-process test and the benchmark. Always call stop(): it kills the processes and
// removes their data directories.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { freePort, waitFor } from '../../lab/index.js';

const KV_NODE = join(dirname(fileURLToPath(import.meta.url)), 'kv-node.ts');

export interface KvProc {
  id: string;
  raftAddr: string;
  httpAddr: string;
  dataDir: string;
  child: ChildProcess | null;
  pool: Pool;
  stderr: string[];
}

export interface KvStatus {
  id: string;
  term: number;
  leaderId: string;
  role: string;
  commitIndex: number;
  appliedIndex: number;
  snapshotsFromLeader: number;
  keys: number;
}

export interface PutResult {
  status: number;
  index?: number;
  leaderId?: string;
  error?: string;
}

export interface KvClusterOptions {
  size: number;
  snapshotEvery?: number;
  catchUpEntries?: number;
  tickMs?: number;
}

export class KvCluster {
  private constructor(
    readonly procs: KvProc[],
    private readonly baseDir: string,
    private readonly opts: KvClusterOptions,
  ) {}

  static async start(opts: KvClusterOptions): Promise<KvCluster> {
    const baseDir = await mkdtemp(join(tmpdir(), 'raft-kv-'));
    const procs: KvProc[] = [];
    for (let i = 0; i < opts.size; i++) {
      const httpAddr = `127.0.0.1:${await freePort()}`;
      procs.push({
        id: `n${i + 1}`,
        raftAddr: `127.0.0.1:${await freePort()}`,
        httpAddr,
        dataDir: join(baseDir, `n${i + 1}`),
        child: null,
        pool: new Pool(`http://${httpAddr}`, { connections: 128, pipelining: 1 }),
        stderr: [],
      });
    }
    const cluster = new KvCluster(procs, baseDir, opts);
    try {
      for (let i = 0; i < procs.length; i++) cluster.startNode(i);
      await Promise.all(procs.map((_, i) => cluster.waitUp(i, 20_000)));
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  startNode(i: number): void {
    const p = this.procs[i]!;
    const peers = this.procs.map((q) => `${q.id}=${q.raftAddr}`).join(',');
    const args = [
      '--import',
      'tsx',
      KV_NODE,
      '--id',
      p.id,
      '--data',
      p.dataDir,
      '--peers',
      peers,
      '--http',
      p.httpAddr,
    ];
    if (this.opts.snapshotEvery) args.push('--snapshot-every', String(this.opts.snapshotEvery));
    if (this.opts.catchUpEntries !== undefined)
      args.push('--catch-up-entries', String(this.opts.catchUpEntries));
    if (this.opts.tickMs) args.push('--tick-ms', String(this.opts.tickMs));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      p.stderr.push(d);
      if (p.stderr.length > 200) p.stderr.shift();
    });
    p.child = child;
  }

  async waitUp(i: number, timeoutMs: number): Promise<void> {
    const p = this.procs[i]!;
    // A node that exited will not come up: stop waiting and show its stderr.
    const outcome = await waitFor(
      async () =>
        (await this.status(i)) !== null ? 'up' : p.child?.exitCode !== null ? 'exited' : undefined,
      { what: `kv-node ${p.id} to serve /status`, timeoutMs, intervalMs: 50 },
    ).catch(() => 'timed out');
    if (outcome !== 'up')
      throw new Error(`kv-node ${p.id} did not come up: ${p.stderr.join('').slice(-2000)}`);
  }

  /** kill -9 (by default) and wait for the process to be gone. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.procs[i]!.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await gone;
    this.procs[i]!.child = null;
  }

  async status(i: number): Promise<KvStatus | null> {
    try {
      const res = await this.procs[i]!.pool.request({
        path: '/status',
        method: 'GET',
        headersTimeout: 2000,
        bodyTimeout: 2000,
      });
      const body = (await res.body.json()) as KvStatus;
      return res.statusCode === 200 ? body : null;
    } catch {
      return null;
    }
  }

  /** Index of the node that reports itself leader, waiting up to timeoutMs. */
  async waitLeader(timeoutMs: number, exclude: number[] = []): Promise<number> {
    const leader = await waitFor(
      async () => {
        for (let i = 0; i < this.procs.length; i++) {
          if (exclude.includes(i) || !this.procs[i]!.child) continue;
          if ((await this.status(i))?.role === 'leader') return { i };
        }
        return undefined;
      },
      { what: 'a kv-node to be elected leader', timeoutMs, intervalMs: 20 },
    );
    return leader.i;
  }

  indexOf(id: string): number {
    return this.procs.findIndex((p) => p.id === id);
  }

  async put(i: number, key: string, value: string, timeoutMs = 10_000): Promise<PutResult> {
    const res = await this.procs[i]!.pool.request({
      path: `/kv/${encodeURIComponent(key)}`,
      method: 'PUT',
      body: value,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const body = (await res.body.json()) as { index?: number; leaderId?: string; error?: string };
    return { status: res.statusCode, ...body };
  }

  async get(
    i: number,
    key: string,
    timeoutMs = 10_000,
  ): Promise<{ status: number; value?: string | null; leaderId?: string }> {
    const res = await this.procs[i]!.pool.request({
      path: `/kv/${encodeURIComponent(key)}`,
      method: 'GET',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const body = (await res.body.json()) as { value?: string | null; leaderId?: string };
    return { status: res.statusCode, ...body };
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((_, i) => this.kill(i, 'SIGKILL')));
    await Promise.all(this.procs.map((p) => p.pool.destroy().catch(() => {})));
    await rm(this.baseDir, { recursive: true, force: true });
  }
}
