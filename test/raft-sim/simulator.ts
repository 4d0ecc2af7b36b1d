// A seeded, deterministic cluster simulator for RaftCore: a virtual network that loses,
// delays, reorders and duplicates messages, cuts links one way or both, crashes nodes and
// restarts them from their "disk", and changes membership. Safety invariants are checked
// after every step; client histories are kept for the linearizability checker.

import { Reader, readMessage, Writer, writeMessage } from '../../manager/raft/codec.js';
import { RaftCore } from '../../manager/raft/core.js';
import { seededRandom } from '../../manager/raft/prng.js';
import type { ConfChange, Entry, HardState, Message, Ready, Snapshot } from '../../manager/raft/types.js';
import type { RegisterOp } from '../support/linearizability.js';

export interface SimOptions {
  seed: number;
  voters: 3 | 5;
  steps: number;
  /** Fault rates; the defaults are busy but leave the cluster able to make progress. */
  loss?: number;
  duplicate?: number;
  maxDelay?: number;
  membership?: boolean;
}

export interface SimResult {
  history: RegisterOp[];
  committedWrites: number;
  leaderElections: number;
  crashes: number;
  confChanges: number;
  finalPhaseWrites: number;
  snapshotsDelivered: number;
  transfers: number;
}

export class SimViolation extends Error {
  constructor(seed: number, step: number, what: string) {
    super(`seed ${seed}, step ${step}: ${what}`);
    this.name = 'SimViolation';
  }
}

interface Disk {
  hs: HardState;
  snap: Snapshot;
  entries: Entry[];
}

interface KvOp {
  key: string;
  value: string;
  client: number;
}

interface Node {
  id: string;
  core: RaftCore | null;
  disk: Disk;
  kv: Map<string, string>;
  recordedCommit: number;
  checkedLeaderTerm: number;
}

interface PendingClient {
  node: string;
  op: RegisterOp;
  kind: 'put' | 'get';
  index: number;
  data: Uint8Array | null;
  context: string;
  readIndex: number;
  deadline: number;
}

const DELAY_SLOTS = 64;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TICK_EVERY = 4;
/** Steps at the end of a run in which every member must catch up with the cluster. */
const CATCH_UP_STEPS = 200;

export function runSimulation(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}

class Simulation {
  private readonly rand: () => number;
  private readonly nodes = new Map<string, Node>();
  private readonly ids: string[];
  private readonly buckets: Message[][] = Array.from({ length: DELAY_SLOTS }, () => []);
  private blocked = new Set<string>();
  private now = 0;
  private clock = 0; // history timestamps
  private faults = true;
  private catchUpTarget = 0;

  // Invariant bookkeeping.
  private readonly leaderOfTerm = new Map<number, string>();
  private readonly logIdentity = new Map<number, { term: number; data: Uint8Array; prevTerm: number }>();
  private readonly committed: (Entry | undefined)[] = [];

  // Side tables: client ops by their (unique) value; snapshots by reference (never serialized).
  private readonly ops = new Map<string, KvOp>();
  private readonly snaps = new WeakMap<Uint8Array, Map<string, string>>();

  private readonly history: RegisterOp[] = [];
  private readonly clients: (PendingClient | null)[] = [null, null, null];
  private readonly leaderHint: string[] = ['', '', ''];
  private nextValue = 0;
  private nextContext = 0;
  private result: SimResult = {
    history: this.history,
    committedWrites: 0,
    leaderElections: 0,
    crashes: 0,
    confChanges: 0,
    finalPhaseWrites: 0,
    snapshotsDelivered: 0,
    transfers: 0,
  };

  private readonly loss: number;
  private readonly duplicate: number;
  private readonly maxDelay: number;

  constructor(private readonly opts: SimOptions) {
    this.rand = seededRandom(opts.seed);
    this.loss = opts.loss ?? 0.05;
    this.duplicate = opts.duplicate ?? 0.02;
    this.maxDelay = Math.min(opts.maxDelay ?? 6, DELAY_SLOTS - 1);
    const total = opts.voters + (opts.membership === false ? 0 : 2);
    this.ids = Array.from({ length: total }, (_, i) => `n${i + 1}`);
    const voters = this.ids.slice(0, opts.voters).map((id) => ({ id }));
    for (const [i, id] of this.ids.entries()) {
      const state = i < opts.voters ? RaftCore.bootstrapState(voters) : RaftCore.emptyState();
      const node: Node = {
        id,
        core: null,
        disk: { hs: state.hardState, snap: state.snapshot, entries: state.entries },
        kv: new Map(),
        recordedCommit: 0,
        checkedLeaderTerm: -1,
      };
      this.snaps.set(state.snapshot.data, new Map());
      this.nodes.set(id, node);
      this.start(node);
    }
  }

