import type { Service, SwarmNetwork, Task } from '../../lib/index.js';
import { publishesThroughMesh, SkiffError, usesIngressNetwork } from '../../lib/index.js';
import { JsonChunks, parseBigJson } from './big-json.js';
import { STORE_FORMAT, StoreFormatError, storeFormatOf } from './format.js';
import { applyPatch, decodeProposal, isRecord, type Op, type Proposal } from './proposal.js';
import {
  NAMED_TABLES,
  objectNoun,
  type StoredObject,
  type StoreEvent,
  TABLE_NAMES,
  type TableName,
  type Tables,
} from './tables.js';

/** The entry shape the replicated log hands to a state machine (the raft contract). */
export interface LogEntry {
  index: number;
  term: number;
  data: Uint8Array;
}

/** What raft drives: apply committed entries in order, take and restore snapshots. */
export interface StateMachine {
  apply(entry: LogEntry): void;
  snapshot(): Uint8Array;
  /** The state as of now, serialised later without holding the event loop (see StoreState). */
  snapshotLater?(): () => Promise<Uint8Array>;
  restore(snapshot: Uint8Array): void;
}

export interface StoreStateHooks {
  /** Called for every applied proposal with its ID and, when it was rejected, why. */
  onOutcome?(proposalId: string, error: SkiffError | undefined, index: number): void;
  /** Called with the changes of one applied proposal, in order. */
  onEvents?(events: StoreEvent[]): void;
  /** The already-decoded proposal when this process encoded `data` itself (skips decoding). */
  ownProposal?(data: Uint8Array): Proposal | undefined;
  /** Called when a log entry cannot be decoded (a bug or corruption; the entry is skipped). */
  onCorruptEntry?(index: number, error: SkiffError): void;
  /** Called after every entry or snapshot, with the new applied index. */
  onApplied?(index: number): void;
}

type TableMaps = { [T in TableName]: Map<string, Tables[T]> };

interface SnapshotBody {
  v: typeof STORE_FORMAT;
  appliedIndex: number;
  tables: Record<string, unknown[]>;
  sealed: [string, string][];
}

/**
 * The store's deterministic state machine: tables of Docker-API-shaped objects changed
 * only by applying proposals. Given the same entries in the same order every manager
 * ends with the same tables; nothing here reads the clock, randomness or the disk.
 */
export class StoreState implements StateMachine {
  private tables: TableMaps = emptyTables();
  /** Sealed (encrypted) secret data by secret ID; never in clear here. */
  private sealed = new Map<string, string>();
  private applied = 0;
  /** Task IDs by ServiceID and by NodeID: the leader loops and the dispatcher read tasks per service or node. */
  private tasksByService = new Map<string, Set<string>>();
  private tasksByNode = new Map<string, Set<string>>();
  /**
   * Per service, the task Spec its tasks share: a task decoded from the log or a snapshot
   * would otherwise hold a copy of its own (the proposer's tasks already share theirs).
   */
  private specs = new Map<string, { spec: unknown; json: string | undefined }>();
  /**
   * Per named table, the ID holding each name: a create checks its name here instead of
   * scanning the table (10,000 service creates scanned 50 million services on each manager).
   */
  private names = new Map<TableName, Map<string, string>>();
  hooks: StoreStateHooks = {};

  get appliedIndex(): number {
    return this.applied;
  }

  get<T extends TableName>(table: T, id: string): Tables[T] | undefined {
    return (this.tables[table] as Map<string, Tables[T]>).get(id);
  }

  values<T extends TableName>(table: T): IterableIterator<Tables[T]> {
    return (this.tables[table] as Map<string, Tables[T]>).values();
  }

  /** The tasks of one service (`by: 'service'`) or on one node (`by: 'node'`), from the index. */
  tasksBy(by: 'service' | 'node', id: string): Task[] {
    const ids = (by === 'service' ? this.tasksByService : this.tasksByNode).get(id);
    const out: Task[] = [];
    if (!ids) return out;
    for (const tid of ids) {
      const t = this.tables.tasks.get(tid);
      if (t) out.push(t);
    }
    return out;
  }

