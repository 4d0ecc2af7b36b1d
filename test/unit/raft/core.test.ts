import { describe, expect, it } from 'vitest';
import { RaftCore } from '../../../manager/raft/core.js';
import { isRaftError } from '../../../manager/raft/errors.js';
import { seededRandom } from '../../../manager/raft/prng.js';
import type { Entry, Message, PersistentState } from '../../../manager/raft/types.js';
import { dec, enc, Net } from './sim/net.js';

const ids3 = ['a', 'b', 'c'];

function stateWithLog(ids: string[], terms: number[], term: number): PersistentState {
  const boot = RaftCore.bootstrapState(ids.map((id) => ({ id })));
  const entries: Entry[] = [...boot.entries];
  for (const t of terms)
    entries.push({ index: entries.length + 1, term: t, type: 'normal', data: enc(`t${t}`) });
  return { hardState: { term, vote: '', commit: boot.entries.length }, snapshot: boot.snapshot, entries };
}

describe('RaftCore election (§5.2)', () => {
  it('a single voter elects itself on its first election timeout', () => {
    const core = new RaftCore({
      id: 'a',
      state: RaftCore.bootstrapState([{ id: 'a' }]),
      random: seededRandom(1),
    });
    const rd = core.ready();
    core.advance(rd);
    for (let i = 0; i < 20 && core.role !== 'leader'; i++) core.tick();
    expect(core.role).toBe('leader');
    expect(core.term).toBe(2);
  });

  it('elects exactly one leader, and everyone follows it', () => {
    const net = new Net(ids3);
    net.elect('a');
    expect(net.leaders()).toEqual(['a']);
    expect(net.core('b').lead).toBe('a');
    expect(net.core('c').lead).toBe('a');
    expect(net.core('b').term).toBe(net.core('a').term);
  });

  it('grants at most one vote per term', () => {
    const net = new Net(ids3);
    const c = net.core('c');
    c.step({ type: 'vote', from: 'a', to: 'c', term: 5, index: 3, logTerm: 1 });
    c.step({ type: 'vote', from: 'b', to: 'c', term: 5, index: 3, logTerm: 1 });
    net.flushReady();
    const resps = net.queue.filter((m) => m.type === 'voteResp');
    expect(resps.map((m) => [m.to, m.reject])).toEqual([
      ['a', false],
      ['b', true],
    ]);
    expect(c.vote).toBe('a');
  });

  it('refuses a candidate whose log is less up to date (§5.4.1)', () => {
    const states = {
      a: stateWithLog(ids3, [2, 2], 2),
      b: stateWithLog(ids3, [2], 2),
      c: stateWithLog(ids3, [2, 2], 2),
    };
    const net = new Net(ids3, { states });
    net.elect('b');
    expect(net.core('b').role).not.toBe('leader');
    net.elect('a');
    expect(net.leaders()).toEqual(['a']);
  });

  it('a leader that sees a higher term steps down', () => {
    const net = new Net(ids3);
    net.elect('a');
    const a = net.core('a');
    a.step({ type: 'appResp', from: 'b', to: 'a', term: a.term + 3, index: 0 });
    expect(a.role).toBe('follower');
    expect(a.term).toBe(net.core('b').term + 3);
  });

  it('pre-vote: a partitioned node does not inflate its term or disrupt the leader when it returns', () => {
    const net = new Net(ids3);
    net.elect('a');
    const term = net.core('a').term;
    net.down.add('c');
    for (let i = 0; i < 100; i++) net.core('c').tick();
    net.queue = [];
    expect(net.core('c').term).toBe(term);
    net.down.delete('c');
    net.tick('a');
    net.settle();
    expect(net.leaders()).toEqual(['a']);
    expect(net.core('a').term).toBe(term);
  });

  it('check-quorum: a leader cut off from its quorum steps down within an election timeout', () => {
    const net = new Net(ids3);
    net.elect('a');
    net.down.add('b');
    net.down.add('c');
    for (let i = 0; i < 25; i++) {
      net.tick('a');
      net.settle();
    }
    expect(net.core('a').role).toBe('follower');
  });

  it('followers ignore vote requests while they hear from a live leader (leader lease)', () => {
    const net = new Net(ids3);
    net.elect('a');
    const b = net.core('b');
    b.step({ type: 'vote', from: 'c', to: 'b', term: b.term + 1, index: 100, logTerm: 100 });
    expect(b.term).toBe(net.core('a').term);
    expect(b.lead).toBe('a');
  });
});

