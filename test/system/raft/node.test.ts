import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRaftError, RaftNode } from '../../../manager/raft/index.js';
import { freePort, waitFor } from '../../lab/index.js';
import { encodePut, KvStateMachine } from '../../support/raft-kv/index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'raft-node-'));
  cleanups.push(() => rm(d, { recursive: true, force: true }));
  return d;
}

async function startNode(
  id: string,
  dataDir: string,
  peers: { id: string; addr: string }[],
  sm: KvStateMachine,
  extra: Partial<Parameters<typeof RaftNode.start>[0]> = {},
): Promise<RaftNode> {
  const node = await RaftNode.start({ id, dataDir, peers, stateMachine: sm, tickMs: 20, ...extra });
  cleanups.push(() => node.stop());
  return node;
}

describe('RaftNode single-node mode', () => {
  it('elects itself at once, applies proposals in order, and recovers them after a restart', async () => {
    const dir = await tempDir();
    const peers = [{ id: 'solo', addr: '127.0.0.1:0' }];
    const sm = new KvStateMachine();
    const node = await startNode('solo', dir, peers, sm, { tickMs: 100 });
    await waitFor(() => node.status().role === 'leader', {
      what: 'leadership',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    for (let i = 0; i < 5; i++) await node.propose(encodePut({ key: 'k', value: `v${i}` }));
    await node.readBarrier();
    expect(sm.map.get('k')).toBe('v4');
    const { index } = await node.propose(encodePut({ key: 'z', value: '1' }));
    expect(node.status().appliedIndex).toBeGreaterThanOrEqual(index);
    await node.stop();

    const sm2 = new KvStateMachine();
    const again = await startNode('solo', dir, peers, sm2, { tickMs: 100 });
    await waitFor(() => again.status().role === 'leader', {
      what: 'leadership after restart',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    await again.readBarrier();
    expect(sm2.map.get('k')).toBe('v4');
    expect(sm2.map.get('z')).toBe('1');
    expect(again.status().members).toEqual([{ id: 'solo', addr: '127.0.0.1:0', role: 'voter' }]);
  });

  it('refuses work after stop, and a start without a listen address', async () => {
    const dir = await tempDir();
    const node = await startNode('solo', dir, [{ id: 'solo', addr: '127.0.0.1:0' }], new KvStateMachine());
    await node.stop();
    const err = await node.propose(encodePut({ key: 'k', value: 'v' })).catch((e: unknown) => e);
    expect(isRaftError(err, 'stopped')).toBe(true);
    const bad = await RaftNode.start({
      id: 'x',
      dataDir: await tempDir(),
      peers: [],
      stateMachine: new KvStateMachine(),
    }).catch((e: unknown) => e);
    expect(isRaftError(bad, 'invalid_argument')).toBe(true);
    expect((bad as Error).message).toMatch(/no listen address/);
  });

  it('standalone: listens nowhere while alone and refuses members; state naming others starts the transport', async () => {
    const dir = await tempDir();
    const sm = new KvStateMachine();
    const solo = await startNode('solo', dir, [{ id: 'solo', addr: '127.0.0.1:0' }], sm, {
      standalone: true,
    });
    expect(solo.addr).toBe('');
    await waitFor(() => solo.status().role === 'leader', {
      what: 'leadership',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    await solo.propose(encodePut({ key: 'k', value: 'v' }));
    expect(sm.map.get('k')).toBe('v');
    const err = await solo.addLearner('other', '127.0.0.1:1').catch((e: unknown) => e);
    expect(isRaftError(err, 'invalid_argument')).toBe(true);
    expect((err as Error).message).toMatch(/standalone/);
    expect(solo.status().members.map((m) => m.id)).toEqual(['solo']);

    // A group of two (state of a former cluster) gets its transport, standalone or not.
    const pairDir = await tempDir();
    const pair = [
      { id: 'a', addr: '127.0.0.1:1' },
      { id: 'b', addr: '127.0.0.1:2' },
    ];
    const first = await startNode('a', pairDir, pair, new KvStateMachine(), { listenAddr: '127.0.0.1:0' });
    await first.stop();
    const again = await startNode('a', pairDir, pair, new KvStateMachine(), {
      listenAddr: '127.0.0.1:0',
      standalone: true,
    });
    await waitFor(() => /^127\.0\.0\.1:\d+$/.test(again.addr), {
      what: 'the transport of a standalone member whose state names another',
      timeoutMs: 5000,
      intervalMs: 20,
    });
  });

  it('takes snapshots and restarts from them', async () => {
    const dir = await tempDir();
    const peers = [{ id: 'solo', addr: '127.0.0.1:0' }];
    const sm = new KvStateMachine();
    const node = await startNode('solo', dir, peers, sm, { snapshotEvery: 10 });
    await waitFor(() => node.status().role === 'leader', {
      what: 'leadership',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    for (let i = 0; i < 35; i++) await node.propose(encodePut({ key: `k${i}`, value: `${i}` }));
    await node.stop();
    const sm2 = new KvStateMachine();
    const again = await startNode('solo', dir, peers, sm2, { snapshotEvery: 10 });
    expect(sm2.restores).toBe(1);
    await waitFor(() => again.status().role === 'leader', {
      what: 'leadership',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    await again.readBarrier();
    expect(sm2.map.size).toBe(35);
  });

  it('takes a snapshot on demand and when the log since the last holds enough bytes', async () => {
    const dir = await tempDir();
    const peers = [{ id: 'solo', addr: '127.0.0.1:0' }];
    const sm = new KvStateMachine();
    const node = await startNode('solo', dir, peers, sm, { snapshotEveryBytes: 4096 });
    await waitFor(() => node.status().role === 'leader', {
      what: 'leadership',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    const { index } = await node.propose(encodePut({ key: 'a', value: '1' }));
    const taken = await node.snapshotNow();
    expect(taken.index).toBeGreaterThanOrEqual(index);
    expect(taken.bytes).toBeGreaterThan(0);
    expect(sm.snapshots).toBe(1);
    // Entries of 1 KiB: the fifth crosses 4 KiB since that snapshot.
    for (let i = 0; i < 5; i++) await node.propose(encodePut({ key: `big${i}`, value: 'x'.repeat(1024) }));
    await waitFor(() => sm.snapshots === 2, { what: 'a snapshot by size', timeoutMs: 2000, intervalMs: 20 });
    await node.stop();
    await expect(node.snapshotNow()).rejects.toThrow('stopped');
  });

  it('stops, failed with the state machine’s message, at an entry it cannot read (never applies past it)', async () => {
    const dir = await tempDir();
    const peers = [{ id: 'solo', addr: '127.0.0.1:0' }];
    // Refuses the value 'newer' as a format it does not know (the StateMachine contract's halt).
    class Strict extends KvStateMachine {
      override apply(entry: { index: number; term: number; data: Uint8Array }): void {
        if (new TextDecoder().decode(entry.data).includes('"newer"')) {
          throw Object.assign(new Error('entry of format 2; this reads format 1'), { halt: true });
        }
        super.apply(entry);
      }
    }
    const sm = new Strict();
    const node = await startNode('solo', dir, peers, sm);
    await waitFor(() => node.status().role === 'leader', {
      what: 'leadership',
      timeoutMs: 2000,
      intervalMs: 20,
    });
    await node.propose(encodePut({ key: 'k', value: 'v1' }));
    const refused = node.propose(encodePut({ key: 'k', value: 'newer' })).catch((e: unknown) => e);
    node.propose(encodePut({ key: 'k', value: 'v3' })).catch(() => {});
    const failed = await node.failed;
    expect(isRaftError(failed, 'unsupported_format')).toBe(true);
    expect(failed.message).toMatch(
      /^cannot apply committed entry \d+: entry of format 2; this reads format 1$/,
    );
    expect(isRaftError(await refused, 'stopped')).toBe(true);
    expect(sm.map.get('k')).toBe('v1');
  });
});

describe('RaftNode cluster on loopback', () => {
  it('replicates, redirects, fails over, catches up from a snapshot, changes membership and transfers leadership', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const peers = await Promise.all(ids.map(async (id) => ({ id, addr: `127.0.0.1:${await freePort()}` })));
    const dirs = await Promise.all(ids.map(() => tempDir()));
    const sms = ids.map(() => new KvStateMachine());
    const opts = { snapshotEvery: 20, snapshotCatchUpEntries: 5 };
    const nodes = await Promise.all(ids.map((id, i) => startNode(id, dirs[i]!, peers, sms[i]!, opts)));
    const leaderOf = (list: RaftNode[]) => list.find((n) => n.status().role === 'leader');
    let leader = await waitFor(() => leaderOf(nodes), { what: 'a leader', intervalMs: 20 });
    await leader.propose(encodePut({ key: 'a', value: '1' }));
    await waitFor(() => sms.every((s) => s.map.get('a') === '1'), { what: 'replication', intervalMs: 20 });

    const follower = nodes.find((n) => n !== leader)!;
    const err = await follower.propose(encodePut({ key: 'a', value: '2' })).catch((e: unknown) => e);
    expect(isRaftError(err, 'not_leader')).toBe(true);
    expect((err as { leaderAddr?: string }).leaderAddr).toBe(
      peers.find((p) => p.id === leader.status().id)!.addr,
    );

    // Fail over: stop the leader, the others elect a new one and keep accepting writes.
    const downIdx = nodes.indexOf(leader);
    await leader.stop();
    const rest = nodes.filter((n) => n !== leader);
    leader = await waitFor(() => leaderOf(rest), { what: 'a new leader', intervalMs: 20 });
    for (let i = 0; i < 60; i++) await leader.propose(encodePut({ key: `k${i}`, value: `${i}` }));

    // The old leader comes back behind a compacted log and catches up from a snapshot.
    const smBack = new KvStateMachine();
    const back = await startNode(ids[downIdx]!, dirs[downIdx]!, peers, smBack, opts);
    nodes[downIdx] = back;
    await waitFor(() => smBack.map.get('k59') === '59', { what: 'catch-up', intervalMs: 20 });
    expect(smBack.restores).toBeGreaterThanOrEqual(1);

    // Membership: a fourth node joins as a learner, is promoted, then removed.
    const joinerAddr = `127.0.0.1:${await freePort()}`;
    const smJ = new KvStateMachine();
    const joiner = await startNode('n4', await tempDir(), peers, smJ, { ...opts, listenAddr: joinerAddr });
    await leader.addMember('n4', joinerAddr);
    expect(leader.status().members.find((m) => m.id === 'n4')).toEqual({
      id: 'n4',
      addr: joinerAddr,
      role: 'voter',
    });
    await waitFor(() => smJ.map.get('k59') === '59', { what: 'joiner caught up', intervalMs: 20 });
    await leader.removeMember('n4');
    expect(
      leader
        .status()
        .members.map((m) => m.id)
        .sort(),
    ).toEqual(['n1', 'n2', 'n3']);
    await joiner.stop();

    // Graceful hand-over.
    const changes: string[] = [];
    leader.onLeaderChange((id) => changes.push(id));
    const target = nodes.find((n) => n !== leader && n.status().role === 'follower')!;
    await leader.transferLeadership(target.status().id);
    await waitFor(() => target.status().role === 'leader', { what: 'transfer', intervalMs: 20 });
    const targetId = target.status().id;
    await waitFor(() => changes.includes(targetId), {
      what: 'the old leader to hear of the new one',
      intervalMs: 20,
    });
    await target.propose(encodePut({ key: 'after', value: 'transfer' }));
    await target.readBarrier();
    await waitFor(
      () => [...sms.filter((_, i) => i !== downIdx), smBack].every((s) => s.map.get('after') === 'transfer'),
      { what: 'all apply', intervalMs: 20 },
    );
  });
});

describe('RaftNode learners', () => {
  it('with promoteLearners, a learner the old leader did not promote (it stopped first) is made a voter by the next leader', async () => {
    const ids = ['p1', 'p2', 'p3'];
    const peers = await Promise.all(ids.map(async (id) => ({ id, addr: `127.0.0.1:${await freePort()}` })));
    const dirs = await Promise.all(ids.map(() => tempDir()));
    const opts = { promoteLearners: true };
    const nodes = await Promise.all(
      ids.map((id, i) => startNode(id, dirs[i]!, peers, new KvStateMachine(), opts)),
    );
    const leaderOf = (list: RaftNode[]) => list.find((n) => n.status().role === 'leader');
    const first = await waitFor(() => leaderOf(nodes), { what: 'a leader', intervalMs: 20 });
    for (let i = 0; i < 20; i++) await first.propose(encodePut({ key: `k${i}`, value: `${i}` }));

    // The learner is added while its raft is not running yet (a promoted node still
    // switching roles), so it cannot catch up before the leader goes away.
    const learnerAddr = `127.0.0.1:${await freePort()}`;
    await first.addLearner('p4', learnerAddr);
    await first.stop();
    const rest = nodes.filter((n) => n !== first);
    const next = await waitFor(() => leaderOf(rest), { what: 'a new leader', intervalMs: 20 });

    const sm = new KvStateMachine();
    await startNode('p4', await tempDir(), peers, sm, { ...opts, listenAddr: learnerAddr });
    await waitFor(() => sm.map.get('k19') === '19', { what: 'the learner caught up', intervalMs: 20 });
    await waitFor(() => next.status().members.find((m) => m.id === 'p4')?.role === 'voter', {
      what: 'the new leader to make the learner a voter',
      timeoutMs: 10_000,
      intervalMs: 20,
    });
  });
});