  /** The services that have tasks (removed ones too, until their tasks are gone). */
  taskServiceIds(): IterableIterator<string> {
    return this.tasksByService.keys();
  }

  /** Points a task still being stored at the Spec its service's tasks share, when equal. */
  private sharedSpec(t: Task): Task {
    const spec: unknown = t.Spec;
    if (!t.ServiceID || typeof spec !== 'object' || spec === null) return t;
    const had = this.specs.get(t.ServiceID);
    if (had?.spec === spec) return t;
    if (Object.isFrozen(t)) {
      // This proposer's own task: its Spec is the one of the service object (frozen, shared).
      if (Object.isFrozen(spec)) this.specs.set(t.ServiceID, { spec, json: undefined });
      return t;
    }
    const json = JSON.stringify(spec);
    if (had) {
      had.json ??= JSON.stringify(had.spec);
      if (had.json === json) {
        (t as { Spec: unknown }).Spec = had.spec;
        return t;
      }
    }
    this.specs.set(t.ServiceID, { spec, json });
    return t;
  }

  private indexTask(t: Task | undefined, add: boolean): void {
    if (!t) return;
    if (t.ServiceID) setIndex(this.tasksByService, t.ServiceID, t.ID, add);
    if (t.NodeID) setIndex(this.tasksByNode, t.NodeID, t.ID, add);
  }

  /** Moves a task between index entries; an unchanged key keeps its place (reads stay in creation order). */
  private reindexTask(before: Task | undefined, after: Task | undefined): void {
    if (before?.ServiceID !== after?.ServiceID) {
      if (before?.ServiceID) {
        setIndex(this.tasksByService, before.ServiceID, before.ID, false);
        if (!this.tasksByService.has(before.ServiceID)) this.specs.delete(before.ServiceID);
      }
      if (after?.ServiceID) setIndex(this.tasksByService, after.ServiceID, after.ID, true);
    }
    if (before?.NodeID !== after?.NodeID) {
      if (before?.NodeID) setIndex(this.tasksByNode, before.NodeID, before.ID, false);
      if (after?.NodeID) setIndex(this.tasksByNode, after.NodeID, after.ID, true);
    }
  }

  private reindex(): void {
    this.tasksByService = new Map();
    this.tasksByNode = new Map();
    for (const t of this.tables.tasks.values()) this.indexTask(t, true);
    this.names = new Map();
    for (const t of NAMED_TABLES)
      for (const o of (this.tables[t] as Map<string, StoredObject>).values()) this.renamed(t, undefined, o);
  }

  /** Keeps the name index of a named table current for a write of `after` over `before`. */
  private renamed(t: TableName, before: StoredObject | undefined, after: StoredObject | undefined): void {
    let byName = this.names.get(t);
    if (!byName) {
      byName = new Map();
      this.names.set(t, byName);
    }
    const was = before && specName(before);
    if (was !== undefined && byName.get(was) === before?.ID) byName.delete(was);
    const now = after && specName(after);
    if (now !== undefined) byName.set(now, after!.ID);
  }

  sealedData(secretId: string): string | undefined {
    return this.sealed.get(secretId);
  }

  /** Checks ops against the current state without changing anything; undefined when they would apply. */
  check(ops: Op[]): SkiffError | undefined {
    return this.run(ops, this.applied + 1, false).error;
  }

  apply(entry: LogEntry): void {
    if (entry.index <= this.applied) return; // already in the state (e.g. replay after a snapshot)
    try {
      this.applyOne(entry);
    } finally {
      this.hooks.onApplied?.(this.applied);
    }
  }