describe('RaftCore log replication (§5.3)', () => {
  it('commits a proposal once a majority stores it and applies it everywhere', () => {
    const net = new Net(ids3);
    net.elect('a');
    const { index } = net.core('a').propose(enc('x=1'));
    net.settle();
    for (const id of ids3) {
      expect(net.core(id).commit).toBeGreaterThanOrEqual(index);
      expect(net.applied.get(id)!.some((e) => e.index === index && dec(e.data) === 'x=1')).toBe(true);
    }
  });

  it('hands out committed entries in slices bounded by bytes, at least one entry each', () => {
    const state = stateWithLog(ids3, [2, 2, 2, 2, 2, 2, 2], 2);
    state.hardState.commit = state.entries.length;
    const cap = 2 * enc('t2').length;
    const core = new RaftCore({ id: 'b', state, random: seededRandom(3), maxCommittedBytesPerReady: cap });
    const slices: Entry[][] = [];
    for (let i = 0; i < 50 && core.hasReady(); i++) {
      const rd = core.ready();
      if (rd.committedEntries.length > 0) slices.push(rd.committedEntries);
      core.advance(rd);
    }
    expect(slices.flat().map((e) => e.index)).toEqual(state.entries.map((e) => e.index));
    for (const s of slices) {
      const bytes = s.reduce((n, e) => n + e.data.length, 0);
      expect(s.length === 1 || bytes <= cap).toBe(true);
    }
    expect(slices.length).toBeGreaterThanOrEqual(4);
  });

  it('does not commit without a majority', () => {
    const net = new Net(ids3);
    net.elect('a');
    net.down.add('b');
    net.down.add('c');
    const { index } = net.core('a').propose(enc('lonely'));
    net.settle();
    expect(net.core('a').commit).toBeLessThan(index);
  });

  it('a follower proposal is refused with the leader named', () => {
    const net = new Net(ids3);
    net.elect('a');
    try {
      net.core('b').propose(enc('x'));
      expect.unreachable();
    } catch (e) {
      expect(isRaftError(e, 'not_leader')).toBe(true);
      expect((e as { leaderId?: string }).leaderId).toBe('a');
    }
  });

  it('log matching: a follower discards a conflicting tail and takes the leader’s entries', () => {
    const states = {
      a: stateWithLog(ids3, [2, 3], 3),
      b: stateWithLog(ids3, [2, 3], 3),
      c: stateWithLog(ids3, [2, 2, 2, 2], 3),
    };
    const net = new Net(ids3, { states });
    net.elect('a');
    net.settle();
    const a = net.core('a');
    const c = net.core('c');
    expect(c.lastIndex()).toBe(a.lastIndex());
    for (let i = 1; i <= a.lastIndex(); i++) expect(c.termAt(i)).toBe(a.termAt(i));
  });

  it('fast backtracking: a long conflicting tail is resolved in a couple of round trips', () => {
    const long = Array.from({ length: 200 }, () => 2);
    const states = {
      a: stateWithLog(ids3, [2, 4], 4),
      b: stateWithLog(ids3, [2, 4], 4),
      c: stateWithLog(ids3, [2, ...long.map(() => 3)], 4),
    };
    const net = new Net(ids3, { states });
    let rejects = 0;
    net.elect('a');
    net.settle((m) => {
      if (m.type === 'appResp' && m.reject && m.from === 'c') rejects++;
      return m;
    });
    expect(net.core('c').lastIndex()).toBe(net.core('a').lastIndex());
    expect(rejects).toBeLessThanOrEqual(2);
  });

  it('pipelines: a replicating follower gets several appends in flight before any ack', () => {
    const net = new Net(ids3, { maxEntriesPerMsg: 1 });
    net.elect('a');
    const a = net.core('a');
    for (let i = 0; i < 5; i++) a.propose(enc(`p${i}`));
    net.flushReady();
    const toB = net.queue.filter((m) => m.type === 'app' && m.to === 'b' && (m.entries?.length ?? 0) > 0);
    expect(toB.length).toBe(5);
  });

  it('flow control: no more than maxInflight appends are outstanding per follower', () => {
    const net = new Net(ids3, { maxEntriesPerMsg: 1, maxInflight: 3 });
    net.elect('a');
    const a = net.core('a');
    for (let i = 0; i < 10; i++) a.propose(enc(`p${i}`));
    net.flushReady();
    const toB = net.queue.filter((m) => m.type === 'app' && m.to === 'b' && (m.entries?.length ?? 0) > 0);
    expect(toB.length).toBe(3);
    net.settle();
    expect(net.core('b').lastIndex()).toBe(a.lastIndex());
  });

  it('a follower whose acks lag behind its disk is not sent its entries again; one whose acks were lost is asked for one', () => {
    const net = new Net(ids3, { maxEntriesPerMsg: 1 });
    net.elect('a');
    const a = net.core('a');
    for (let i = 0; i < 5; i++) a.propose(enc(`p${i}`));
    // b receives every append but its acks wait for its disk (held here).
    const held: Message[] = [];
    const hold = (m: Message) => {
      if (m.from === 'b' && m.type === 'appResp') {
        held.push(m);
        return null;
      }
      return m;
    };
    net.settle(hold);
    expect(net.core('b').lastIndex()).toBe(a.lastIndex());
    const sentToB: Message[] = [];
    for (let i = 0; i < 4; i++) {
      net.tick('a');
      net.settle((m) => {
        if (m.to === 'b' && m.type === 'app') sentToB.push(m);
        return hold(m);
      });
    }
    // Only empty appends asking for an ack: no entry went to b twice, and b stays replicating.
    expect(sentToB.flatMap((m) => m.entries ?? [])).toEqual([]);
    expect(sentToB.length).toBeGreaterThan(0);
    expect(a.progressOf('b')?.state).toBe('replicate');
    // The acks were lost for good: the empty append's answer brings b's match up.
    net.tick('a', 2);
    net.settle();
    expect(a.progressOf('b')?.match).toBe(a.lastIndex());
  });

  it('hands out a leader’s heartbeats and a follower’s heartbeat responses ahead of the Ready (takeMessages)', () => {
    const net = new Net(ids3);
    net.elect('a');
    const a = net.core('a');
    a.tick();
    const beats = a.takeMessages(new Set(['heartbeat', 'app']));
    expect(beats.map((m) => `${m.type}>${m.to}`).sort()).toEqual(['heartbeat>b', 'heartbeat>c']);
    expect(a.hasReady()).toBe(false);
    const b = net.core('b');
    b.step(beats.find((m) => m.to === 'b')!);
    const [resp, ...rest] = b.takeMessages(new Set(['heartbeatResp']));
    expect(rest).toEqual([]);
    expect(resp).toMatchObject({ type: 'heartbeatResp', to: 'a', index: b.lastIndex() });
  });

  it('Figure 8: an entry of an older term is not committed by counting replicas, only through a current-term entry', () => {
    const ids5 = ['s1', 's2', 's3', 's4', 's5'];
    // s1 led term 2 and put index 6 on s1, s2; s5 led term 3 with its own index 6; now s1 leads term 4.
    const states = {
      s1: stateWithLog(ids5, [2], 3),
      s2: stateWithLog(ids5, [2], 3),
      s3: stateWithLog(ids5, [], 3),
      s4: stateWithLog(ids5, [], 3),
      s5: stateWithLog(ids5, [3], 3),
    };
    const net = new Net(ids5, { states });
    net.down.add('s4');
    net.down.add('s5');
    const s1 = net.core('s1');
    // Replicate only the old entry (index 6, term 2) to s3: strip s1's term-4 no-op from appends.
    s1.campaignNow();
    net.settle((m) =>
      m.type === 'app' ? { ...m, entries: (m.entries ?? []).filter((e) => e.term !== s1.term) } : m,
    );
    expect(s1.role).toBe('leader');
    expect(s1.term).toBe(4);
    expect(net.core('s3').termAt(6)).toBe(2);
    // Index 6 is on a majority (s1, s2, s3) but is from term 2: not committed.
    expect(s1.commit).toBe(5);
    // Once the term-4 entry reaches a majority (resent after heartbeats expose the gap), both commit.
    for (let i = 0; i < 3; i++) {
      net.tick('s1');
      net.settle();
    }
    expect(s1.commit).toBe(7);
    expect(s1.termAt(7)).toBe(4);
  });
});

