// The consensus state machine, shaped like etcd's raft: no clock, no disk, no network.
// The driver feeds it ticks and messages and collects a Ready batch of work to do.

import {
  applyConfChangeTo,
  cloneConf,
  confChangeProblem,
  decodeConfChange,
  encodeConfChange,
} from './conf.js';
import { RaftError } from './errors.js';
import { Progress } from './progress.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  PersistentState,
  ReadState,
  Ready,
  Role,
  Snapshot,
} from './types.js';

export interface RaftCoreOptions {
  id: string;
  /** From disk, or RaftCore.bootstrapState(voters) for a new cluster, or emptyState() to join one. */
  state: PersistentState;
  /** Uniform in [0,1); seeded in tests so runs are reproducible. */
  random: () => number;
  electionTicks?: number;
  heartbeatTicks?: number;
  /** Pipelining: appends in flight per follower. */
  maxInflight?: number;
  maxEntriesPerMsg?: number;
  maxBytesPerMsg?: number;
  maxCommittedPerReady?: number;
  /**
   * Bytes of committed entries one Ready hands out to apply (at least one entry), as etcd's
   * MaxCommittedSizePerReady: a follower catching up on a burst answers the leader between
   * slices instead of going silent for the whole apply (and being voted out by check-quorum).
   */
  maxCommittedBytesPerReady?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
}

interface PendingRead {
  context: string;
  index: number;
  from: string;
  acks: Set<string>;
}

const EMPTY = new Uint8Array(0);

export class RaftCore {
  readonly id: string;
  term = 0;
  vote = '';
  commit = 0;
  applied = 0;
  lead = '';
  role: Role = 'follower';

  // Log: entries after prevIndex; prevIndex <= snapshot index <= applied.
  private ents: Entry[] = [];
  private prevIndex: number;
  private prevTerm: number;
  /** Highest index handed to storage and acknowledged by advance(). */
  private stableIndex: number;
  private snapshot: Snapshot;
  private pendingSnapshot: Snapshot | null = null;

  private conf: ConfState;
  private progress = new Map<string, Progress>();
  private votes = new Map<string, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private pendingConfIndex = 0;
  private leadTransferee = '';
  private campaignAfterApply = false;
  /** New entries or a new commit index to broadcast: coalesced into one append per follower per Ready. */
  private needBcast = false;
  private pendingReads: PendingRead[] = [];
  private readsBeforeCommit: { context: string; from: string }[] = [];

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevHard: HardState;

  private readonly random: () => number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  private readonly leaseTicks: number;
  private readonly maxInflight: number;
  private readonly maxEntriesPerMsg: number;
  private readonly maxBytesPerMsg: number;
  private readonly maxCommittedPerReady: number;
  private readonly maxCommittedBytesPerReady: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;

  /**
   * A new cluster's first log: one membership entry per initial voter at term 1, committed,
   * so that nodes joining later learn the whole configuration history from the log.
   */
  static bootstrapState(voters: { id: string; addr?: string }[]): PersistentState {
    const entries: Entry[] = voters.map((v, i) => {
      const cc: ConfChange = { type: 'addVoter', id: v.id };
      if (v.addr) cc.addr = v.addr;
      return { index: i + 1, term: 1, type: 'conf', data: encodeConfChange(cc) };
    });
    return {
      hardState: { term: entries.length ? 1 : 0, vote: '', commit: entries.length },
      snapshot: { meta: { index: 0, term: 0, conf: { voters: [], learners: [], addrs: {} } }, data: EMPTY },
      entries,
    };
  }

  static emptyState(): PersistentState {
    return RaftCore.bootstrapState([]);
  }