  private applyOne(entry: LogEntry): void {
    const before = this.applied;
    this.applied = entry.index;
    if (entry.data.length === 0) return; // raft's no-op entries
    let proposal: ReturnType<typeof decodeProposal>;
    try {
      proposal = this.hooks.ownProposal?.(entry.data) ?? decodeProposal(entry.data, entry.index);
    } catch (e) {
      // A newer format is not damage: it stops this manager instead of being skipped.
      if (e instanceof StoreFormatError) {
        this.applied = before;
        throw e;
      }
      const err = e instanceof SkiffError ? e : new SkiffError('corrupt', String(e));
      this.hooks.onCorruptEntry?.(entry.index, err);
      return;
    }
    const { error, events } = this.run(proposal.ops, entry.index, true);
    this.hooks.onOutcome?.(proposal.id, error, entry.index);
    if (!error && events.length > 0) this.hooks.onEvents?.(events);
  }

  snapshot(): Uint8Array {
    const w = this.snapshotWriter();
    while (!w.step(Number.POSITIVE_INFINITY)) {
      // one step writes everything
    }
    return w.out.finish();
  }

  /**
   * The state as of now, serialised later in slices of about `sliceMs` that let the event
   * loop in between: the same bytes as snapshot() now. Stored objects are frozen, so holding
   * the tables' current values is enough to keep this view while applies go on. A million
   * tasks are seconds of JSON: written in one go, a manager is deaf that long, and when the
   * followers snapshot at the same index the leader loses check-quorum (the 1M placement run).
   */
  snapshotLater(sliceMs = 10): () => Promise<Uint8Array> {
    const w = this.snapshotWriter();
    return async () => {
      while (!w.step(performance.now() + sliceMs)) await new Promise((r) => setImmediate(r));
      return w.out.finish();
    };
  }

  /**
   * Writes the snapshot body of the state as of this call, one object at a time (a million
   * tasks make more text than one JS string can hold); `step` writes until `deadline`
   * (performance.now()) and says whether it finished.
   */
  private snapshotWriter(): { out: JsonChunks; step(deadline: number): boolean } {
    const out = new JsonChunks();
    const tables = TABLE_NAMES.map((t) => ({
      name: t,
      rows: Array.from(this.tables[t].values() as IterableIterator<StoredObject>),
    }));
    const sealed = JSON.stringify([...this.sealed]);
    out.put(`{"v":${STORE_FORMAT},"appliedIndex":${this.applied},"tables":{`);
    let table = 0;
    let row = 0;
    return {
      out,
      step(deadline) {
        for (; table < tables.length; table++, row = 0) {
          const { name, rows } = tables[table]!;
          if (row === 0) out.put(`${table === 0 ? '' : ','}${JSON.stringify(name)}:[`);
          while (row < rows.length) {
            const json = JSON.stringify(rows[row]);
            out.put(row === 0 ? json : `,${json}`);
            row++;
            // The clock is read every 256 objects only.
            if ((row & 255) === 0 && row < rows.length && performance.now() >= deadline) return false;
          }
          out.put(']');
        }
        if (table === tables.length) {
          out.put(`},"sealed":${sealed}}`);
          table++;
        }
        return true;
      },
    };
  }

  restore(snapshot: Uint8Array): void {
    const body = parseSnapshot(snapshot);
    const next = emptyTables();
    this.specs = new Map();
    for (const t of TABLE_NAMES) {
      const m = next[t] as Map<string, StoredObject>;
      for (const o of body.tables[t] ?? []) {
        const stored = t === 'tasks' ? this.sharedSpec(o as Task) : (o as StoredObject);
        m.set(stored.ID, deepFreeze(stored));
      }
    }
    // Tell watchers what changed, so an orchestrator that was watching sees the same
    // world it would have seen by applying the entries one by one.
    const events: StoreEvent[] = [];
    for (const t of TABLE_NAMES) {
      const before = this.tables[t] as Map<string, StoredObject>;
      const after = next[t] as Map<string, StoredObject>;
      for (const [id, o] of after) {
        const old = before.get(id);
        if (!old) events.push(event('create', t, o, undefined, body.appliedIndex));
        else if (old.Version.Index !== o.Version.Index)
          events.push(event('update', t, o, old, body.appliedIndex));
      }
      for (const [id, o] of before)
        if (!after.has(id)) events.push(event('delete', t, o, undefined, body.appliedIndex));
    }
    this.tables = next;
    this.reindex();
    this.sealed = new Map(body.sealed);
    this.applied = body.appliedIndex;
    if (events.length > 0) this.hooks.onEvents?.(events);
    this.hooks.onApplied?.(this.applied);
  }

