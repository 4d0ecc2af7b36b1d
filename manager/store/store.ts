import type {
  Config,
  Logger,
  Node,
  Secret,
  Service,
  Swarm,
  SwarmNetwork,
  Task,
  TaskState,
} from '../../lib/index.js';
import { SkiffError, silentLogger } from '../../lib/index.js';
import type { SecretCipher } from './cipher.js';
import { newObjectId } from './ids.js';
import { encodeProposal, type Op, proposalIdOf, sameBytes, wireOp } from './proposal.js';
import type { Replicator } from './replicator.js';
import { freezeForLog, type StateMachine, StoreState } from './state.js';
import type { StoreEvent, TableName, Tables } from './tables.js';
import { Transaction } from './transaction.js';
import { matchesWatchFilter, Watch, type WatchFilter } from './watch.js';

export interface StoreOptions {
  cipher: SecretCipher;
  /** Can also be set later with `setReplicator` (raft needs the state machine first). */
  replicator?: Replicator;
  logger?: Logger;
  /** The proposer's clock for CreatedAt/UpdatedAt; tests pass a fixed one. */
  clock?: () => Date;
}

export interface TaskQuery {
  serviceId?: string;
  nodeId?: string;
  desiredState?: TaskState;
}

/** The read side of the store: synchronous reads of the local applied state. */
export type StoreView = Pick<
  Store,
  | 'appliedIndex'
  | 'getCluster'
  | 'getNode'
  | 'listNodes'
  | 'getService'
  | 'listServices'
  | 'getTask'
  | 'listTasks'
  | 'getNetwork'
  | 'listNetworks'
  | 'getSecret'
  | 'listSecrets'
  | 'getConfig'
  | 'listConfigs'
  | 'find'
>;

interface Listener {
  fn: (e: StoreEvent) => void;
  filter: WatchFilter | undefined;
}

/**
 * The manager's replicated cluster state. Reads are synchronous, from the local
 * applied copy; every write is a `Transaction` proposed through the replicator and
 * visible once applied. Objects returned are frozen: copy (`structuredClone`) to change.
 */
export class Store {
  readonly state = new StoreState();
  private replicator: Replicator | undefined;
  private readonly cipher: SecretCipher;
  private readonly log: Logger;
  private readonly clock: () => Date;
  private readonly listeners = new Set<Listener>();
  private readonly indexWaiters = new Set<{ index: number; resolve: () => void }>();
  /** Outcomes of this process's own proposals, filled in by apply. */
  private readonly waiting = new Map<
    string,
    { error: SkiffError | undefined; applied: boolean; data?: Uint8Array; ops?: Op[] }
  >();

  constructor(options: StoreOptions) {
    this.cipher = options.cipher;
    this.replicator = options.replicator;
    this.log = (options.logger ?? silentLogger).child({ component: 'store' });
    this.clock = options.clock ?? (() => new Date());
    this.state.hooks = {
      onOutcome: (id, error) => {
        const w = this.waiting.get(id);
        if (w) {
          w.error = error;
          w.applied = true;
        }
      },
      ownProposal: (data) => {
        // This process proposed it: apply the ops it encoded (frozen since) instead of
        // decoding them again, once the bytes prove they are the ones in the log.
        const id = proposalIdOf(data);
        const w = id === undefined ? undefined : this.waiting.get(id);
        if (!w?.data || !w.ops || !sameBytes(w.data, data)) return undefined;
        return { v: 1, id: id as string, ops: w.ops };
      },
      onEvents: (events) => this.emit(events),
      onApplied: (index) => this.wakeIndexWaiters(index),
      onCorruptEntry: (index, error) =>
        this.log.error({ index, err: error.message }, 'skipped a corrupt store log entry'),
    };
  }

