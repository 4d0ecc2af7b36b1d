// The state a real node keeps on disk, read as another user of the host and as a thief of
// the raft directory would: user nobody can list, read or grep nothing of the state and run
// directories, the WAL or daemon.log (directories an older skiff or an installer left wider
// are narrowed at start); the raft log and snapshots hold neither a service's env, nor the
// join tokens, nor the CA key in clear; and an autolocked node keeps no key in clear
// (certificate keys included) and restarts locked, its services back only after
// `cluster unlock` with the key. Autolock gives the raft log a new data key, locked with
// the unlock key: once the next snapshot re-sealed it, the old key opens nothing in raft/.
import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtRestCipher, DiskStorage } from '../../../manager/raft/index.js';
import { RaftDataKeys } from '../../../manager/raft-data-key.js';
import { waitFor } from '../../lab/index.js';
import { importBusybox, socketApi, type TestNode, testNode } from '../../support/skiff-node/index.js';

const MARKER = 'zz-env-marker-7f3a-zz';
const BIN = join(import.meta.dirname, '../../../bin/skiff.js');

/** A command run as user nobody: its exit code and output. */
function asNobody(cmd: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile('runuser', ['-u', 'nobody', '--', ...cmd], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** Every file below `dir`, recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe('the state on disk', () => {
  let node: TestNode;
  let dir: string;
  const api = (method: string, path: string, body?: unknown) =>
    socketApi(join(node.runDir, 'skiff.sock'), 'the test node', method, path, body);
  const skiffWithInput = (args: string[], input: string) =>
    new Promise<{ code: number; out: string }>((done) => {
      const p = spawn(process.execPath, [BIN, ...args], { env: node.env });
      let out = '';
      p.stdout.on('data', (d) => {
        out += d;
      });
      p.stderr.on('data', (d) => {
        out += d;
      });
      p.on('close', (code) => done({ code: code ?? 1, out }));
      p.stdin.end(input);
    });

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-disk-'));
    // As on a real host: /var/lib/skiff and /run/skiff's parents are open to everyone, and
    // the directories themselves were left wide (an older skiff, an installer, mkdir -p).
    chmodSync(dirname(node.stateRoot), 0o755);
    mkdirSync(node.stateDir, { recursive: true, mode: 0o755 });
    chmodSync(node.stateRoot, 0o755);
    chmodSync(node.stateDir, 0o755);
    writeFileSync(join(node.stateDir, 'daemon.log'), '', { mode: 0o644 });
    chmodSync(node.runDir, 0o755);
    // Snapshots early, so that the test sees them.
    node.env.SKIFF_RAFT_SNAPSHOT_INTERVAL = '5';
    const imp = await importBusybox(node, dir, 'disk\n', 'localhost/disk-busybox:1');
    expect(imp.code, imp.stderr).toBe(0);
    const created = await node.skiff([
      'service',
      'create',
      '--name',
      'diskprobe',
      '-e',
      `PROBE=${MARKER}`,
      'localhost/disk-busybox:1',
      'sleep',
      '3600',
    ]);
    expect(created.code, created.stderr).toBe(0);
    await waitFor(() => readdirSync(join(node.stateDir, 'raft', 'snap')).some((f) => f.endsWith('.snap')), {
      what: 'a raft snapshot',
      timeoutMs: 30_000,
    });
  }, 180_000);

  afterAll(async () => {
    await node?.skiff(['service', 'rm', 'diskprobe']);
    await node?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('gives user nobody nothing to list, read or grep, and narrows what was left wide', async () => {
    const wal = join(node.stateDir, 'raft', 'wal');
    const walFile = join(wal, readdirSync(wal)[0]!);
    const log = join(node.stateDir, 'daemon.log');
    for (const probe of [
      ['ls', node.stateDir],
      ['ls', node.runDir],
      ['cat', walFile],
      ['cat', log],
    ]) {
      const r = await asNobody(probe);
      expect(r.code, `${probe.join(' ')}: ${r.out}`).not.toBe(0);
    }
    const grep = await asNobody(['grep', '-r', '-l', 'SWMTKN', node.stateRoot, node.runDir]);
    expect(grep.code).not.toBe(0);
    // Only grep's own complaints ("Permission denied"), no file that matched.
    expect(grep.out.split('\n').filter((l) => l && !l.startsWith('grep: '))).toEqual([]);

    const snap = join(node.stateDir, 'raft', 'snap');
    expect({
      state: mode(node.stateDir),
      run: mode(node.runDir),
      raft: mode(join(node.stateDir, 'raft')),
      wal: mode(wal),
      walFile: mode(walFile),
      snap: mode(snap),
      snapFile: mode(join(snap, readdirSync(snap).find((f) => f.endsWith('.snap'))!)),
      log: mode(log),
      content: mode(join(node.stateDir, 'content')),
      snapshots: mode(join(node.stateDir, 'snapshots')),
      containers: mode(join(node.stateDir, 'containers')),
      caKey: mode(join(node.stateDir, 'certs', 'ca.key')),
      nodeKey: mode(join(node.stateDir, 'certs', 'node.key')),
      secretsKey: mode(join(node.stateDir, 'secrets.key')),
    }).toEqual({
      state: '700',
      run: '700',
      raft: '700',
      wal: '700',
      walFile: '600',
      snap: '700',
      snapFile: '600',
      log: '600',
      content: '700',
      snapshots: '700',
      containers: '700',
      caKey: '600',
      nodeKey: '600',
      secretsKey: '600',
    });
  });

  it('keeps no service env, join token or CA key in clear in the raft log and snapshots', async () => {
    const swarm = (await api('GET', '/swarm')).json as { JoinTokens: { Worker: string; Manager: string } };
    expect(swarm.JoinTokens.Worker).toMatch(/^SWMTKN-/);
    // A line from the middle of the CA key's PEM body.
    const caKeyLine = readFileSync(join(node.stateDir, 'certs', 'ca.key'), 'utf8').split('\n')[2]!;
    expect(caKeyLine.length).toBeGreaterThan(20);
    const files = filesUnder(join(node.stateDir, 'raft'));
    expect(files.some((f) => f.endsWith('.wal'))).toBe(true);
    expect(files.some((f) => f.endsWith('.snap'))).toBe(true);
    const found = files.flatMap((f) => {
      const raw = readFileSync(f);
      return [MARKER, 'SWMTKN', swarm.JoinTokens.Worker, caKeyLine]
        .filter((needle) => raw.includes(needle))
        .map((needle) => `${f}: ${needle.slice(0, 20)}`);
    });
    expect(found).toEqual([]);
  });

  it('restarts with its services; autolocked, it restarts locked until `cluster unlock` gets the key', async () => {
    const envOf = async () => {
      const r = await node.skiff(['service', 'inspect', 'diskprobe']);
      return r.code === 0 ? r.stdout : `failed: ${r.stderr}`;
    };
    expect(await node.skiff(['daemon', 'stop'])).toMatchObject({ code: 0 });
    expect(await node.skiff(['daemon', 'start'])).toMatchObject({ code: 0 });
    expect(await envOf()).toContain(MARKER);

    const storeKey = readFileSync(join(node.stateDir, 'secrets.key'));
    const before = (await RaftDataKeys.open(node.stateDir, '', { storeKey })).ring();
    const oldKeys = [before.current, ...(before.previous ?? [])];

    const info = (await api('GET', '/swarm')).json as { Version: { Index: number }; Spec: object };
    const update = await api('POST', `/swarm/update?version=${info.Version.Index}`, {
      ...info.Spec,
      EncryptionConfig: { AutoLockManagers: true },
    });
    expect(update.status, JSON.stringify(update.json)).toBe(200);
    const key = (await node.skiff(['cluster', 'unlock-key', '-q'])).stdout.trim();
    expect(key).toMatch(/^SWMKEY-1-/);
    await waitFor(() => !readdirSync(node.stateDir).includes('secrets.key'), {
      what: 'the secrets key to be locked',
      timeoutMs: 20_000,
    });

    // A new data key, wrapped by the unlock key; the old one forgotten after the snapshot.
    let ring = before;
    await waitFor(
      async () => {
        ring = (await RaftDataKeys.open(node.stateDir, '', { storeKey, unlockKey: key })).ring();
        return ring.current.id !== before.current.id && (ring.previous ?? []).length === 0;
      },
      { what: 'the raft data key to be rotated and the old one forgotten', timeoutMs: 30_000 },
    );
    await expect(RaftDataKeys.open(node.stateDir, '', { storeKey })).rejects.toMatchObject({
      code: 'invalid_argument',
    });

    expect(await node.skiff(['daemon', 'stop'])).toMatchObject({ code: 0 });
    // Nothing left in raft/ opens with the old data keys; all of it with the new one.
    const raftDir = join(node.stateDir, 'raft');
    await expect(
      DiskStorage.open(raftDir, {
        cipher: new AtRestCipher({ current: oldKeys[0]!, previous: oldKeys.slice(1) }),
      }),
    ).rejects.toMatchObject({ code: 'wrong_key' });
    const reopened = await DiskStorage.open(raftDir, { cipher: new AtRestCipher(ring) });
    expect([...reopened.storage.keysInUse()]).toEqual([ring.current.id]);
    await reopened.storage.close();
    // Stopped and locked, no key in the state directory is usable in clear: the store key
    // is locked with the unlock key, the certificate keys (node, CA, raft CA, raft) are
    // sealed with the store key, and the raft data key is wrapped by the unlock key.
    const clearKeys = filesUnder(node.stateDir).filter((f) => readFileSync(f).includes('PRIVATE KEY'));
    expect(clearKeys).toEqual([]);
    expect(readdirSync(node.stateDir)).not.toContain('secrets.key');
    expect(await node.skiff(['daemon', 'start'])).toMatchObject({ code: 0 });
    expect(await envOf()).toMatch(/locked|unlock/i);
    const wrong = await skiffWithInput(['cluster', 'unlock'], 'SWMKEY-1-not-the-key\n');
    expect(wrong.code).not.toBe(0);
    const right = await skiffWithInput(['cluster', 'unlock'], `${key}\n`);
    expect(right.code, right.out).toBe(0);
    await waitFor(async () => (await envOf()).includes(MARKER), {
      what: 'the unlocked node to serve its service',
      timeoutMs: 30_000,
    });

    // Autolock off: one more data key, wrapped by the store key (in clear again) this time.
    const locked = (await api('GET', '/swarm')).json as { Version: { Index: number }; Spec: object };
    const off = await api('POST', `/swarm/update?version=${locked.Version.Index}`, {
      ...locked.Spec,
      EncryptionConfig: { AutoLockManagers: false },
    });
    expect(off.status, JSON.stringify(off.json)).toBe(200);
    await waitFor(
      async () => {
        if (!readdirSync(node.stateDir).includes('secrets.key')) return false;
        const now = await RaftDataKeys.open(node.stateDir, '', { storeKey }).catch(() => undefined);
        return now !== undefined && now.ring().current.id > ring.current.id && !now.ring().previous?.length;
      },
      { what: 'a new raft data key wrapped by the store key, the old one forgotten', timeoutMs: 30_000 },
    );

    // On demand: `cluster rotate-data-key` gives the log one more data key.
    const unlockedRing = (await RaftDataKeys.open(node.stateDir, '', { storeKey })).ring();
    const rotated = await node.skiff(['cluster', 'rotate-data-key']);
    expect(rotated.code, rotated.stderr).toBe(0);
    await waitFor(
      async () => {
        const now = (await RaftDataKeys.open(node.stateDir, '', { storeKey })).ring();
        return now.current.id > unlockedRing.current.id && !now.previous?.length;
      },
      { what: 'the raft data key rotated on demand, the old one forgotten', timeoutMs: 30_000 },
    );
    expect(await envOf()).toContain(MARKER);
  });
});
