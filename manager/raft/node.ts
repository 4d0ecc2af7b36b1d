// RaftNode: drives a RaftCore with a real clock, disk and network. The loop: take a Ready,
// persist it (fsync), send its messages, apply its committed entries to the application's
// state machine, resolve the proposals and reads waiting on them, advance.

import type * as grpc from '@grpc/grpc-js';
import { decodeConfChange } from './conf.js';
import { RaftCore } from './core.js';
import { RaftError, type RaftErrorCode } from './errors.js';
import { AtRestCipher, type DataKeyRing } from './storage/at-rest.js';
import { DiskStorage } from './storage/disk.js';
import type { GrpcTransport, RaftLogger, TransportOptions } from './transport/grpc.js';
import type { ConfChange, ConfState, Entry, Message, MessageType, Ready, Role, Snapshot } from './types.js';

/**
 * The application. apply() sees only application entries (never no-ops or membership
 * changes), in log order. An entry or snapshot it cannot read because it does not know
 * its format must not be skipped (its state would part from the other members'): it
 * throws an error with `halt: true`, and the node stops (see `failed`) with that message.
 */
export interface StateMachine {
  apply(entry: { index: number; term: number; data: Uint8Array }): void;
  snapshot(): Uint8Array;
  /**
   * Optional: captures the state now (cheaply: no serialising) and returns the function that
   * serialises that capture, letting the event loop in as it goes; it resolves with what
   * snapshot() would have returned at the capture. The node goes on persisting, answering
   * and applying meanwhile: a state that takes seconds to serialise does not silence it.
   */
  snapshotLater?(): () => Promise<Uint8Array>;
  restore(snapshot: Uint8Array): void;
}

export interface RaftNodeOptions {
  id: string;
  /** Where the WAL and snapshots live (created if missing). */
  dataDir: string;
  /**
   * Initial voters including this node to bootstrap a new cluster. To join an existing cluster,
   * list its current members without this node (they are contacted until the log names the
   * configuration) and give listenAddr.
   */
  peers: { id: string; addr: string }[];
  /** host:port to listen on; defaults to this node's address in `peers`. */
  listenAddr?: string;
  /**
   * A member that never talks to others (a single-node skiff): no transport listens (and
   * its module is not even loaded) while it is the group's only member, and adding a member is
   * refused. State that names other members (a former cluster's) starts the transport as
   * soon as its configuration does.
   */
  standalone?: boolean;
  stateMachine: StateMachine;
  tickMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  /**
   * The data key: the WAL's entries and the snapshots are sealed with it on disk (32 bytes,
   * AES-256-GCM). Without it they are written in clear. A bare key is key 0 (records
   * without a key ID); a ring seals with its current key and opens with any of them.
   */
  dataKey?: Uint8Array | DataKeyRing;
  /** Take an application snapshot and compact the log every this many applied entries. */
  snapshotEvery?: number;
  /**
   * Also take one once the entries applied since the last hold this many bytes (the log
   * stays in memory until then: 10,000 entries of 1,000-task batches would be gigabytes).
   */
  snapshotEveryBytes?: number;
  /** Entries kept in the log behind a snapshot so slightly slow followers avoid a snapshot transfer. */
  snapshotCatchUpEntries?: number;
  logger?: RaftLogger;
  serverCredentials?: grpc.ServerCredentials;
  channelCredentials?: TransportOptions['channelCredentials'];
  /** Which member an incoming call speaks for, from its certificate (see TransportOptions). */
  peerMember?: TransportOptions['peerMember'];
  /** The largest snapshot accepted from a peer. */
  maxSnapshotBytes?: number;
  /** Election jitter source; tests may seed it. */
  random?: () => number;
  /**
   * Learners are members on their way to voter: whoever leads promotes each one once it
   * has caught up (see promote). Without it a learner stays one until promote() is called.
   */
  promoteLearners?: boolean;
}

export interface RaftStatus {
  id: string;
  term: number;
  leaderId: string;
  role: Role;
  commitIndex: number;
  appliedIndex: number;
  members: { id: string; addr: string; role: 'voter' | 'learner' }[];
}