  /**
   * Resolves once the local state has applied `index` (e.g. a write the leader made),
   * so a follower can read its own forwarded writes; rejects with 'timeout'.
   */
  waitForIndex(index: number, timeoutMs: number): Promise<void> {
    if (this.state.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = {
        index,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.indexWaiters.delete(w);
        reject(
          new SkiffError('timeout', `this manager has not applied log index ${index} within ${timeoutMs}ms`),
        );
      }, timeoutMs);
      this.indexWaiters.add(w);
    });
  }

  private wakeIndexWaiters(applied: number): void {
    for (const w of this.indexWaiters) {
      if (w.index <= applied) {
        this.indexWaiters.delete(w);
        w.resolve();
      }
    }
  }

  /** The state machine raft applies entries to. */
  get stateMachine(): StateMachine {
    return this.state;
  }

  setReplicator(r: Replicator): void {
    this.replicator = r;
  }

  get appliedIndex(): number {
    return this.state.appliedIndex;
  }

  isLeader(): boolean {
    return this.replicator?.isLeader() ?? false;
  }

  // ------------------------------------------------------------------ writes

  /**
   * Runs `fn` against a transaction and proposes its writes as one all-or-nothing
   * proposal. Resolves with `fn`'s result once applied locally; rejects with the
   * SkiffError that apply raised ('conflict' for a stale version, 'already_exists',
   * 'not_found', …) or that the replicator raised ('not_leader', 'timeout').
   * `precheck: false` skips validating the writes locally before proposing them.
   */
  async update<T>(fn: (tx: Transaction) => T, opts: { precheck?: boolean } = {}): Promise<T> {
    const replicator = this.replicator;
    if (!replicator)
      throw new SkiffError('unavailable', 'the store has no replicator yet; the manager is starting');
    const tx = new Transaction(this.state, this.clock().toISOString(), this.cipher);
    const result = fn(tx);
    const ops = tx.takeOps();
    if (ops.length === 0) return result;
    // Fail fast on what would fail in apply anyway, without a trip through the log. Writers
    // that rarely fail and write a lot (the leader loops) skip it: apply checks the same.
    if (opts.precheck !== false) {
      const early = this.state.check(ops);
      if (early) throw early;
    }
    const id = newObjectId();
    const wire = ops.map((op) =>
      op.op === 'update' ? wireOp(op, this.state.get(op.table, op.object.ID)) : op,
    );
    // Frozen from here on, so what this store applies is what it encoded (a writer changing
    // an object it handed to the transaction now throws instead of diverging); reused at
    // apply only when JSON round-trips it exactly.
    const exact = freezeForLog(wire);
    const data = encodeProposal({ v: 1, id, ops: wire });
    const outcome = {
      error: undefined as SkiffError | undefined,
      applied: false,
      ...(exact ? { data, ops: wire } : {}),
    };
    this.waiting.set(id, outcome);
    try {
      await replicator.propose(data);
    } finally {
      this.waiting.delete(id);
    }
    if (outcome.error) throw outcome.error;
    if (!outcome.applied) {
      throw new SkiffError(
        'internal',
        'the replicator reported the proposal committed but it was not applied locally',
      );
    }
    return result;
  }

  // ------------------------------------------------------------------- reads

  /** The read-only side, for components that must not write. */
  view(): StoreView {
    return this;
  }

  getCluster(): Swarm | undefined {
    return this.state.values('cluster').next().value;
  }

  getNode(idOrName: string): Node | undefined {
    const exact = this.state.get('nodes', idOrName);
    if (exact) return exact;
    const all = [...this.state.values('nodes')];
    const byName = all.filter((n) => n.Spec.Name === idOrName || n.Description?.Hostname === idOrName);
    if (byName.length === 1) return byName[0];
    return uniquePrefix(all, idOrName);
  }

  listNodes(pred?: (n: Node) => boolean): Node[] {
    return list(this.state.values('nodes'), pred);
  }

  getService(idOrName: string): Service | undefined {
    return this.find('services', idOrName);
  }

  listServices(pred?: (s: Service) => boolean): Service[] {
    return list(this.state.values('services'), pred);
  }

  getTask(id: string): Task | undefined {
    return this.state.get('tasks', id) ?? uniquePrefix([...this.state.values('tasks')], id);
  }

  /** The IDs of the services that have tasks, removed services included. */
  taskServiceIds(): string[] {
    return [...this.state.taskServiceIds()];
  }

  listTasks(q: TaskQuery = {}, pred?: (t: Task) => boolean): Task[] {
    // The per-service and per-node indexes keep these reads proportional to the answer.
    const from =
      q.serviceId !== undefined
        ? this.state.tasksBy('service', q.serviceId)
        : q.nodeId !== undefined
          ? this.state.tasksBy('node', q.nodeId)
          : this.state.values('tasks');
    return list(
      from,
      (t) =>
        (q.serviceId === undefined || t.ServiceID === q.serviceId) &&
        (q.nodeId === undefined || t.NodeID === q.nodeId) &&
        (q.desiredState === undefined || t.DesiredState === q.desiredState) &&
        (pred === undefined || pred(t)),
    );
  }

  getNetwork(idOrName: string): SwarmNetwork | undefined {
    return this.find('networks', idOrName);
  }

  listNetworks(pred?: (n: SwarmNetwork) => boolean): SwarmNetwork[] {
    return list(this.state.values('networks'), pred);
  }

  /** The secret object; its `Spec.Data` is never present. Use `getSecretData` for the bytes. */
  getSecret(idOrName: string): Secret | undefined {
    return this.find('secrets', idOrName);
  }

  listSecrets(pred?: (s: Secret) => boolean): Secret[] {
    return list(this.state.values('secrets'), pred);
  }

  /** Decrypts a secret's data, for handing to the tasks that use it. Never log the result. */
  getSecretData(id: string): Uint8Array | undefined {
    const sealed = this.state.sealedData(id);
    return sealed === undefined ? undefined : this.cipher.open(sealed, id);
  }

  /** Seals a value with the store's key (for values kept in objects, such as the unlock key). */
  seal(plain: Uint8Array, context: string): string {
    return this.cipher.seal(plain, context);
  }

  /** Opens a value sealed with `seal`. Never log the result. */
  open(sealed: string, context: string): Uint8Array {
    return this.cipher.open(sealed, context);
  }

  getConfig(idOrName: string): Config | undefined {
    return this.find('configs', idOrName);
  }

  listConfigs(pred?: (c: Config) => boolean): Config[] {
    return list(this.state.values('configs'), pred);
  }

  /** By ID, then by exact name, then by unique ID prefix (as the docker CLI resolves references). */
  find<T extends TableName>(table: T, idOrName: string): Tables[T] | undefined {
    const exact = this.state.get(table, idOrName);
    if (exact) return exact;
    const all = [...this.state.values(table)];
    const named = all.find((o) => (o as { Spec?: { Name?: string } }).Spec?.Name === idOrName);
    return named ?? uniquePrefix(all, idOrName);
  }

  // ----------------------------------------------------------------- watches

  /**
   * Calls `fn` for every change after it was applied, in log order. Reading the
   * state and subscribing in the same synchronous step misses nothing.
   * Returns the unsubscribe function.
   */
  subscribe(fn: (e: StoreEvent) => void, filter?: WatchFilter): () => void {
    const l: Listener = { fn, filter };
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  }

  /** The same changes as an async iterable; `close()` it when done. */
  watch(filter?: WatchFilter): Watch {
    let unsubscribe = () => {};
    const w = new Watch(() => unsubscribe());
    unsubscribe = this.subscribe((e) => w.push(e), filter);
    return w;
  }

  private emit(events: StoreEvent[]): void {
    // One copy per applied proposal (a thousand events), not per event; a listener gone
    // in the meantime is skipped.
    const listeners = [...this.listeners];
    for (const e of events) {
      for (const l of listeners) {
        if (!matchesWatchFilter(e, l.filter) || !this.listeners.has(l)) continue;
        try {
          l.fn(e);
        } catch (err) {
          // A broken watcher must not stop the state machine or other watchers.
          this.log.error({ err, table: e.table, id: e.object.ID }, 'store watcher threw');
        }
      }
    }
  }
}

function list<T>(it: Iterable<T>, pred?: (o: T) => boolean): T[] {
  const out: T[] = [];
  for (const o of it) if (!pred || pred(o)) out.push(o);
  return out;
}

function uniquePrefix<T extends { ID: string }>(all: T[], prefix: string): T | undefined {
  if (prefix.length === 0) return undefined;
  const hits = all.filter((o) => o.ID.startsWith(prefix));
  return hits.length === 1 ? hits[0] : undefined;
}