  run(): SimResult {
    const finalPhase = Math.floor(this.opts.steps * 0.8);
    for (this.now = 1; this.now <= this.opts.steps; this.now++) {
      if (this.now === finalPhase) this.enterFinalPhase();
      this.deliver();
      for (let i = 0; i < this.ids.length; i++) {
        if ((this.now + i) % TICK_EVERY === 0) this.nodes.get(this.ids[i]!)!.core?.tick();
      }
      this.clientActions();
      if (this.faults) this.injectFaults();
      for (const node of this.nodes.values()) this.processReady(node);
      this.expireClients();
      this.checkInvariants();
      if (this.now === this.opts.steps - CATCH_UP_STEPS) this.catchUpTarget = this.maxCommit();
    }
    this.checkCaughtUp();
    if (process.env.SIM_DEBUG) {
      for (const n of this.nodes.values()) {
        const c = n.core;
        console.log(
          n.id,
          c && {
            role: c.role,
            term: c.term,
            lead: c.lead,
            commit: c.commit,
            applied: c.applied,
            last: c.lastIndex(),
            transferee: c.transferee(),
            conf: c.confState(),
            prs: JSON.stringify(this.ids.map((id) => [id, c.progressOf(id)])),
          },
        );
      }
      console.log(
        'clients',
        this.clients.map((p) => p && { node: p.node, kind: p.kind, index: p.index, deadline: p.deadline }),
        this.leaderHint,
      );
    }
    // Outcomes never heard of are unknown: they may or may not have taken effect.
    for (const c of this.clients) {
      if (c?.kind === 'put') c.op.response = Number.POSITIVE_INFINITY;
      else if (c) this.dropOp(c.op);
    }
    return this.result;
  }

  // ---------------------------------------------------------------- network

  private send(m: Message): void {
    if (this.faults && this.rand() < this.loss) {
      if (m.type === 'snap') this.reportSnapshot(m, false);
      return;
    }
    this.enqueue(m);
    if (this.faults && this.rand() < this.duplicate) this.enqueue(m);
  }

  private enqueue(m: Message): void {
    // A sample of messages crosses the wire codec, as between real nodes (all would be slow).
    if (m.type !== 'snap' && this.rand() < 0.1) {
      const w = new Writer(64);
      writeMessage(w, m);
      m = readMessage(new Reader(w.finish(), 'simulated frame'));
    }
    const delay = 1 + Math.floor(this.rand() * this.maxDelay);
    this.buckets[(this.now + delay) % DELAY_SLOTS]!.push(m);
  }

  private deliver(): void {
    const slot = this.now % DELAY_SLOTS;
    const due = this.buckets[slot]!;
    if (due.length === 0) return;
    this.buckets[slot] = [];
    for (const m of due) {
      const core = this.nodes.get(m.to)?.core;
      if (m.type === 'snapStatus' || m.type === 'unreachable') {
        core?.step(m); // local transport reports travel no network
        continue;
      }
      const lost = !core || this.blocked.has(`${m.from}>${m.to}`);
      // Like the gRPC transport, the sender learns whether a snapshot stream went through.
      if (m.type === 'snap') this.reportSnapshot(m, !lost);
      if (!lost) {
        if (m.type === 'snap') this.result.snapshotsDelivered++;
        core.step(m);
      }
    }
  }

  private reportSnapshot(m: Message, ok: boolean): void {
    const report: Message = { type: 'snapStatus', from: m.to, to: m.from, term: 0 };
    if (!ok) report.reject = true;
    this.buckets[(this.now + 1) % DELAY_SLOTS]!.push(report);
  }

  // ---------------------------------------------------------------- nodes