  constructor(opts: RaftCoreOptions) {
    this.id = opts.id;
    this.random = opts.random;
    this.electionTicks = opts.electionTicks ?? 10;
    this.heartbeatTicks = opts.heartbeatTicks ?? 1;
    this.maxInflight = opts.maxInflight ?? 256;
    this.maxEntriesPerMsg = opts.maxEntriesPerMsg ?? 512;
    this.maxBytesPerMsg = opts.maxBytesPerMsg ?? 1 << 20;
    this.maxCommittedPerReady = opts.maxCommittedPerReady ?? 4096;
    this.maxCommittedBytesPerReady = opts.maxCommittedBytesPerReady ?? this.maxBytesPerMsg;
    this.leaseTicks = Math.max(
      this.heartbeatTicks + 1,
      this.electionTicks - Math.max(1, Math.floor(this.electionTicks / 5)),
    );
    this.preVote = opts.preVote ?? true;
    this.checkQuorum = opts.checkQuorum ?? true;
    if (this.heartbeatTicks < 1 || this.electionTicks <= this.heartbeatTicks) {
      throw new RaftError(
        'invalid_argument',
        'electionTicks must be greater than heartbeatTicks, which must be >= 1',
      );
    }

    const { hardState, snapshot, entries } = opts.state;
    this.snapshot = snapshot;
    this.prevIndex = snapshot.meta.index;
    this.prevTerm = snapshot.meta.term;
    let expect = this.prevIndex + 1;
    for (const e of entries) {
      if (e.index !== expect) {
        throw new RaftError(
          'invalid_argument',
          `log entries are not contiguous after the snapshot: expected ${expect}, got ${e.index}`,
        );
      }
      expect++;
    }
    this.ents = entries.slice();
    this.stableIndex = this.lastIndex();
    this.conf = cloneConf(snapshot.meta.conf);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.commit = Math.max(hardState.commit, snapshot.meta.index);
    if (this.commit > this.lastIndex()) {
      throw new RaftError(
        'invalid_argument',
        `commit index ${this.commit} is beyond the last log index ${this.lastIndex()}`,
      );
    }
    this.applied = snapshot.meta.index;
    this.prevHard = { term: this.term, vote: this.vote, commit: this.commit };
    this.becomeFollower(this.term, '');
  }

  // ---------------------------------------------------------------- log access

  lastIndex(): number {
    return this.prevIndex + this.ents.length;
  }

  firstIndex(): number {
    return this.prevIndex + 1;
  }

  lastTerm(): number {
    return this.ents.length ? this.ents[this.ents.length - 1]!.term : this.prevTerm;
  }

  /** Term of the entry at i, or -1 when compacted or beyond the log. */
  termAt(i: number): number {
    if (i === this.prevIndex) return this.prevTerm;
    if (i < this.prevIndex || i > this.lastIndex()) return -1;
    return this.ents[i - this.prevIndex - 1]!.term;
  }

  entryAt(i: number): Entry | undefined {
    return this.ents[i - this.prevIndex - 1];
  }

  /** Entries in [lo, hi] (inclusive), which must be in memory. */
  slice(lo: number, hi: number): Entry[] {
    return this.ents.slice(lo - this.prevIndex - 1, hi - this.prevIndex);
  }

  /** Highest log index the driver has persisted (acknowledged through advance()). */
  persistedIndex(): number {
    return this.stableIndex;
  }

  confState(): ConfState {
    return cloneConf(this.conf);
  }