  /** Runs ops against an overlay of the tables; commits only when every op is valid. */
  private run(ops: Op[], index: number, commit: boolean): { error?: SkiffError; events: StoreEvent[] } {
    // Writes of this batch per table (null: deleted), over the committed tables.
    const overlay = new Map<TableName, Map<string, StoredObject | null>>();
    const layer = (t: TableName): Map<string, StoredObject | null> => {
      let m = overlay.get(t);
      if (!m) {
        m = new Map();
        overlay.set(t, m);
      }
      return m;
    };
    const get = (t: TableName, id: string): StoredObject | undefined => {
      const m = overlay.get(t);
      if (m?.has(id)) return m.get(id) ?? undefined;
      return (this.tables[t] as Map<string, StoredObject>).get(id);
    };
    const all = (t: TableName): StoredObject[] => {
      const m = overlay.get(t);
      const out: StoredObject[] = [];
      for (const [id, o] of this.tables[t] as Map<string, StoredObject>) if (!m?.has(id)) out.push(o);
      if (m) for (const o of m.values()) if (o) out.push(o);
      return out;
    };
    const nameTaken = (t: TableName, name: string | undefined, exceptId: string): boolean => {
      if (name === undefined) return false;
      const m = overlay.get(t);
      // The committed holder, unless this batch rewrote it (then its new name is in the overlay).
      const holder = this.names.get(t)?.get(name);
      if (holder !== undefined && holder !== exceptId && !m?.has(holder)) return true;
      if (m) for (const [id, o] of m) if (o && id !== exceptId && specName(o) === name) return true;
      return false;
    };

    const events: StoreEvent[] = [];
    const sealedSets: [string, string][] = [];
    const deleted: { table: TableName; object: StoredObject }[] = [];
    for (const op of ops) {
      const noun = objectNoun(op.table);
      if (op.op === 'create') {
        const o = op.object;
        if (get(op.table, o.ID)) return fail('already_exists', `${noun} ${o.ID} already exists`);
        if (op.table === 'cluster' && all('cluster').length > 0)
          return fail('already_exists', 'the cluster object already exists');
        if (NAMED_TABLES.has(op.table)) {
          const name = specName(o);
          if (!name) return fail('invalid_argument', `${noun} needs a name`);
          if (nameTaken(op.table, name, o.ID))
            return fail('already_exists', `${noun} ${name} already exists`);
        }
        const stored = { ...o, Version: { Index: index } } as StoredObject;
        layer(op.table).set(o.ID, stored);
        if (op.table === 'secrets' && op.sealedData !== undefined) sealedSets.push([o.ID, op.sealedData]);
        events.push(event('create', op.table, stored, undefined, index));
      } else if (op.op === 'update' || op.op === 'patch') {
        const id = op.op === 'update' ? op.object.ID : op.id;
        const cur = get(op.table, id);
        if (!cur) return fail('not_found', `${noun} ${id} not found`);
        const based = op.op === 'update' ? op.object.Version?.Index : op.version;
        if (based !== cur.Version.Index) {
          return fail(
            'conflict',
            `update out of sequence: ${noun} ${id} is at version ${cur.Version.Index}, the update was based on version ${based}`,
          );
        }
        const o = op.op === 'update' ? op.object : applyPatch(cur, op);
        if (NAMED_TABLES.has(op.table)) {
          const name = specName(o);
          if (!name) return fail('invalid_argument', `${noun} needs a name`);
          if (name !== specName(cur) && nameTaken(op.table, name, o.ID)) {
            return fail('already_exists', `${noun} ${name} already exists`);
          }
        }
        // A patch already made a fresh object: stamp it instead of copying it again.
        const stored = (
          op.op === 'patch'
            ? Object.assign(o, { CreatedAt: cur.CreatedAt, Version: { Index: index } })
            : { ...o, CreatedAt: cur.CreatedAt, Version: { Index: index } }
        ) as StoredObject;
        layer(op.table).set(o.ID, stored);
        events.push(event('update', op.table, stored, cur, index));
      } else {
        const cur = get(op.table, op.id);
        if (!cur) return fail('not_found', `${noun} ${op.id} not found`);
        if (op.version !== undefined && op.version !== cur.Version.Index) {
          return fail(
            'conflict',
            `delete out of sequence: ${noun} ${op.id} is at version ${cur.Version.Index}`,
          );
        }
        layer(op.table).set(op.id, null);
        deleted.push({ table: op.table, object: cur });
        events.push(event('delete', op.table, cur, undefined, index));
      }
    }
    // Objects services depend on cannot go while a service still refers to them.
    for (const d of deleted) {
      if (d.table !== 'secrets' && d.table !== 'configs' && d.table !== 'networks') continue;
      if (get(d.table, d.object.ID)) continue; // re-created in the same batch
      const name = specName(d.object) ?? '';
      const user = (all('services') as Service[]).find((s) => serviceRefersTo(s, d.table, d.object.ID, name));
      if (user) {
        return fail(
          'invalid_argument',
          `${objectNoun(d.table)} ${name} is in use by service ${user.Spec.Name ?? user.ID}`,
          'remove the service or remove the reference from it first',
        );
      }
      const publisher =
        d.table === 'networks' && (d.object as SwarmNetwork).Spec.Ingress === true
          ? (all('services') as Service[]).find(
              (s) => usesIngressNetwork(s.Spec) || publishesThroughMesh(s.Spec),
            )
          : undefined;
      if (publisher) {
        return fail(
          'invalid_argument',
          `network ${name} is in use by service ${publisher.Spec.Name ?? publisher.ID}: its tasks join the ingress network (it publishes ports in ingress mode, or without a network of its own)`,
          'remove the service first',
        );
      }
    }
    if (!commit) return { events: [] };
    for (const [t, writes] of overlay) {
      const m = this.tables[t] as Map<string, StoredObject>;
      for (const [id, o] of writes) {
        if (t === 'tasks')
          this.reindexTask(m.get(id) as Task | undefined, (o ?? undefined) as Task | undefined);
        else if (NAMED_TABLES.has(t)) this.renamed(t, m.get(id), o ?? undefined);
        if (o) m.set(id, deepFreeze(t === 'tasks' ? this.sharedSpec(o as Task) : o));
        else {
          m.delete(id);
          if (t === 'secrets') this.sealed.delete(id);
        }
      }
    }
    for (const [id, s] of sealedSets) this.sealed.set(id, s);
    return { events };
  }
}