  private start(node: Node): void {
    const d = node.disk;
    node.core = new RaftCore({
      id: node.id,
      state: { hardState: d.hs, snapshot: d.snap, entries: d.entries.slice() },
      random: this.rand,
      electionTicks: 10,
      heartbeatTicks: 1,
      maxInflight: 8,
      maxEntriesPerMsg: 16,
    });
    node.kv = new Map(this.snaps.get(d.snap.data) ?? []);
    node.recordedCommit = d.snap.meta.index;
    node.checkedLeaderTerm = -1;
  }

  private crash(node: Node): void {
    node.core = null;
    this.result.crashes++;
    for (let c = 0; c < this.clients.length; c++) {
      const p = this.clients[c];
      if (p?.node !== node.id) continue;
      if (p.kind === 'put') p.op.response = Number.POSITIVE_INFINITY;
      else this.dropOp(p.op);
      this.clients[c] = null;
    }
  }

  private processReady(node: Node): void {
    const core = node.core;
    if (!core) return;
    while (core.hasReady()) {
      const rd = core.ready();
      this.persist(node, core, rd);
      for (const m of rd.messages) this.send(m);
      if (rd.snapshot) node.kv = new Map(this.snaps.get(rd.snapshot.data) ?? []);
      for (const e of rd.committedEntries) this.apply(node, e);
      for (const rs of rd.readStates) {
        for (const p of this.clients) {
          if (p && p.kind === 'get' && p.node === node.id && p.context === rs.context) p.readIndex = rs.index;
        }
      }
      core.advance(rd);
      this.answerReads(node, core);
      if (core.applied - core.latestSnapshot().meta.index >= 40) {
        const data = new Uint8Array(0);
        this.snaps.set(data, new Map(node.kv));
        const snap = core.compact(core.applied, data, 8);
        node.disk.snap = snap;
        node.disk.entries = node.disk.entries.filter((e) => e.index > snap.meta.index);
      }
    }
  }

  private persist(node: Node, core: RaftCore, rd: Ready): void {
    const disk = node.disk;
    if (rd.snapshot) {
      disk.snap = rd.snapshot;
      disk.entries = [];
    }
    const first = rd.entries[0];
    if (first) {
      let prevTerm = core.termAt(first.index - 1);
      for (const e of rd.entries) {
        // Log matching, incrementally: an (index, term) pair names one entry with one predecessor.
        const key = e.index * 1048576 + e.term;
        const seen = this.logIdentity.get(key);
        if (seen) {
          if (seen.prevTerm !== prevTerm || !sameData(seen.data, e.data)) {
            this.fail(`log matching: ${node.id} holds a different entry at index ${e.index} term ${e.term}`);
          }
        } else this.logIdentity.set(key, { term: e.term, data: e.data, prevTerm });
        prevTerm = e.term;
      }
      const base = disk.entries.length ? disk.entries[0]!.index : disk.snap.meta.index + 1;
      if (first.index < base)
        this.fail(`${node.id} was asked to persist entry ${first.index} below its snapshot`);
      disk.entries.length = Math.min(disk.entries.length, first.index - base);
      for (const e of rd.entries) disk.entries.push(e);
    }
    if (rd.hardState) disk.hs = rd.hardState;
  }

  private apply(node: Node, e: Entry): void {
    const known = this.committed[e.index];
    if (known) {
      if (known.term !== e.term || !sameData(known.data, e.data)) {
        this.fail(`state machine safety: ${node.id} applied a different entry at index ${e.index}`);
      }
    } else this.committed[e.index] = e;
    const op = e.type === 'normal' && e.data.length > 0 ? this.ops.get(decoder.decode(e.data)) : undefined;
    if (op) node.kv.set(op.key, op.value);
    for (let c = 0; c < this.clients.length; c++) {
      const p = this.clients[c];
      if (p?.kind !== 'put' || p.node !== node.id || p.index !== e.index) continue;
      if (p.data && sameData(e.data, p.data)) {
        p.op.response = ++this.clock;
        this.result.committedWrites++;
        if (!this.faults) this.result.finalPhaseWrites++;
      } else this.dropOp(p.op); // overwritten: it never took effect
      this.clients[c] = null;
    }
  }

  private answerReads(node: Node, core: RaftCore): void {
    for (let c = 0; c < this.clients.length; c++) {
      const p = this.clients[c];
      if (p?.kind !== 'get' || p.node !== node.id || p.readIndex < 0 || core.applied < p.readIndex) continue;
      p.op.value = node.kv.get(p.op.key) ?? null;
      p.op.response = ++this.clock;
      this.clients[c] = null;
    }
  }