interface Waiter {
  term: number;
  resolve: (v: { index: number }) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface ReadWaiter {
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const silentLogger: RaftLogger = { info() {}, warn() {}, error() {}, debug() {} };

/** What a node needs of its transport. */
type RaftTransport = Pick<GrpcTransport, 'addr' | 'setPeers' | 'send' | 'markAlive' | 'close'>;

/** The transport of a standalone member alone in its group: there is nobody to talk to. */
const NO_PEERS: RaftTransport = { addr: '', setPeers() {}, send() {}, markAlive() {}, async close() {} };
/** How long one leader's attempt to promote a learner waits for it to catch up (then the next tick tries again). */
const LEARNER_CATCH_UP_MS = 60_000;

export class RaftNode {
  private readonly core: RaftCore;
  private transport: RaftTransport = NO_PEERS;
  /** A standalone member's transport, started once its configuration names another member. */
  private lateTransport: Promise<void> | undefined;
  private listenAddr = '';
  /** Until a sole voter has campaigned after start (see tickIfAlone). */
  private campaignAlone = false;
  private readonly log: RaftLogger;
  private readonly tickMs: number;
  private readonly snapshotEvery: number;
  private readonly snapshotEveryBytes: number;
  /** Bytes of entries applied since the last snapshot. */
  private bytesSinceSnapshot = 0;
  /** Callers of snapshotNow waiting for the next snapshot. */
  private snapshotWaiters: {
    resolve: (r: { index: number; bytes: number }) => void;
    reject: (e: Error) => void;
  }[] = [];
  private readonly catchUpEntries: number;
  /** A snapshot being serialised in the background (snapshotLater), and once it is, its bytes. */
  private serialising: {
    index: number;
    conf: ConfState;
    waiters: { resolve: (r: { index: number; bytes: number }) => void; reject: (e: Error) => void }[];
    rekey: RaftNode['rekey'];
    data?: Uint8Array;
  } | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;
  private resolveFailed!: (e: Error) => void;
  /**
   * Resolves with the cause when the node's storage failed (a WAL write or fsync, a
   * snapshot: a full or broken disk) and the node stopped itself. Like etcd, which
   * treats these as fatal: what it acknowledged might not be durable, so it must not go
   * on voting or accepting writes; the process that runs it should exit.
   */
  readonly failed = new Promise<Error>((resolve) => {
    this.resolveFailed = resolve;
  });
  private running: Promise<void> | null = null;
  private scheduled = false;
  private lastLead = '';
  private lastSnapshotIndex: number;
  private readonly proposals = new Map<number, Waiter>();
  /** Promotions under way, by learner. */
  private readonly promotions = new Map<string, Promise<void>>();
  private readonly leaderListeners: ((leaderId: string) => void)[] = [];
  // ReadIndex batching: one request in flight; callers arriving meanwhile share the next one.
  private readBatch: ReadWaiter[] = [];
  private readInFlight: { context: string; waiters: ReadWaiter[]; timer: NodeJS.Timeout } | null = null;
  private readSeq = 0;
  private readonly appliedWaits: { index: number; waiters: ReadWaiter[] }[] = [];
  /** A new data key waits for a snapshot once everything logged before it is applied. */
  private rekey: { index: number; done: ((inUse: number[]) => void)[] } | null = null;
  private peerAddrs: Record<string, string>;
  private peersDirty = false;
  /** Highest index handed to the state machine (may run ahead of the core's count by one batch). */
  private appliedIndex = 0;
  /** The term and vote on disk: a response that acknowledges a term goes out only once it is. */
  private durable: { term: number; vote: string };

  private constructor(
    private readonly opts: RaftNodeOptions,
    private readonly storage: DiskStorage,
    core: RaftCore,
  ) {
    this.core = core;
    this.log = opts.logger ?? silentLogger;
    this.tickMs = opts.tickMs ?? 100;
    this.snapshotEvery = opts.snapshotEvery ?? 10_000;
    this.snapshotEveryBytes = opts.snapshotEveryBytes ?? 512 << 20;
    this.catchUpEntries = opts.snapshotCatchUpEntries ?? Math.min(1000, Math.floor(this.snapshotEvery / 2));
    this.lastSnapshotIndex = core.latestSnapshot().meta.index;
    this.durable = { term: core.term, vote: core.vote };
    this.peerAddrs = Object.fromEntries(opts.peers.map((p) => [p.id, p.addr]));
  }

  static async start(opts: RaftNodeOptions): Promise<RaftNode> {
    if (!opts.id) throw new RaftError('invalid_argument', 'raft node needs a non-empty id');
    const { storage, state: recovered } = await DiskStorage.open(
      opts.dataDir,
      opts.dataKey ? { cipher: new AtRestCipher(opts.dataKey) } : {},
    );
    let state = recovered;
    if (!state) {
      const bootstrapping = opts.peers.some((p) => p.id === opts.id);
      state = bootstrapping ? RaftCore.bootstrapState(opts.peers) : RaftCore.emptyState();
      // The bootstrap configuration must be durable before anyone votes on it.
      await storage.save(state.hardState, state.entries, null);
    }
    if (state.snapshot.meta.index > 0) opts.stateMachine.restore(state.snapshot.data);
    const core = new RaftCore({
      id: opts.id,
      state,
      random: opts.random ?? Math.random,
      electionTicks: opts.electionTicks ?? 10,
      heartbeatTicks: opts.heartbeatTicks ?? 1,
    });
    const node = new RaftNode(opts, storage, core);
    const listenAddr = opts.listenAddr ?? node.peerAddrs[opts.id] ?? core.confState().addrs[opts.id];
    if (!listenAddr) {
      await storage.close();
      throw new RaftError(
        'invalid_argument',
        `raft node ${opts.id} has no listen address: pass listenAddr or list it in peers`,
      );
    }
    node.listenAddr = listenAddr;
    if (!opts.standalone) {
      try {
        node.transport = await node.startTransport();
      } catch (e) {
        await storage.close();
        throw e;
      }
    }
    node.refreshPeers();
    node.ticker = setInterval(() => node.onTick(), node.tickMs);
    node.campaignAlone = true;
    node.tickIfAlone();
    node.log.info(
      { raftId: opts.id, addr: node.transport.addr, term: core.term, commit: core.commit },
      'raft node started',
    );
    node.kick();
    return node;
  }

  private async startTransport(): Promise<RaftTransport> {
    const { opts } = this;
    try {
      // Loaded here: a standalone member alone never needs it.
      const { GrpcTransport } = await import('./transport/grpc.js');
      return await GrpcTransport.start({
        id: opts.id,
        listenAddr: this.listenAddr,
        onMessage: (m) => this.onMessage(m),
        logger: this.log,
        ...(opts.serverCredentials ? { serverCredentials: opts.serverCredentials } : {}),
        ...(opts.channelCredentials ? { channelCredentials: opts.channelCredentials } : {}),
        ...(opts.peerMember ? { peerMember: opts.peerMember } : {}),
        ...(opts.maxSnapshotBytes ? { maxSnapshotBytes: opts.maxSnapshotBytes } : {}),
      });
    } catch (e) {
      throw new RaftError('io', `raft node ${opts.id} cannot listen on ${this.listenAddr}: ${String(e)}`, {
        cause: e,
      });
    }
  }

  /** The address the transport listens on (useful with port 0); '' for a standalone member alone. */
  get addr(): string {
    return this.transport.addr;
  }

  // ---------------------------------------------------------------- client API

  /**
   * Resolves once the entry is committed and applied here. Rejects with RaftError:
   * 'not_leader' (leaderId/leaderAddr name the leader when known), 'transferring' (leadership
   * is moving to leaderId), 'term_changed' (another leader's entry took its place, or a snapshot
   * skipped it: retry), 'timeout' (outcome unknown; default 10 s), 'stopped'.
   */
  propose(data: Uint8Array, opts?: { timeoutMs?: number }): Promise<{ index: number }> {
    if (this.stopped) return Promise.reject(new RaftError('stopped', 'raft node is stopped'));
    let at: { index: number; term: number };
    try {
      at = this.core.propose(data);
    } catch (e) {
      return Promise.reject(e);
    }
    this.kick();
    return this.waitApplied(at, opts?.timeoutMs);
  }

  readBarrier(opts?: { timeoutMs?: number }): Promise<void> {
    if (this.stopped) return Promise.reject(new RaftError('stopped', 'raft node is stopped'));
    if (!this.core.lead) {
      return Promise.reject(new RaftError('not_leader', 'no leader is known yet; retry shortly'));
    }
    return new Promise<void>((resolve, reject) => {
      const w: ReadWaiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.dropReadWaiter(w);
          reject(new RaftError('timeout', 'read barrier timed out: the leader could not confirm its quorum'));
        }, opts?.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      };
      this.readBatch.push(w);
      this.issueRead();
    });
  }