  latestSnapshot(): Snapshot {
    return this.snapshot;
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.commit };
  }

  isVoter(id = this.id): boolean {
    return this.conf.voters.includes(id);
  }

  progressOf(id: string): { match: number; next: number; state: string } | undefined {
    const p = this.progress.get(id);
    return p && { match: p.match, next: p.next, state: p.state };
  }

  transferee(): string {
    return this.leadTransferee;
  }

  // ---------------------------------------------------------------- client surface

  /** Appends a proposal at the leader; the driver waits for it to be applied. */
  propose(data: Uint8Array): { index: number; term: number } {
    this.assertLeader();
    const e = this.appendEntry('normal', data);
    this.needBcast = true;
    return { index: e.index, term: e.term };
  }

  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    this.assertLeader();
    if (this.pendingConfIndex > this.applied) {
      throw new RaftError(
        'conf_pending',
        'a membership change is already in progress; retry when it has been applied',
      );
    }
    if (this.termAt(this.commit) !== this.term) {
      throw new RaftError(
        'conf_pending',
        'the new leader has not committed an entry in its term yet; retry shortly',
      );
    }
    const problem = confChangeProblem(this.conf, cc);
    if (problem) throw new RaftError('invalid_argument', `membership change refused: ${problem}`);
    const e = this.appendEntry('conf', encodeConfChange(cc));
    this.pendingConfIndex = e.index;
    this.needBcast = true;
    return { index: e.index, term: e.term };
  }

  /** Asks for a linearizable read point; a ReadState with this context appears in a later Ready. */
  readIndex(context: string): void {
    if (this.role === 'leader') {
      this.leaderReadIndex(context, this.id);
      return;
    }
    if (!this.lead) throw new RaftError('not_leader', 'no leader is known yet; retry shortly');
    this.send({ type: 'readIndex', to: this.lead, term: 0, context });
  }

  /** Hands leadership to `to`; a transfer already under way to someone else is replaced. */
  transferLeadership(to: string): void {
    if (this.role !== 'leader') this.assertLeader();
    if (to === this.id) return;
    if (!this.conf.voters.includes(to)) {
      throw new RaftError('invalid_argument', `cannot transfer leadership to ${to}: it is not a voter`);
    }
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.lastIndex()) this.send({ type: 'timeoutNow', to, term: this.term });
    else this.sendAppend(to, true);
  }

  /** Starts an election now (tests; a driver normally just ticks). */
  campaignNow(): void {
    this.hup(false);
  }

  /**
   * Records an application snapshot at `index` (== applied) and drops log entries before
   * index - keepEntries. Returns the snapshot to persist. A snapshot the application
   * serialised while applying went on may be of an earlier applied index: then `conf` is
   * the configuration as of that index (confState() when it was captured).
   */
  compact(index: number, data: Uint8Array, keepEntries = 0, conf?: ConfState): Snapshot {
    if (conf ? index > this.applied : index !== this.applied) {
      throw new RaftError(
        'invalid_argument',
        conf
          ? `snapshot index ${index} is past the applied index ${this.applied}`
          : `snapshot index ${index} must equal the applied index ${this.applied}`,
      );
    }
    if (index <= this.snapshot.meta.index) return this.snapshot;
    this.snapshot = { meta: { index, term: this.termAt(index), conf: cloneConf(conf ?? this.conf) }, data };
    const newPrev = Math.min(index - keepEntries, this.stableIndex);
    if (newPrev > this.prevIndex) {
      this.prevTerm = this.termAt(newPrev);
      this.ents = this.ents.slice(newPrev - this.prevIndex);
      this.prevIndex = newPrev;
    }
    return this.snapshot;
  }

  // ---------------------------------------------------------------- clock

  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    // A sole voter has no one to wait for: it campaigns on its first tick.
    const alone = this.conf.voters.length === 1 && this.lead === '';
    if (this.isVoter() && (alone || this.electionElapsed >= this.randomizedElectionTimeout)) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        let active = 0;
        for (const v of this.conf.voters) {
          if (v === this.id || this.progress.get(v)?.recentActive) active++;
        }
        if (active < this.quorum()) {
          this.becomeFollower(this.term, '');
          return;
        }
        for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
      }
      this.leadTransferee = '';
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      const last = this.pendingReads[this.pendingReads.length - 1];
      this.bcastHeartbeat(last ? last.context : '');
    }
  }

  // ---------------------------------------------------------------- input

  step(m: Message): void {
    if (m.type === 'unreachable' || m.type === 'snapStatus') {
      this.stepLocalReport(m);
      return;
    }
    if (m.type === 'readIndex' || m.type === 'readIndexResp') {
      // Term-less: forwarded reads are answered by whoever leads now.
      if (m.type === 'readIndex' && this.role === 'leader') this.leaderReadIndex(m.context ?? '', m.from);
      else if (m.type === 'readIndexResp')
        this.readStates.push({ index: m.index ?? 0, context: m.context ?? '' });
      return;
    }
    if (m.term > this.term) {
      const isVote = m.type === 'vote' || m.type === 'prevote';
      if (isVote) {
        // The lease ends a little before a full election timeout: when the leader dies, the
        // first follower to time out must not find the others (whose clocks lag by up to a
        // tick or two) still inside it, or failover costs a second election timeout.
        const inLease = this.checkQuorum && this.lead !== '' && this.electionElapsed < this.leaseTicks;
        if (inLease && m.context !== 'transfer') return;
      }
      if (m.type === 'prevote' || (m.type === 'prevoteResp' && !m.reject)) {
        // A pre-vote never changes terms; a granted pre-vote response carries the future term.
      } else {
        const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
        this.becomeFollower(m.term, fromLeader ? m.from : '');
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // Tell a stale leader about the newer term so it steps down.
        this.send({ type: 'appResp', to: m.from, term: this.term });
      } else if (m.type === 'prevote') {
        this.send({ type: 'prevoteResp', to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'vote':
      case 'prevote':
        this.stepVoteRequest(m);
        return;
      case 'timeoutNow':
        if (this.role !== 'leader' && this.isVoter()) this.hup(true);
        return;
    }
    if (this.role === 'leader') this.stepLeader(m);
    else if (this.role === 'follower') this.stepFollower(m);
    else this.stepCandidate(m);
  }

  private stepVoteRequest(m: Message): void {
    const respType: MessageType = m.type === 'vote' ? 'voteResp' : 'prevoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === '' && this.lead === '') ||
      (m.type === 'prevote' && m.term > this.term);
    const upToDate =
      (m.logTerm ?? 0) > this.lastTerm() ||
      ((m.logTerm ?? 0) === this.lastTerm() && (m.index ?? 0) >= this.lastIndex());
    if (canVote && upToDate) {
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case 'appResp':
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        return;
      case 'heartbeatResp':
        pr.recentActive = true;
        this.handleHeartbeatResponse(m, pr);
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.stepFollower(m);
        return;
      case 'prevoteResp':
      case 'voteResp': {
        if ((m.type === 'prevoteResp') !== (this.role === 'precandidate')) return;
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === 'precandidate') this.campaign('election', false);
          else this.becomeLeader();
        } else if (result === 'lost') {
          this.becomeFollower(this.term, '');
        }
        return;
      }
      default:
        return;
    }
  }

  private stepLocalReport(m: Message): void {
    if (this.role !== 'leader') return;
    const pr = this.progress.get(m.from);
    if (!pr) return;
    if (m.type === 'unreachable') {
      if (pr.state === 'replicate') pr.becomeProbe();
      return;
    }
    if (pr.state !== 'snapshot') return;
    if (m.reject) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for a heartbeat response before probing again: the follower may still be restoring.
    pr.paused = true;
  }

  // ---------------------------------------------------------------- follower handlers

  private handleAppend(m: Message): void {
    const index = m.index ?? 0;
    if (index < this.commit) {
      this.send({ type: 'appResp', to: m.from, term: this.term, index: this.commit });
      return;
    }
    const entries = m.entries ?? [];
    if (this.termAt(index) === (m.logTerm ?? 0)) {
      const lastNew = index + entries.length;
      for (let k = 0; k < entries.length; k++) {
        const e = entries[k]!;
        if (e.index > this.lastIndex()) {
          this.appendFollower(entries, k);
          break;
        }
        if (this.termAt(e.index) !== e.term) {
          if (e.index <= this.commit) {
            throw new RaftError(
              'invalid_argument',
              `leader ${m.from} tried to overwrite committed entry ${e.index}`,
            );
          }
          this.truncateFrom(e.index);
          this.appendFollower(entries, k);
          break;
        }
      }
      this.commitTo(Math.min(m.commit ?? 0, lastNew));
      this.send({ type: 'appResp', to: m.from, term: this.term, index: lastNew });
      return;
    }
    let hint = Math.min(index, this.lastIndex());
    hint = this.findConflictByTerm(hint, m.logTerm ?? 0);
    this.send({
      type: 'appResp',
      to: m.from,
      term: this.term,
      index,
      reject: true,
      hintIndex: hint,
      hintTerm: this.termAt(hint),
    });
  }

  private appendFollower(entries: Entry[], from: number): void {
    for (let k = from; k < entries.length; k++) this.ents.push(entries[k]!);
  }

  private truncateFrom(index: number): void {
    this.ents.length = index - this.prevIndex - 1;
    if (this.stableIndex >= index) this.stableIndex = index - 1;
  }

  /** Largest index <= index whose term is <= term (etcd's conflict hint). */
  private findConflictByTerm(index: number, term: number): number {
    let i = index;
    while (i > this.prevIndex && this.termAt(i) > term) i--;
    return i;
  }

  private handleHeartbeat(m: Message): void {
    this.commitTo(Math.min(m.commit ?? 0, this.lastIndex()));
    const resp: Message = { type: 'heartbeatResp', from: this.id, to: m.from, term: this.term };
    if (m.context) resp.context = m.context;
    // How far this log reaches, persisted or not, when all of it is the leader's (entries of
    // its term came from it): the leader tells appends on their way to the disk from lost ones.
    const last = this.lastIndex();
    if (last > 0 && this.lastTerm() === this.term) resp.index = last;
    this.send(resp);
  }

  /**
   * Takes the messages of these types out of those waiting for the next Ready, for the
   * driver to send while it is still persisting the last one. A leader's heartbeats and
   * appends, and a follower's heartbeat responses, promise nothing about what is on this
   * node's disk; held back behind a slow fsync they would leave the group without a word
   * for that long, and check-quorum would depose a healthy leader. The driver takes a
   * follower's heartbeat responses only while its term and vote are durable.
   */
  takeMessages(types: ReadonlySet<MessageType>): Message[] {
    const out: Message[] = [];
    let kept = 0;
    for (const m of this.msgs) {
      if (types.has(m.type)) out.push(m);
      else this.msgs[kept++] = m;
    }
    this.msgs.length = kept;
    return out;
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (!snap) return;
    const { index, term } = snap.meta;
    if (index <= this.commit) {
      this.send({ type: 'appResp', to: m.from, term: this.term, index: this.commit });
      return;
    }
    if (this.termAt(index) === term) {
      this.commitTo(index);
      this.send({ type: 'appResp', to: m.from, term: this.term, index: this.commit });
      return;
    }
    this.ents = [];
    this.prevIndex = index;
    this.prevTerm = term;
    this.stableIndex = index;
    this.commit = index;
    this.conf = cloneConf(snap.meta.conf);
    this.pendingSnapshot = snap;
    this.snapshot = snap;
    this.send({ type: 'appResp', to: m.from, term: this.term, index });
  }

  private commitTo(n: number): void {
    if (n > this.commit) this.commit = n;
  }

  // ---------------------------------------------------------------- leader handlers

  private handleAppendResponse(m: Message, pr: Progress): void {
    const index = m.index ?? 0;
    if (m.reject) {
      let next = m.hintIndex ?? index;
      if ((m.hintTerm ?? 0) > 0) next = this.findConflictByTerm(next, m.hintTerm ?? 0);
      if (pr.maybeDecrTo(index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused(this.maxInflight);
    if (!pr.maybeUpdate(index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
    else if (pr.state === 'replicate') pr.freeInflightTo(index);

    if (this.maybeCommit()) this.needBcast = true;
    else if (wasPaused) this.sendAppend(m.from, false);
    while (this.sendAppend(m.from, false)) {
      // keep the pipeline full
    }
    if (m.from === this.leadTransferee && pr.match === this.lastIndex()) {
      this.send({ type: 'timeoutNow', to: m.from, term: this.term });
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    if (pr.state === 'probe') pr.paused = false;
    else if (pr.state === 'replicate' && pr.match < pr.next - 1) {
      // Appends (or their acks) were lost: after two quiet rounds, fall back to probing. A
      // follower that says how far its log reaches (see handleHeartbeat) and holds all that
      // was sent, or got further since its last answer, is receiving them: only its acks lag
      // behind its disk, and sending it everything again would only add to the queue.
      const received = m.index;
      const prevTerm = this.termAt(pr.next - 1);
      if (received !== undefined && received >= pr.next - 1 && prevTerm >= 0) {
        // It holds all that was sent; only acks are missing (lost, or still behind its disk):
        // an empty append at its end asks for one without sending the entries again.
        if (++pr.stalls >= 2) {
          pr.stalls = 0;
          this.send({
            type: 'app',
            to: m.from,
            term: this.term,
            index: pr.next - 1,
            logTerm: prevTerm,
            entries: [],
            commit: this.commit,
          });
        }
      } else if (received !== undefined && received > pr.heardIndex) pr.stalls = 0;
      else if (++pr.stalls >= 2) {
        pr.stalls = 0;
        pr.becomeProbe();
      }
      if (received !== undefined) pr.heardIndex = received;
    }
    // A probe may be empty: the follower has to answer it for the leader to find the match point.
    if (pr.match < this.lastIndex()) this.sendAppend(m.from, pr.state === 'probe');
    if (m.context) this.ackRead(m.context, m.from);
  }

  private leaderReadIndex(context: string, from: string): void {
    if (this.termAt(this.commit) !== this.term) {
      // The commit index is only known to be current once an entry of this term committed.
      this.readsBeforeCommit.push({ context, from });
      return;
    }
    if (this.conf.voters.length === 1 && this.isVoter()) {
      this.releaseRead({ context, index: this.commit, from, acks: new Set() });
      return;
    }
    this.pendingReads.push({ context, index: this.commit, from, acks: new Set([this.id]) });
    this.bcastHeartbeat(context);
  }

  private ackRead(context: string, from: string): void {
    const at = this.pendingReads.findIndex((r) => r.context === context);
    if (at < 0) return;
    const r = this.pendingReads[at]!;
    r.acks.add(from);
    let n = 0;
    for (const v of this.conf.voters) if (r.acks.has(v)) n++;
    if (n < this.quorum()) return;
    const done = this.pendingReads.splice(0, at + 1);
    for (const d of done) this.releaseRead(d);
  }

  private releaseRead(r: PendingRead): void {
    if (r.from === this.id) this.readStates.push({ index: r.index, context: r.context });
    else
      this.send({ type: 'readIndexResp', to: r.from, term: this.term, index: r.index, context: r.context });
  }

  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const v of this.conf.voters) {
      const pr = this.progress.get(v);
      matches.push(pr ? pr.match : 0);
    }
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const mci = matches[this.quorum() - 1] ?? 0;
    // Figure 8: only an entry of the current term commits by counting replicas.
    if (mci > this.commit && this.termAt(mci) === this.term) {
      this.commit = mci;
      if (this.readsBeforeCommit.length) {
        const waiting = this.readsBeforeCommit;
        this.readsBeforeCommit = [];
        for (const r of waiting) this.leaderReadIndex(r.context, r.from);
      }
      return true;
    }
    return false;
  }

  /** Sends the next append to `to`; false when nothing was sent. */
  private sendAppend(to: string, allowEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || to === this.id || pr.isPaused(this.maxInflight)) return false;
    const prevIdx = pr.next - 1;
    const prevTerm = this.termAt(prevIdx);
    if (prevTerm < 0) {
      if (!pr.recentActive) return false;
      this.send({ type: 'snap', to, term: this.term, snapshot: this.snapshot });
      pr.becomeSnapshot(this.snapshot.meta.index);
      return true;
    }
    const last = this.lastIndex();
    let entries: Entry[] = [];
    if (pr.next <= last) {
      let hi = Math.min(last, pr.next + this.maxEntriesPerMsg - 1);
      let bytes = 0;
      for (let i = pr.next; i <= hi; i++) {
        bytes += this.entryAt(i)!.data.length;
        if (bytes > this.maxBytesPerMsg && i > pr.next) {
          hi = i - 1;
          break;
        }
      }
      entries = this.slice(pr.next, hi);
    }
    if (entries.length === 0 && !allowEmpty) return false;
    this.send({
      type: 'app',
      to,
      term: this.term,
      index: prevIdx,
      logTerm: prevTerm,
      entries,
      commit: this.commit,
    });
    if (entries.length) {
      const lastSent = entries[entries.length - 1]!.index;
      if (pr.state === 'replicate') {
        pr.next = lastSent + 1;
        pr.addInflight(lastSent);
      } else pr.paused = true;
    } else if (pr.state === 'probe') pr.paused = true;
    return true;
  }

  private bcastAppend(): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id || !this.sendAppend(id, true)) continue;
      // Replicating followers get as many appends as the window allows.
      while (pr.state === 'replicate' && this.sendAppend(id, false)) {
        // keep the pipeline full
      }
    }
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const m: Message = {
        type: 'heartbeat',
        from: this.id,
        to: id,
        term: this.term,
        commit: Math.min(pr.match, this.commit),
      };
      if (context) m.context = context;
      this.send(m);
    }
  }

  // ---------------------------------------------------------------- elections

  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.isVoter()) return;
    // A node with unapplied membership changes might not know its own configuration yet;
    // a transfer's campaign waits for them to apply, an ordinary one is simply skipped.
    for (let i = this.applied + 1; i <= this.commit; i++) {
      if (this.entryAt(i)?.type === 'conf') {
        if (transfer) this.campaignAfterApply = true;
        return;
      }
    }
    this.campaignAfterApply = false;
    if (this.preVote && !transfer) this.campaign('prevote', false);
    else this.campaign('election', transfer);
  }

  private campaign(kind: 'prevote' | 'election', transfer: boolean): void {
    let voteTerm: number;
    if (kind === 'prevote') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (kind === 'prevote') this.campaign('election', transfer);
      else this.becomeLeader();
      return;
    }
    for (const v of this.conf.voters) {
      if (v === this.id) continue;
      const m: Message = {
        type: kind === 'prevote' ? 'prevote' : 'vote',
        from: this.id,
        to: v,
        term: voteTerm,
        index: this.lastIndex(),
        logTerm: this.lastTerm(),
      };
      if (transfer) m.context = 'transfer';
      this.send(m);
    }
  }

  private poll(from: string, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.conf.voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    const q = this.quorum();
    if (yes >= q) return 'won';
    if (no >= q) return 'lost';
    return 'pending';
  }

  private quorum(): number {
    return Math.floor(this.conf.voters.length / 2) + 1;
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = '';
    }
    this.lead = '';
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    // Jitter over half an election timeout: enough to avoid split votes (pre-vote absorbs the
    // rest) while bounding failover to ~1.5 election timeouts.
    this.randomizedElectionTimeout =
      this.electionTicks + Math.floor(this.random() * Math.max(2, this.electionTicks / 2));
    this.votes.clear();
    this.leadTransferee = '';
    this.campaignAfterApply = false;
    this.pendingReads = [];
    this.readsBeforeCommit = [];
    this.progress.clear();
  }

  private becomeFollower(term: number, lead: string): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    // Term and vote stay: a pre-election must not disturb anyone.
    this.votes.clear();
    this.lead = '';
    this.role = 'precandidate';
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const next = this.lastIndex() + 1;
    for (const id of [...this.conf.voters, ...this.conf.learners]) this.progress.set(id, new Progress(next));
    const self = this.progress.get(this.id);
    if (self) {
      self.match = this.stableIndex;
      self.becomeReplicate();
      self.recentActive = true;
    }
    this.pendingConfIndex = this.lastIndex();
    this.appendEntry('normal', EMPTY);
    this.bcastAppend();
  }

  private appendEntry(type: Entry['type'], data: Uint8Array): Entry {
    const e: Entry = { index: this.lastIndex() + 1, term: this.term, type, data };
    this.ents.push(e);
    return e;
  }

  private assertLeader(): void {
    if (this.role !== 'leader') {
      const lead = this.lead;
      throw new RaftError(
        'not_leader',
        lead
          ? `not the leader; the leader is ${lead}`
          : 'not the leader, and no leader is known yet; retry shortly',
        { leaderId: lead, leaderAddr: lead ? this.conf.addrs[lead] : undefined },
      );
    }
    if (this.leadTransferee) {
      throw new RaftError(
        'transferring',
        `leadership is being transferred to ${this.leadTransferee}; retry there`,
        {
          leaderId: this.leadTransferee,
          leaderAddr: this.conf.addrs[this.leadTransferee],
        },
      );
    }
  }

  private send(m: Omit<Message, 'from'> & { from?: string }): void {
    m.from = this.id;
    this.msgs.push(m as Message);
  }

  private applyConfEntry(e: Entry): void {
    const cc = decodeConfChange(e.data);
    if (confChangeProblem(this.conf, cc)) return; // replayed or superseded; the log is the authority
    applyConfChangeTo(this.conf, cc);
    if (this.role !== 'leader') return;
    if (cc.type === 'remove') {
      this.progress.delete(cc.id);
      if (cc.id === this.leadTransferee) this.leadTransferee = '';
      if (cc.id === this.id) {
        this.becomeFollower(this.term, '');
        return;
      }
    } else if (!this.progress.has(cc.id)) {
      const pr = new Progress(this.lastIndex() + 1);
      pr.recentActive = true;
      this.progress.set(cc.id, pr);
    }
    if (this.maybeCommit()) this.needBcast = true;
    else if (cc.type !== 'remove') this.sendAppend(cc.id, true);
  }

  // ---------------------------------------------------------------- ready / advance

  hasReady(): boolean {
    return (
      this.needBcast ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.pendingSnapshot !== null ||
      this.stableIndex < this.lastIndex() ||
      this.term !== this.prevHard.term ||
      this.vote !== this.prevHard.vote ||
      this.commit !== this.prevHard.commit ||
      this.applied < Math.min(this.commit, this.lastIndex())
    );
  }

  ready(): Ready {
    if (this.needBcast) {
      this.needBcast = false;
      if (this.role === 'leader') this.bcastAppend();
    }
    const hs =
      this.term !== this.prevHard.term ||
      this.vote !== this.prevHard.vote ||
      this.commit !== this.prevHard.commit
        ? { term: this.term, vote: this.vote, commit: this.commit }
        : null;
    const snap = this.pendingSnapshot;
    const from = (snap ? snap.meta.index : this.applied) + 1;
    let to = Math.min(this.commit, this.lastIndex(), from + this.maxCommittedPerReady - 1);
    // Bounded by bytes too (the first entry always goes, however large).
    for (let i = from, bytes = 0; i <= to; i++) {
      bytes += this.ents[i - this.prevIndex - 1]?.data.length ?? 0;
      if (bytes > this.maxCommittedBytesPerReady && i > from) {
        to = i - 1;
        break;
      }
    }
    const rd: Ready = {
      softState: { lead: this.lead, role: this.role },
      hardState: hs,
      entries: this.stableIndex < this.lastIndex() ? this.slice(this.stableIndex + 1, this.lastIndex()) : [],
      snapshot: snap,
      messages: this.msgs,
      committedEntries: to >= from ? this.slice(from, to) : [],
      readStates: this.readStates,
    };
    this.msgs = [];
    this.readStates = [];
    return rd;
  }

  advance(rd: Ready): void {
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      if (this.pendingSnapshot === rd.snapshot) this.pendingSnapshot = null;
      if (rd.snapshot.meta.index > this.applied) this.applied = rd.snapshot.meta.index;
    }
    const lastEnt = rd.entries[rd.entries.length - 1];
    if (lastEnt && this.termAt(lastEnt.index) === lastEnt.term && lastEnt.index > this.stableIndex) {
      this.stableIndex = lastEnt.index;
    }
    for (const e of rd.committedEntries) {
      if (e.index <= this.applied) continue;
      this.applied = e.index;
      if (e.type === 'conf') this.applyConfEntry(e);
    }
    if (this.role === 'leader') {
      const self = this.progress.get(this.id);
      if (self?.maybeUpdate(this.stableIndex) && this.maybeCommit()) this.needBcast = true;
    } else if (this.campaignAfterApply && this.applied >= this.commit) {
      this.hup(true);
    }
  }
}