function setIndex(index: Map<string, Set<string>>, key: string, id: string, add: boolean): void {
  const ids = index.get(key);
  if (add) {
    if (ids) ids.add(id);
    else index.set(key, new Set([id]));
  } else if (ids) {
    ids.delete(id);
    if (ids.size === 0) index.delete(key);
  }
}

function fail(
  code: 'already_exists' | 'not_found' | 'conflict' | 'invalid_argument',
  message: string,
  hint?: string,
) {
  return { error: new SkiffError(code, message, hint === undefined ? undefined : { hint }), events: [] };
}

function event(
  kind: StoreEvent['kind'],
  table: TableName,
  object: StoredObject,
  old: StoredObject | undefined,
  index: number,
) {
  return (
    old === undefined ? { kind, table, object, index } : { kind, table, object, old, index }
  ) as StoreEvent;
}

function specName(o: StoredObject): string | undefined {
  const spec = (o as { Spec?: { Name?: unknown } }).Spec;
  return typeof spec?.Name === 'string' ? spec.Name : undefined;
}

function serviceRefersTo(s: Service, table: TableName, id: string, name: string): boolean {
  const t = s.Spec.TaskTemplate;
  const match = (x: string | undefined) => x !== undefined && (x === id || x === name);
  if (table === 'secrets') return (t?.ContainerSpec?.Secrets ?? []).some((r) => match(r.SecretID));
  if (table === 'configs') return (t?.ContainerSpec?.Configs ?? []).some((r) => match(r.ConfigID));
  return [...(t?.Networks ?? []), ...(s.Spec.Networks ?? [])].some((n) => match(n.Target));
}