  async addLearner(id: string, addr: string, opts?: { timeoutMs?: number }): Promise<void> {
    await this.confChange({ type: 'addLearner', id, addr }, opts);
  }

  /**
   * Promotes a learner to voter once it holds what was committed when this was asked (a
   * fixed mark: under a steady load the commit index moves on while the learner
   * acknowledges, and a learner chasing it could wait for ever). One promotion per learner
   * at a time: a second call shares the first. Resolves at once for a voter.
   */
  promote(id: string, opts?: { timeoutMs?: number }): Promise<void> {
    const running = this.promotions.get(id);
    if (running) return running;
    const p = this.promoteOnceCaughtUp(id, opts).finally(() => this.promotions.delete(id));
    this.promotions.set(id, p);
    return p;
  }

  private async promoteOnceCaughtUp(id: string, opts?: { timeoutMs?: number }): Promise<void> {
    const deadline = Date.now() + (opts?.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.assertLeader();
    const mark = this.core.commit;
    for (;;) {
      if (this.stopped) throw new RaftError('stopped', 'raft node is stopped');
      this.assertLeader();
      const conf = this.core.confState();
      if (conf.voters.includes(id)) return;
      if (!conf.learners.includes(id))
        throw new RaftError('invalid_argument', `${id} is not a learner; not promoted`);
      if ((this.core.progressOf(id)?.match ?? 0) >= mark) break;
      if (Date.now() > deadline)
        throw new RaftError('timeout', `learner ${id} did not catch up in time; not promoted`);
      await sleep(this.tickMs);
    }
    await this.confChange({ type: 'promote', id }, { timeoutMs: Math.max(1000, deadline - Date.now()) });
  }

  /**
   * With `promoteLearners`: while this node leads, each learner is promoted once it has
   * caught up. A promotion started by a leader that then lost leadership (killed while a
   * new manager caught up) would otherwise leave that member a learner for good.
   */
  private promoteLearners(): void {
    if (!this.opts.promoteLearners || this.core.role !== 'leader' || this.core.transferee()) return;
    for (const id of this.core.confState().learners) {
      if (this.promotions.has(id)) continue;
      this.promote(id, { timeoutMs: LEARNER_CATCH_UP_MS }).then(
        () => this.log.info({ raftId: this.opts.id, learner: id }, 'learner caught up: promoted to voter'),
        (err: unknown) =>
          // Leadership moved (the next leader takes over) or the learner was removed.
          this.log.debug({ raftId: this.opts.id, learner: id, err: String(err) }, 'learner not promoted yet'),
      );
    }
  }

  /** Adds a voter safely: first as a learner, promoted once caught up. */
  async addMember(id: string, addr: string, opts?: { timeoutMs?: number }): Promise<void> {
    await this.addLearner(id, addr, opts);
    await this.promote(id, opts);
  }

  async removeMember(id: string, opts?: { timeoutMs?: number }): Promise<void> {
    await this.confChange({ type: 'remove', id }, opts);
  }

  /** Hands leadership to `to` (or the most up-to-date voter) and waits until someone else leads. */
  async transferLeadership(to?: string, opts?: { timeoutMs?: number }): Promise<void> {
    this.assertLeader();
    let target = to;
    if (!target) {
      let best = -1;
      for (const v of this.core.confState().voters) {
        const m = v === this.opts.id ? -1 : (this.core.progressOf(v)?.match ?? -1);
        if (m > best) {
          best = m;
          target = v;
        }
      }
    }
    if (!target || target === this.opts.id) {
      throw new RaftError('invalid_argument', 'there is no other voter to transfer leadership to');
    }
    this.core.transferLeadership(target);
    this.kick();
    const deadline = Date.now() + (opts?.timeoutMs ?? this.tickMs * (this.core.electionTicks * 2 + 2));
    while (this.core.lead === this.opts.id && this.core.role === 'leader') {
      if (this.stopped) throw new RaftError('stopped', 'raft node is stopped');
      if (Date.now() > deadline)
        throw new RaftError('timeout', `leadership transfer to ${target} did not complete in time`);
      await sleep(this.tickMs / 2);
    }
  }

  status(): RaftStatus {
    const conf = this.core.confState();
    return {
      id: this.opts.id,
      term: this.core.term,
      leaderId: this.core.lead,
      role: this.core.role,
      commitIndex: this.core.commit,
      appliedIndex: Math.max(this.core.applied, this.appliedIndex),
      members: [
        ...conf.voters.map((id) => ({
          id,
          addr: conf.addrs[id] ?? this.peerAddrs[id] ?? '',
          role: 'voter' as const,
        })),
        ...conf.learners.map((id) => ({
          id,
          addr: conf.addrs[id] ?? this.peerAddrs[id] ?? '',
          role: 'learner' as const,
        })),
      ],
    };
  }

  /** Called with the new leader's id ('' when there is none) on every change. Returns an unsubscribe. */
  onLeaderChange(cb: (leaderId: string) => void): () => void {
    this.leaderListeners.push(cb);
    return () => {
      const i = this.leaderListeners.indexOf(cb);
      if (i >= 0) this.leaderListeners.splice(i, 1);
    };
  }

  /**
   * Seals what is written from now on with `ring.current` and takes a snapshot as soon as
   * everything logged so far is applied, which drops the WAL segments and snapshots sealed
   * with other keys. Resolves with the key IDs something on disk is still sealed with (-1
   * for clear data): only `ring.current` unless the node stopped first; an old key can be
   * forgotten once it is no longer listed. `ring` must hold every key in use until then.
   */
  rotateDataKey(ring: DataKeyRing): Promise<number[]> {
    if (this.stopped) return Promise.resolve([...this.storage.keysInUse()]);
    this.storage.rekey(new AtRestCipher(ring));
    const done = this.rekey?.done ?? [];
    this.rekey = { index: this.core.lastIndex(), done };
    const out = new Promise<number[]>((resolve) => done.push(resolve));
    this.kick();
    return out;
  }

  /** The data key IDs something in the raft directory is sealed with (-1: data in clear). */
  dataKeysInUse(): number[] {
    return [...this.storage.keysInUse()];
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    const err = new RaftError('stopped', 'raft node stopped before the outcome was known');
    for (const w of this.proposals.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.proposals.clear();
    for (const w of this.allReadWaiters()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.readBatch = [];
    if (this.readInFlight) clearTimeout(this.readInFlight.timer);
    this.readInFlight = null;
    this.appliedWaits.length = 0;
    for (const w of this.snapshotWaiters.splice(0)) w.reject(err);
    for (const w of this.serialising?.waiters ?? []) w.reject(err);
    this.serialising = null;
    await this.running;
    await this.lateTransport;
    await this.transport.close();
    await this.storage.close();
    for (const done of this.rekey?.done ?? []) done([...this.storage.keysInUse()]);
    this.rekey = null;
    this.log.info({ raftId: this.opts.id }, 'raft node stopped');
  }

  // ---------------------------------------------------------------- loop

  /**
   * Single-member fast path at start: a sole voter campaigns on its first tick anyway (see
   * RaftCore.tickElection), but only once its recovered membership entries are applied.
   * Taking that tick as soon as they are, rather than a tickMs later, lets a single
   * manager lead at once. Any other configuration is left to the ticker.
   */
  private tickIfAlone(): void {
    // The configuration is known once the committed entries (bootstrap ones too) are applied.
    if (!this.campaignAlone || this.core.applied < this.core.commit) return;
    this.campaignAlone = false;
    const { voters } = this.core.confState();
    if (voters.length !== 1 || voters[0] !== this.opts.id || this.core.role === 'leader') return;
    this.core.tick();
    this.kick();
  }

  private onTick(): void {
    if (this.stopped) return;
    this.core.tick();
    this.sendEarly();
    this.kick();
    this.promoteLearners();
  }

  private onMessage(m: Message): void {
    if (this.stopped) return;
    try {
      if (m.type !== 'unreachable' && m.type !== 'snapStatus') this.transport.markAlive(m.from);
      this.core.step(m);
      this.sendEarly();
    } catch (e) {
      this.log.warn(
        { raftId: this.opts.id, from: m.from, type: m.type, err: String(e) },
        'raft message refused',
      );
    }
    this.kick();
  }

  private kick(): void {
    if (this.scheduled || this.running || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.running && !this.stopped) {
        this.running = this.run().finally(() => {
          this.running = null;
          if (!this.stopped && this.core.hasReady()) this.kick();
        });
      }
    });
  }

  /**
   * While a Ready is being written (run() awaits the fsync), what needs no disk goes out at
   * once: a leader's heartbeats and appends (run() sends those before its fsync anyway), a
   * follower's heartbeat responses. A leader whose fsync took a second sent no heartbeats
   * for that second, its followers answered nothing, and its own ticks (which go on) then
   * found no quorum and stepped it down: traced in the 1M placement run, which lost its
   * leader so at ~20,000 entries (fsyncs of 0.5–1.2 s, three managers on one busy disk).
   */
  private sendEarly(): void {
    if (!this.running) return;
    if (this.core.role === 'leader') this.transport.send(this.core.takeMessages(LEADER_EARLY));
    else if (this.termDurable()) this.transport.send(this.core.takeMessages(FOLLOWER_EARLY));
  }

  /** Whether the term and vote (with `rd`'s hard state about to be written) are on disk already. */
  private termDurable(rd?: Ready): boolean {
    const term = rd?.hardState?.term ?? this.core.term;
    const vote = rd?.hardState?.vote ?? this.core.vote;
    return term === this.durable.term && vote === this.durable.vote;
  }

  private rekeyDue(): boolean {
    return this.rekey !== null && this.core.applied >= this.rekey.index && this.core.applied > 0;
  }

  private snapshotDue(): boolean {
    if (this.serialising) return this.serialising.data !== undefined;
    return (
      this.core.applied - this.lastSnapshotIndex >= this.snapshotEvery ||
      this.bytesSinceSnapshot >= this.snapshotEveryBytes ||
      this.rekeyDue() ||
      (this.snapshotWaiters.length > 0 && this.core.applied > 0)
    );
  }

  /**
   * Takes a snapshot of everything applied so far and compacts the log behind it, as the
   * node does by itself every `snapshotEvery` entries; resolves with its index and size.
   */
  snapshotNow(): Promise<{ index: number; bytes: number }> {
    if (this.stopped) return Promise.reject(new RaftError('stopped', 'raft node stopped'));
    const out = new Promise<{ index: number; bytes: number }>((resolve, reject) =>
      this.snapshotWaiters.push({ resolve, reject }),
    );
    this.kick();
    return out;
  }

  private async run(): Promise<void> {
    while (!this.stopped && (this.core.hasReady() || this.snapshotDue())) {
      if (!this.core.hasReady()) {
        await this.takeSnapshot();
        continue;
      }
      const rd = this.core.ready();
      // A leader's appends and heartbeats may leave before its own fsync (it counts itself
      // only once persisted); everything else waits for the disk.
      let later = rd.messages;
      if (rd.softState.role !== 'leader' && this.termDurable(rd)) {
        // Heartbeat responses promise nothing about the log: they go before the fsync (see
        // sendEarly), or a follower with a slow disk leaves the leader without a word for
        // the length of two writes.
        const now = rd.messages.filter((m) => m.type === 'heartbeatResp');
        if (now.length) {
          this.transport.send(now);
          later = rd.messages.filter((m) => m.type !== 'heartbeatResp');
        }
      } else if (rd.softState.role === 'leader') {
        const now = rd.messages.filter((m) => m.type === 'app' || m.type === 'heartbeat');
        if (now.length) {
          this.transport.send(now);
          later = rd.messages.filter((m) => m.type !== 'app' && m.type !== 'heartbeat');
        }
      }
      // Committed entries already on disk here need not wait for this batch's fsync.
      let early = 0;
      if (!rd.snapshot) {
        const durable = this.core.persistedIndex();
        for (const e of rd.committedEntries) {
          // Membership changes wait: the core applies them at advance(), and callers expect both at once.
          if (e.index > durable || e.type === 'conf') break;
          early++;
        }
        this.applyEntries(rd.committedEntries, 0, early);
        if (this.stopped) return;
      }
      try {
        await this.storage.save(rd.hardState, rd.entries, rd.snapshot);
      } catch (e) {
        this.fail(e, 'writing the raft log failed');
        return;
      }
      if (this.stopped) return;
      if (rd.hardState) this.durable = { term: rd.hardState.term, vote: rd.hardState.vote };
      this.transport.send(later);
      this.applyReady(rd, early);
      if (this.stopped) return;
      this.core.advance(rd);
      this.tickIfAlone();
      this.afterAdvance(rd);
      if (this.snapshotDue()) await this.takeSnapshot();
      // After applying, let the event loop in before the next slice (kick() comes back):
      // appends and heartbeats that arrived meanwhile get answered between slices of a
      // long catch-up instead of after all of it (the core bounds a slice's bytes).
      if (rd.committedEntries.length > 0) return;
    }
  }

  private applyReady(rd: Ready, alreadyApplied: number): void {
    if (rd.snapshot) {
      try {
        this.opts.stateMachine.restore(rd.snapshot.data);
      } catch (err) {
        if (!isHalt(err)) throw err;
        this.fail(err, 'cannot read the snapshot from the leader', 'unsupported_format');
        return;
      }
      this.lastSnapshotIndex = rd.snapshot.meta.index;
      // Proposals the snapshot jumped over: their fate is not visible from here.
      for (const [index, w] of this.proposals) {
        if (index > rd.snapshot.meta.index) continue;
        this.settleProposal(
          index,
          w,
          new RaftError('term_changed', 'leadership changed; the outcome of this proposal is unknown'),
        );
      }
      this.log.info(
        { raftId: this.opts.id, index: rd.snapshot.meta.index },
        'restored a snapshot from the leader',
      );
      this.peersDirty = true;
    }
    this.applyEntries(rd.committedEntries, alreadyApplied, rd.committedEntries.length);
  }

  private applyEntries(entries: Entry[], from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const e = entries[i]!;
      if (e.index > this.appliedIndex) this.appliedIndex = e.index;
      this.bytesSinceSnapshot += e.data.length;
      if (e.type === 'normal' && e.data.length > 0) {
        try {
          this.opts.stateMachine.apply({ index: e.index, term: e.term, data: e.data });
        } catch (err) {
          if (isHalt(err)) {
            this.fail(err, `cannot apply committed entry ${e.index}`, 'unsupported_format');
            return;
          }
          this.log.error(
            { raftId: this.opts.id, index: e.index, err: String(err) },
            'state machine failed to apply an entry',
          );
        }
      } else if (e.type === 'conf') {
        this.noteConfChange(decodeConfChange(e.data));
      }
      const w = this.proposals.get(e.index);
      if (w) {
        this.settleProposal(
          e.index,
          w,
          w.term === e.term
            ? null
            : new RaftError('term_changed', 'leadership changed and the proposal was dropped; retry'),
        );
      }
    }
  }