  // ---------------------------------------------------------------- clients

  private clientActions(): void {
    for (let c = 0; c < this.clients.length; c++) {
      if (this.clients[c] || this.rand() > 0.08) continue;
      const target = this.leaderHint[c] || this.ids[Math.floor(this.rand() * this.ids.length)]!;
      const node = this.nodes.get(target)!;
      const core = node.core;
      if (!core) {
        this.leaderHint[c] = '';
        continue;
      }
      const key = this.rand() < 0.5 ? 'x' : 'y';
      if (this.rand() < 0.6) {
        const value = `v${++this.nextValue}`;
        const data = encoder.encode(value);
        try {
          const { index } = core.propose(data);
          this.ops.set(value, { key, value, client: c });
          const op: RegisterOp = {
            kind: 'put',
            key,
            value,
            invoke: ++this.clock,
            response: Number.POSITIVE_INFINITY,
          };
          this.history.push(op);
          this.clients[c] = {
            node: target,
            op,
            kind: 'put',
            index,
            data,
            context: '',
            readIndex: -1,
            deadline: this.now + 150,
          };
        } catch {
          // Follow the hint mostly; removed nodes can hint at each other forever, so sometimes start over.
          this.leaderHint[c] = core.lead !== target && this.rand() < 0.7 ? core.lead : '';
        }
      } else {
        const context = `r${++this.nextContext}`;
        try {
          core.readIndex(context);
          const op: RegisterOp = {
            kind: 'get',
            key,
            value: null,
            invoke: ++this.clock,
            response: Number.POSITIVE_INFINITY,
          };
          this.history.push(op);
          this.clients[c] = {
            node: target,
            op,
            kind: 'get',
            index: 0,
            data: null,
            context,
            readIndex: -1,
            deadline: this.now + 60,
          };
        } catch {
          this.leaderHint[c] = '';
        }
      }
    }
  }

  private expireClients(): void {
    for (let c = 0; c < this.clients.length; c++) {
      const p = this.clients[c];
      if (!p || p.deadline > this.now) continue;
      if (p.kind === 'get') this.dropOp(p.op); // a read that never returned constrains nothing
      this.clients[c] = null;
      this.leaderHint[c] = '';
    }
  }

  private dropOp(op: RegisterOp): void {
    const i = this.history.lastIndexOf(op);
    if (i >= 0) this.history.splice(i, 1);
  }

  // ---------------------------------------------------------------- faults

  private injectFaults(): void {
    const r = this.rand();
    if (r < 0.004) {
      const live = [...this.nodes.values()].filter((n) => n.core);
      if (live.length > 1) this.crash(live[Math.floor(this.rand() * live.length)]!);
    } else if (r < 0.014) {
      const down = [...this.nodes.values()].filter((n) => !n.core);
      if (down.length) this.start(down[Math.floor(this.rand() * down.length)]!);
    } else if (r < 0.018) {
      this.blocked = new Set();
      const cuts = 1 + Math.floor(this.rand() * this.ids.length);
      for (let k = 0; k < cuts; k++) {
        const a = this.pick();
        const b = this.pick();
        if (a === b) continue;
        this.blocked.add(`${a}>${b}`);
        if (this.rand() < 0.5) this.blocked.add(`${b}>${a}`);
      }
    } else if (r < 0.028) {
      this.blocked = new Set();
    } else if (r < 0.031 && this.opts.membership !== false) {
      this.changeMembership();
    } else if (r < 0.033) {
      const leader = [...this.nodes.values()].find((n) => n.core?.role === 'leader')?.core;
      const voters = leader?.confState().voters.filter((v) => v !== leader.id) ?? [];
      const to = voters[Math.floor(this.rand() * voters.length)];
      if (leader && to) {
        leader.transferLeadership(to);
        this.result.transfers++;
      }
    }
  }