describe('RaftCore ReadIndex', () => {
  it('releases a read only after a quorum confirms leadership, at the commit index', () => {
    const net = new Net(ids3);
    net.elect('a');
    const a = net.core('a');
    a.readIndex('r1');
    net.flushReady();
    expect(net.reads.get('a')).toEqual([]);
    net.settle();
    expect(net.reads.get('a')).toEqual([{ index: a.commit, context: 'r1' }]);
  });

  it('a leader cut off from the quorum never answers a read', () => {
    const net = new Net(ids3);
    net.elect('a');
    net.down.add('b');
    net.down.add('c');
    net.core('a').readIndex('r1');
    net.settle();
    expect(net.reads.get('a')).toEqual([]);
  });

  it('a follower read is forwarded to the leader and answered with its index', () => {
    const net = new Net(ids3);
    net.elect('a');
    net.core('b').readIndex('rb');
    net.settle();
    expect(net.reads.get('b')).toEqual([{ index: net.core('a').commit, context: 'rb' }]);
  });
});

describe('RaftCore membership and leadership transfer', () => {
  function withJoiner(): Net {
    const net = new Net(['a', 'b', 'c', 'd'], {
      states: Object.fromEntries(
        ['a', 'b', 'c']
          .map((id) => [id, RaftCore.bootstrapState(ids3.map((x) => ({ id: x })))] as const)
          .concat([['d', RaftCore.emptyState()]]),
      ),
    });
    net.elect('a');
    return net;
  }

  it('adds a learner that receives the log but does not count toward the quorum, then promotes it', () => {
    const net = withJoiner();
    const a = net.core('a');
    a.proposeConfChange({ type: 'addLearner', id: 'd', addr: 'd:1' });
    net.settle();
    expect(a.confState().learners).toEqual(['d']);
    expect(net.core('d').lastIndex()).toBe(a.lastIndex());
    expect(net.core('d').confState().addrs.d).toBe('d:1');
    a.proposeConfChange({ type: 'promote', id: 'd' });
    net.settle();
    expect(a.confState().voters).toEqual(['a', 'b', 'c', 'd']);
    // With four voters, a write needs three acks: a and d alone cannot commit.
    net.down.add('b');
    net.down.add('c');
    const { index } = a.propose(enc('w'));
    net.settle();
    expect(a.commit).toBeLessThan(index);
  });

  it('a learner whose first appends were lost is found again by heartbeat probes', () => {
    const net = withJoiner();
    const a = net.core('a');
    a.proposeConfChange({ type: 'addLearner', id: 'd' });
    net.settle((m) => (m.to === 'd' && m.type === 'app' ? null : m));
    expect(net.core('d').lastIndex()).toBe(0);
    for (let i = 0; i < 3; i++) {
      net.tick('a');
      net.settle();
    }
    expect(net.core('d').lastIndex()).toBe(a.lastIndex());
  });

  it('a learner that comes back with an empty log under the same ID is caught up again', () => {
    const net = withJoiner();
    const a = net.core('a');
    a.proposeConfChange({ type: 'addLearner', id: 'd' });
    net.settle();
    for (let i = 0; i < 5; i++) a.propose(enc(`w${i}`));
    net.settle();
    expect(a.progressOf('d')?.match).toBe(a.lastIndex());
    // Its state directory wiped (a retried start after a promotion), it restarts empty.
    net.cores.set('d', new RaftCore({ id: 'd', state: RaftCore.emptyState(), random: seededRandom(9) }));
    for (let i = 0; i < 3; i++) {
      a.propose(enc(`after${i}`));
      net.settle();
      net.tick('a');
      net.settle();
    }
    expect(net.core('d').lastIndex()).toBe(a.lastIndex());
    expect(a.progressOf('d')?.match).toBe(a.lastIndex());
  });

  it('refuses a second membership change while one is pending, and nonsense changes', () => {
    const net = withJoiner();
    const a = net.core('a');
    a.proposeConfChange({ type: 'addLearner', id: 'd' });
    expect(() => a.proposeConfChange({ type: 'remove', id: 'c' })).toThrow(/already in progress/);
    net.settle();
    expect(() => a.proposeConfChange({ type: 'promote', id: 'b' })).toThrow(/not a learner/);
    expect(() => a.proposeConfChange({ type: 'addVoter', id: 'b' })).toThrow(/already a voter/);
  });

  it('a removed leader steps down and the rest elect a new one', () => {
    const net = new Net(ids3);
    net.elect('a');
    net.core('a').proposeConfChange({ type: 'remove', id: 'a' });
    net.settle();
    expect(net.core('a').role).toBe('follower');
    expect(net.core('b').confState().voters).toEqual(['b', 'c']);
    // b and c wait out the old leader's lease, then elect one of themselves.
    for (let i = 0; i < 40 && net.leaders().length === 0; i++) {
      net.tick('b');
      net.tick('c');
      net.settle();
    }
    expect(net.leaders().filter((id) => id !== 'a')).toHaveLength(1);
  });

  it('transfers leadership to a caught-up follower, which wins at once', () => {
    const net = new Net(ids3);
    net.elect('a');
    const term = net.core('a').term;
    net.core('a').transferLeadership('c');
    net.settle();
    expect(net.leaders()).toEqual(['c']);
    expect(net.core('c').term).toBe(term + 1);
  });

  it('a transfer target with an unapplied membership change campaigns as soon as it is applied', () => {
    const conf = { voters: ['a', 'b', 'c'], learners: [], addrs: {} };
    const c = new RaftCore({
      id: 'c',
      state: {
        hardState: { term: 1, vote: '', commit: 4 },
        snapshot: { meta: { index: 3, term: 1, conf }, data: new Uint8Array() },
        entries: [{ index: 4, term: 1, type: 'conf', data: enc('{"type":"addLearner","id":"d"}') }],
      },
      random: seededRandom(1),
    });
    c.step({ type: 'timeoutNow', from: 'a', to: 'c', term: 1 });
    expect(c.role).toBe('follower');
    c.advance(c.ready());
    expect(c.role).toBe('candidate');
    expect(c.term).toBe(2);
    const votes = c.ready().messages.filter((m) => m.type === 'vote');
    expect(votes.map((m) => [m.to, m.context])).toEqual([
      ['a', 'transfer'],
      ['b', 'transfer'],
    ]);
  });

  it('refuses proposals while a transfer is in progress', () => {
    const net = new Net(ids3);
    net.elect('a');
    net.down.add('c');
    net.core('a').propose(enc('x'));
    net.settle();
    net.core('a').transferLeadership('c');
    expect(() => net.core('a').propose(enc('y'))).toThrow(/being transferred/);
  });
});