  private afterAdvance(rd: Ready): void {
    // Membership is applied inside the core at advance(): only now is the address book current.
    if (this.peersDirty) {
      this.peersDirty = false;
      this.refreshPeers();
    }
    for (const rs of rd.readStates) {
      if (this.readInFlight?.context !== rs.context) continue;
      const { waiters, timer } = this.readInFlight;
      clearTimeout(timer);
      this.readInFlight = null;
      this.appliedWaits.push({ index: rs.index, waiters });
      this.issueRead();
    }
    if (this.appliedWaits.length) {
      const applied = this.core.applied;
      for (let i = this.appliedWaits.length - 1; i >= 0; i--) {
        const aw = this.appliedWaits[i]!;
        if (aw.index > applied) continue;
        this.appliedWaits.splice(i, 1);
        for (const w of aw.waiters) {
          clearTimeout(w.timer);
          w.resolve();
        }
      }
    }
    const lead = rd.softState.lead;
    if (lead !== this.lastLead) {
      this.lastLead = lead;
      this.log.info({ raftId: this.opts.id, leader: lead, term: this.core.term }, 'raft leader changed');
      // A read index asked of the old leader will not come back: ask the new one (or fail fast).
      if (this.readInFlight) {
        clearTimeout(this.readInFlight.timer);
        this.readBatch.unshift(...this.readInFlight.waiters);
        this.readInFlight = null;
        this.issueRead();
      }
      for (const cb of [...this.leaderListeners]) {
        try {
          cb(lead);
        } catch (e) {
          this.log.warn({ err: String(e) }, 'leader change listener failed');
        }
      }
    }
  }

