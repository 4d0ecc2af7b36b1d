// etcd as a peer: a 3-member cluster (Debian's etcd-server, etcd 3.4) on loopback
// ports with temporary data directories, driven over its HTTP/JSON gateway (keys and
// values base64 in JSON, as the gateway's protobuf mapping requires).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { freePort } from '../../test/lab/index.js';
import { literal, onInterrupt, runCommand, waitFor } from '../lib/index.js';
import { ensurePackage } from './apt.js';

const ETCD = '/usr/bin/etcd';
const DIR_PREFIX = 'skiff-bench-etcd-';

/** Kills the members and removes the directories of runs whose process is gone. */
export function sweepEtcdLeftovers(): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    const owner = new RegExp(`^${DIR_PREFIX}([0-9a-z]+)-`).exec(name)?.[1];
    if (owner === undefined) continue;
    try {
      process.kill(Number.parseInt(owner, 36), 0);
      continue; // its run is still going
    } catch {
      // owner gone
    }
    const dir = join(tmpdir(), name);
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir)) process.kill(Number(e), 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

export interface EtcdOptions {
  members?: number;
  log?: (message: string) => void;
}

export interface EtcdCluster {
  /** e.g. `etcd 3.4.23 (3 members)`. */
  label: string;
  /** Client URLs, one per member (`http://127.0.0.1:PORT`). */
  urls: string[];
  stateDir: string;
  signatures: RegExp[];
  /** Writes through member `url`; resolves once the cluster committed it. */
  put(url: string, key: string, value: string): Promise<void>;
  /** Linearizable read through member `url`; undefined when the key is absent. */
  get(url: string, key: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

export async function startEtcdCluster(opts: EtcdOptions = {}): Promise<EtcdCluster> {
  const log = opts.log ?? (() => {});
  const members = opts.members ?? 3;
  await ensurePackage('etcd-server', ETCD, log);
  sweepEtcdLeftovers();
  // The owner's pid in the name lets a later run remove what a killed one left.
  const stateDir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid.toString(36)}-`));
  const ports = [];
  for (let i = 0; i < members; i++) ports.push({ client: await freePort(), peer: await freePort() });
  const names = ports.map((_, i) => `m${i + 1}`);
  const initialCluster = ports.map((p, i) => `${names[i]}=http://127.0.0.1:${p.peer}`).join(',');
  const urls = ports.map((p) => `http://127.0.0.1:${p.client}`);
  // One connection pool for every client of the benchmark: up to 256 sockets per member.
  const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 10_000 });
  const children: ChildProcess[] = [];
  let stopped: Promise<void> | undefined;

  const stop = () => {
    stopped ??= (async () => {
      // One at a time: a member stopping hands leadership over while the others still
      // answer; stopped all at once, each waits seconds for peers that are gone.
      for (const c of children) {
        if (c.exitCode !== null || c.signalCode !== null) continue;
        const exited = new Promise<void>((r) => c.once('exit', () => r()));
        c.kill('SIGTERM');
        const killer = setTimeout(() => c.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      await dispatcher.close().catch(() => {});
      await rm(stateDir, { recursive: true, force: true });
    })().finally(() => unregister());
    return stopped;
  };
  const unregister = onInterrupt(`etcd cluster in ${stateDir}`, stop);

  try {
    for (let i = 0; i < members; i++) {
      const p = ports[i]!;
      const logFd = openSync(join(stateDir, `${names[i]}.log`), 'a');
      const child = spawn(
        ETCD,
        [
          '--name',
          names[i]!,
          '--data-dir',
          join(stateDir, names[i]!),
          '--listen-client-urls',
          urls[i]!,
          '--advertise-client-urls',
          urls[i]!,
          '--listen-peer-urls',
          `http://127.0.0.1:${p.peer}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${p.peer}`,
          '--initial-cluster',
          initialCluster,
          '--initial-cluster-state',
          'new',
          '--initial-cluster-token',
          `skiff-bench-${process.pid}`,
          '--log-level',
          'warn',
          '--logger',
          'zap',
        ],
        { stdio: ['ignore', logFd, logFd] },
      );
      closeSync(logFd);
      children.push(child);
    }
    await waitFor(
      async () => {
        for (const [i, c] of children.entries()) {
          if (c.exitCode !== null)
            throw new Error(`etcd ${names[i]} exited: ${tailOf(join(stateDir, `${names[i]}.log`))}`);
        }
        const health = await Promise.all(
          urls.map(async (u) => {
            const r = await request(`${u}/health`, { dispatcher });
            const body = (await r.body.json()) as { health?: string };
            return body.health === 'true';
          }),
        );
        return health.every(Boolean);
      },
      { what: `the ${members} etcd members to report healthy`, timeoutMs: 60_000, intervalMs: 100 },
    );
  } catch (e) {
    await stop();
    throw e;
  }

  const post = async (url: string, path: string, body: unknown): Promise<Record<string, unknown>> => {
    const r = await request(`${url}${path}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      dispatcher,
    });
    const text = await r.body.text();
    if (r.statusCode !== 200)
      throw new Error(`etcd ${url}${path} answered ${r.statusCode}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const version = await runCommand(ETCD, ['--version']).then(
    (r) => /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? '?',
  );

  return {
    label: `etcd ${version} (${members} members)`,
    urls,
    stateDir,
    signatures: [new RegExp(literal(stateDir)), /\/usr\/bin\/etcd/],
    async put(url, key, value) {
      await post(url, '/v3/kv/put', { key: b64(key), value: b64(value) });
    },
    async get(url, key) {
      const body = (await post(url, '/v3/kv/range', { key: b64(key) })) as {
        kvs?: Array<{ value?: string }>;
      };
      const v = body.kvs?.[0]?.value;
      return v === undefined ? undefined : Buffer.from(v, 'base64').toString();
    },
    stop,
  };
}

function tailOf(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no log)';
  }
}