describe('RaftCore snapshots and compaction', () => {
  it('a follower behind the compacted log is sent the snapshot and continues from it', () => {
    const net = new Net(ids3);
    net.elect('a');
    net.down.add('c');
    const a = net.core('a');
    for (let i = 0; i < 20; i++) a.propose(enc(`w${i}`));
    net.settle();
    const snap = a.compact(a.applied, enc('app-state'));
    expect(a.firstIndex()).toBe(snap.meta.index + 1);
    net.down.delete('c');
    const snaps: Message[] = [];
    // Appends sent while c was down were lost: heartbeats reveal the stall and replication restarts.
    for (let i = 0; i < 3; i++) {
      net.tick('a');
      net.settle((m) => {
        if (m.type === 'snap') snaps.push(m);
        return m;
      });
    }
    expect(snaps).toHaveLength(1);
    const c = net.core('c');
    expect(c.latestSnapshot().meta.index).toBe(snap.meta.index);
    expect(dec(c.latestSnapshot().data)).toBe('app-state');
    const { index } = a.propose(enc('after'));
    net.settle();
    expect(c.commit).toBe(index);
    expect(net.applied.get('c')!.at(-1)?.index).toBe(index);
  });

  it('refuses to compact at an index other than the applied one', () => {
    const net = new Net(ids3);
    net.elect('a');
    expect(() => net.core('a').compact(1, enc('x'))).toThrow(/applied index/);
  });
});

describe('RaftCore restart', () => {
  it('restarts from persisted state with term, vote and log intact', () => {
    const net = new Net(ids3);
    net.elect('a');
    const a = net.core('a');
    a.propose(enc('durable'));
    net.settle();
    const entries = a.slice(a.firstIndex(), a.lastIndex());
    const restarted = new RaftCore({
      id: 'a',
      state: { hardState: a.hardState(), snapshot: a.latestSnapshot(), entries },
      random: seededRandom(9),
    });
    expect(restarted.term).toBe(a.term);
    expect(restarted.vote).toBe('a');
    expect(restarted.role).toBe('follower');
    const rd = restarted.ready();
    expect(rd.committedEntries.map((e) => dec(e.data))).toContain('durable');
  });

  it('rejects a state whose log has a gap', () => {
    const s = stateWithLog(ids3, [1, 1], 1);
    s.entries.splice(3, 1);
    expect(() => new RaftCore({ id: 'a', state: s, random: seededRandom(1) })).toThrow(/not contiguous/);
  });
});