  private async takeSnapshot(): Promise<void> {
    const sm = this.opts.stateMachine;
    const bg = this.serialising;
    if (!bg && sm.snapshotLater) {
      // Capture now, serialise in the background; a later run() saves it (snapshotDue).
      const serialise = sm.snapshotLater();
      const started: NonNullable<RaftNode['serialising']> = {
        index: this.core.applied,
        conf: this.core.confState(),
        waiters: this.snapshotWaiters,
        rekey: this.rekeyDue() ? this.rekey : null,
      };
      this.serialising = started;
      this.snapshotWaiters = [];
      this.lastSnapshotIndex = started.index;
      this.bytesSinceSnapshot = 0;
      serialise().then(
        (data) => {
          if (this.serialising !== started || this.stopped) return;
          started.data = data;
          this.kick();
        },
        (e: unknown) => {
          if (this.serialising !== started || this.stopped) return;
          this.serialising = null;
          for (const w of started.waiters) w.reject(e instanceof Error ? e : new Error(String(e)));
          this.log.error({ raftId: this.opts.id, err: String(e) }, 'serialising a raft snapshot failed');
        },
      );
      return;
    }
    let index: number;
    let snap: Snapshot;
    let waiters: NonNullable<RaftNode['serialising']>['waiters'];
    let rekey: RaftNode['rekey'];
    if (bg) {
      if (!bg.data) return;
      this.serialising = null;
      ({ index, waiters, rekey } = bg);
      if (index <= this.core.latestSnapshot().meta.index) {
        // A snapshot from the leader came past it meanwhile: this one is of no use.
        for (const w of waiters) w.resolve({ index: this.core.latestSnapshot().meta.index, bytes: 0 });
        return;
      }
      snap = this.core.compact(index, bg.data, this.catchUpEntries, bg.conf);
    } else {
      index = this.core.applied;
      snap = this.core.compact(index, sm.snapshot(), this.catchUpEntries);
      this.lastSnapshotIndex = index;
      this.bytesSinceSnapshot = 0;
      waiters = this.snapshotWaiters;
      this.snapshotWaiters = [];
      rekey = this.rekeyDue() ? this.rekey : null;
    }
    try {
      await this.storage.saveSnapshot(snap);
      this.log.debug({ raftId: this.opts.id, index, bytes: snap.data.length }, 'raft snapshot taken');
      for (const w of waiters) w.resolve({ index, bytes: snap.data.length });
      if (rekey && this.rekey === rekey) {
        this.rekey = null;
        const inUse = [...this.storage.keysInUse()];
        this.log.info(
          { raftId: this.opts.id, index, keysInUse: inUse },
          'raft data re-sealed with the new data key',
        );
        for (const done of rekey.done) done(inUse);
      }
    } catch (e) {
      for (const w of waiters) w.reject(e instanceof Error ? e : new Error(String(e)));
      // The in-memory log is already compacted up to it: the disk no longer matches.
      this.fail(e, 'saving a raft snapshot failed');
    }
  }