  private changeMembership(): void {
    const leader = [...this.nodes.values()].find((n) => n.core?.role === 'leader')?.core;
    if (!leader) return;
    const conf = leader.confState();
    const outside = this.ids.filter((id) => !conf.voters.includes(id) && !conf.learners.includes(id));
    const choices: ConfChange[] = [];
    for (const id of outside) choices.push({ type: 'addLearner', id });
    for (const id of conf.learners) choices.push({ type: 'promote', id }, { type: 'remove', id });
    if (conf.voters.length > 3) for (const id of conf.voters) choices.push({ type: 'remove', id });
    if (conf.voters.length < 5) for (const id of outside) choices.push({ type: 'addVoter', id });
    const cc = choices[Math.floor(this.rand() * choices.length)];
    if (!cc) return;
    try {
      leader.proposeConfChange(cc);
      this.result.confChanges++;
    } catch {
      // one change at a time: refused while another is pending
    }
  }

  private enterFinalPhase(): void {
    this.faults = false;
    this.blocked = new Set();
    for (const n of this.nodes.values()) if (!n.core) this.start(n);
  }

  private pick(): string {
    return this.ids[Math.floor(this.rand() * this.ids.length)]!;
  }

  // ---------------------------------------------------------------- invariants

  private checkInvariants(): void {
    let maxCommit = 0;
    for (const node of this.nodes.values()) {
      const core = node.core;
      if (!core) continue;
      // Record newly committed entries; two nodes must never commit different entries at one index.
      const lo = Math.max(node.recordedCommit, core.firstIndex() - 1);
      for (let i = lo + 1; i <= core.commit; i++) {
        const e = core.entryAt(i);
        if (!e) this.fail(`${node.id} has commit index ${core.commit} but no entry ${i}`);
        const known = this.committed[i];
        if (!known) this.committed[i] = e;
        else if (known.term !== e.term || !sameData(known.data, e.data)) {
          this.fail(`state machine safety: ${node.id} committed a different entry at index ${i}`);
        }
      }
      node.recordedCommit = Math.max(node.recordedCommit, core.commit);
      if (core.commit > maxCommit) maxCommit = core.commit;
    }
    for (const node of this.nodes.values()) {
      const core = node.core;
      if (core?.role !== 'leader') continue;
      const holder = this.leaderOfTerm.get(core.term);
      if (holder === undefined) {
        this.leaderOfTerm.set(core.term, node.id);
        this.result.leaderElections++;
      } else if (holder !== node.id) {
        this.fail(`election safety: ${holder} and ${node.id} both lead term ${core.term}`);
      }
      if (node.checkedLeaderTerm !== core.term) {
        node.checkedLeaderTerm = core.term;
        // Leader completeness: every entry committed before this term is in the new leader's log.
        for (let i = core.firstIndex(); i <= maxCommit; i++) {
          const c = this.committed[i];
          if (!c) continue;
          const e = core.entryAt(i);
          if (!e || e.term !== c.term || !sameData(e.data, c.data)) {
            this.fail(
              `leader completeness: leader ${node.id} of term ${core.term} lacks committed entry ${i}`,
            );
          }
        }
      }
    }
  }

  private maxCommit(): number {
    let max = 0;
    for (const n of this.nodes.values()) if (n.core && n.core.commit > max) max = n.core.commit;
    return max;
  }

  /** Liveness once the faults are gone: a leader exists and every member has caught up. */
  private checkCaughtUp(): void {
    const leader = [...this.nodes.values()].find((n) => n.core?.role === 'leader')?.core;
    if (!leader) this.fail('no leader at the end of the fault-free phase');
    const conf = leader.confState();
    for (const id of [...conf.voters, ...conf.learners]) {
      const core = this.nodes.get(id)?.core;
      if (!core || core.applied < this.catchUpTarget) {
        if (process.env.SIM_DEBUG)
          console.log(
            id,
            leader.id,
            JSON.stringify(leader.progressOf(id)),
            core && {
              term: core.term,
              role: core.role,
              lead: core.lead,
              commit: core.commit,
              applied: core.applied,
              last: core.lastIndex(),
              first: core.firstIndex(),
              conf: core.confState(),
            },
            'leader',
            {
              term: leader.term,
              last: leader.lastIndex(),
              first: leader.firstIndex(),
              commit: leader.commit,
            },
            [...this.blocked],
          );
        this.fail(
          `member ${id} did not catch up to index ${this.catchUpTarget} (applied ${core?.applied ?? 'none'})`,
        );
      }
    }
  }

  private fail(what: string): never {
    throw new SimViolation(this.opts.seed, this.now, what);
  }
}

function sameData(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