function emptyTables(): TableMaps {
  return {
    cluster: new Map(),
    nodes: new Map(),
    services: new Map(),
    tasks: new Map(),
    networks: new Map(),
    secrets: new Map(),
    configs: new Map(),
  };
}

function parseSnapshot(data: Uint8Array): SnapshotBody {
  let raw: unknown;
  try {
    raw = parseBigJson(data);
  } catch {
    throw new SkiffError('corrupt', 'store snapshot is not valid JSON');
  }
  if (isRecord(raw)) storeFormatOf(raw, 'the store snapshot');
  if (
    !isRecord(raw) ||
    typeof raw.appliedIndex !== 'number' ||
    !isRecord(raw.tables) ||
    !Array.isArray(raw.sealed)
  ) {
    throw new SkiffError('corrupt', 'store snapshot lacks appliedIndex/tables/sealed');
  }
  for (const t of TABLE_NAMES) {
    const rows = raw.tables[t];
    if (rows === undefined) continue;
    if (
      !Array.isArray(rows) ||
      rows.some((o) => !isRecord(o) || typeof o.ID !== 'string' || !isRecord(o.Version))
    ) {
      throw new SkiffError('corrupt', `store snapshot table ${t} holds an object without ID/Version`);
    }
  }
  for (const s of raw.sealed) {
    if (!Array.isArray(s) || typeof s[0] !== 'string' || typeof s[1] !== 'string') {
      throw new SkiffError('corrupt', 'store snapshot has a malformed sealed secret entry');
    }
  }
  return { ...raw, v: STORE_FORMAT } as unknown as SnapshotBody;
}

/** Stored objects are shared with every reader; freezing makes an accidental in-place change throw. */
export function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) freezeTree(o);
  return o;
}

// The hot path of every apply: no array of values per object, no call per primitive.
// An already-frozen subtree (shared with an object already in the store) is not walked again.
function freezeTree(o: object): void {
  if (Object.isFrozen(o)) return;
  Object.freeze(o);
  if (Array.isArray(o)) {
    for (const v of o) if (typeof v === 'object' && v !== null) freezeTree(v);
    return;
  }
  const r = o as Record<string, unknown>;
  for (const k in r) {
    const v = r[k];
    if (typeof v === 'object' && v !== null) freezeTree(v);
  }
}

/**
 * Freezes what a proposer is about to encode and tells whether JSON keeps it exactly:
 * only then may the proposer apply these objects instead of decoding the log entry
 * (an `undefined` field, -0, NaN or a class instance would come back different).
 * A frozen subtree is one already in the store, which came through JSON: it is exact.
 */
export function freezeForLog(o: unknown): boolean {
  if (typeof o !== 'object' || o === null) return isExactScalar(o);
  if (Object.isFrozen(o)) return true;
  Object.freeze(o);
  let exact = true;
  if (Array.isArray(o)) {
    for (const v of o) if (!freezeForLog(v)) exact = false;
    return exact;
  }
  if (Object.getPrototypeOf(o) !== Object.prototype) exact = false;
  const r = o as Record<string, unknown>;
  for (const k in r) if (!freezeForLog(r[k])) exact = false;
  return exact;
}

function isExactScalar(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  return typeof v === 'number' && Number.isFinite(v) && !Object.is(v, -0);
}