  /** Storage failed, or the state machine cannot go on: stop at once and tell the process (see `failed`). */
  private fail(e: unknown, what: string, code: RaftErrorCode = 'io'): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.log.error({ raftId: this.opts.id, err: err.message }, `${what}; stopping the raft node`);
    this.resolveFailed(new RaftError(code, `${what}: ${err.message}`, { cause: err }));
    void this.stop();
  }

  private noteConfChange(cc: ConfChange): void {
    if (cc.addr) this.peerAddrs[cc.id] = cc.addr;
    this.peersDirty = true;
  }

  private refreshPeers(): void {
    const conf = this.core.confState();
    const addrs: Record<string, string> = {};
    for (const id of [...conf.voters, ...conf.learners]) {
      const a = conf.addrs[id] ?? this.peerAddrs[id];
      if (a && id !== this.opts.id) addrs[id] = a;
    }
    // Until the configuration is known (a joining node), talk to whoever was named.
    if (conf.voters.length === 0)
      for (const [id, a] of Object.entries(this.peerAddrs)) if (id !== this.opts.id) addrs[id] = a;
    // Until they are lost, messages to peers a standalone member's late transport does
    // not reach yet are as if the network had dropped them: raft sends them again.
    if (this.transport === NO_PEERS && Object.keys(addrs).length > 0 && !this.lateTransport)
      this.lateTransport = this.startTransport().then(
        (t) => {
          if (this.stopped) return t.close();
          this.transport = t;
          this.peersDirty = true;
          this.kick();
        },
        (e: unknown) => this.fail(e, 'starting the raft transport failed'),
      );
    this.transport.setPeers(addrs);
  }

  // ---------------------------------------------------------------- helpers

  private waitApplied(at: { index: number; term: number }, timeoutMs?: number): Promise<{ index: number }> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        term: at.term,
        resolve,
        reject,
        timer: setTimeout(() => {
          if (this.proposals.get(at.index) === w) this.proposals.delete(at.index);
          reject(
            new RaftError(
              'timeout',
              `proposal at index ${at.index} was not applied in time; its outcome is unknown`,
            ),
          );
        }, timeoutMs ?? DEFAULT_TIMEOUT_MS),
      };
      this.proposals.set(at.index, w);
    });
  }

  private settleProposal(index: number, w: Waiter, err: Error | null): void {
    this.proposals.delete(index);
    clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve({ index });
  }

  private async confChange(cc: ConfChange, opts?: { timeoutMs?: number }): Promise<void> {
    if (this.stopped) throw new RaftError('stopped', 'raft node is stopped');
    if (this.opts.standalone && cc.type !== 'remove')
      throw new RaftError(
        'invalid_argument',
        `raft node ${this.opts.id} is standalone (a single-node skiff): it takes no other members`,
      );
    const at = this.core.proposeConfChange(cc);
    this.kick();
    await this.waitApplied(at, opts?.timeoutMs);
  }

  private issueRead(): void {
    if (this.readInFlight || this.readBatch.length === 0 || this.stopped) return;
    const waiters = this.readBatch;
    this.readBatch = [];
    const context = `${this.opts.id}:${++this.readSeq}`;
    try {
      this.core.readIndex(context);
    } catch (e) {
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(e as Error);
      }
      return;
    }
    // If the answer is lost (leader change), give up on it after an election timeout and retry.
    const timer = setTimeout(
      () => {
        if (this.readInFlight?.context !== context) return;
        this.readInFlight = null;
        this.readBatch.unshift(...waiters);
        this.issueRead();
      },
      this.tickMs * this.core.electionTicks * 2,
    );
    this.readInFlight = { context, waiters, timer };
    this.kick();
  }

  private dropReadWaiter(w: ReadWaiter): void {
    const drop = (list: ReadWaiter[]) => {
      const i = list.indexOf(w);
      if (i >= 0) list.splice(i, 1);
    };
    drop(this.readBatch);
    if (this.readInFlight) drop(this.readInFlight.waiters);
    for (const aw of this.appliedWaits) drop(aw.waiters);
  }

  private allReadWaiters(): ReadWaiter[] {
    return [
      ...this.readBatch,
      ...(this.readInFlight?.waiters ?? []),
      ...this.appliedWaits.flatMap((a) => a.waiters),
    ];
  }

  private assertLeader(): void {
    if (this.core.role !== 'leader') {
      const lead = this.core.lead;
      throw new RaftError(
        'not_leader',
        lead ? `not the leader; the leader is ${lead}` : 'not the leader, and no leader is known yet',
        {
          leaderId: lead,
          leaderAddr: lead ? (this.core.confState().addrs[lead] ?? this.peerAddrs[lead]) : undefined,
        },
      );
    }
  }
}

const LEADER_EARLY: ReadonlySet<MessageType> = new Set(['app', 'heartbeat']);
const FOLLOWER_EARLY: ReadonlySet<MessageType> = new Set(['heartbeatResp']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The StateMachine contract's "do not go past this" (see StateMachine). */
function isHalt(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { halt?: unknown }).halt === true;
}
