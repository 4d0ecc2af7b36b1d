import type { Config, Node, Secret, Service, Swarm, SwarmNetwork, Task } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import type { SecretCipher } from './cipher.js';
import { newObjectId } from './ids.js';
import type { Op } from './proposal.js';
import type { StoreState } from './state.js';
import { type NewObject, objectNoun, type StoredObject, type TableName, type Tables } from './tables.js';

/**
 * A batch of writes that becomes one proposal. Reads inside the transaction see the
 * applied state plus the transaction's own writes. IDs and timestamps are chosen here,
 * by the proposer, so that applying the proposal stays deterministic.
 */
export class Transaction {
  private readonly ops: Op[] = [];
  /** Latest object per table/ID written in this transaction (null: deleted), and its op. */
  private readonly written = new Map<string, { object: StoredObject | null; op: number }>();

  constructor(
    private readonly state: StoreState,
    /** RFC 3339 time the proposer stamps on created and updated objects. */
    readonly now: string,
    private readonly cipher: SecretCipher,
  ) {}

  /** The ops so far; the store proposes them when the transaction function returns. */
  takeOps(): Op[] {
    return this.ops;
  }

  get<T extends TableName>(table: T, id: string): Tables[T] | undefined {
    const w = this.written.get(key(table, id));
    if (w) return (w.object ?? undefined) as Tables[T] | undefined;
    return this.state.get(table, id);
  }

  /** All objects of a table as this transaction sees them. */
  list<T extends TableName>(table: T): Tables[T][] {
    const out: Tables[T][] = [];
    for (const o of this.state.values(table)) if (!this.written.has(key(table, o.ID))) out.push(o);
    for (const [k, w] of this.written)
      if (w.object && k.startsWith(`${table}\u0000`)) out.push(w.object as Tables[T]);
    return out;
  }

  create<T extends TableName>(table: T, object: NewObject<Tables[T]>): Tables[T] {
    const id = object.ID ?? newObjectId();
    if (this.get(table, id))
      throw new SkiffError('already_exists', `${objectNoun(table)} ${id} already exists`);
    const full = {
      ...object,
      ID: id,
      Version: { Index: 0 },
      CreatedAt: this.now,
      UpdatedAt: this.now,
    } as Tables[T];
    let sealedData: string | undefined;
    if (table === 'secrets') {
      const spec = (full as Secret).Spec;
      if (spec.Data !== undefined) sealedData = this.cipher.seal(Buffer.from(spec.Data, 'base64'), id);
      const { Data: _dropped, ...rest } = spec;
      (full as Secret).Spec = rest;
    }
    this.ops.push(
      sealedData === undefined
        ? { op: 'create', table, object: full }
        : { op: 'create', table, object: full, sealedData },
    );
    this.written.set(key(table, id), { object: full, op: this.ops.length - 1 });
    return full;
  }

  /**
   * Replaces an object. `object.Version` must be the version it was read at; the
   * proposal fails with 'conflict' when the object changed since.
   */
  update<T extends TableName>(table: T, object: Tables[T]): Tables[T] {
    const k = key(table, object.ID);
    const full = { ...object, UpdatedAt: this.now } as Tables[T];
    if (table === 'secrets') {
      // Secret data never changes after create, and never travels in an update.
      const { Data: _dropped, ...rest } = (full as Secret).Spec;
      (full as Secret).Spec = rest;
    }
    const prev = this.written.get(k);
    if (prev) {
      if (!prev.object)
        throw new SkiffError(
          'not_found',
          `${objectNoun(table)} ${object.ID} was deleted in this transaction`,
        );
      // A second write to the same object in one batch folds into the first op.
      const op = this.ops[prev.op]!;
      if (op.op === 'delete' || op.op === 'patch')
        throw new SkiffError('internal', 'transaction bookkeeping out of step');
      op.object = { ...full, Version: prev.object.Version, CreatedAt: prev.object.CreatedAt } as StoredObject;
      this.written.set(k, { object: op.object, op: prev.op });
      return op.object as Tables[T];
    }
    this.ops.push({ op: 'update', table, object: full });
    this.written.set(k, { object: full, op: this.ops.length - 1 });
    return full;
  }

  /** Deletes an object; with `version`, only if it is still at that version. */
  delete(table: TableName, id: string, version?: number): void {
    this.ops.push(version === undefined ? { op: 'delete', table, id } : { op: 'delete', table, id, version });
    this.written.set(key(table, id), { object: null, op: this.ops.length - 1 });
  }

  // Typed shorthands for the common tables.
  createCluster(o: NewObject<Swarm>): Swarm {
    return this.create('cluster', o);
  }
  updateCluster(o: Swarm): Swarm {
    return this.update('cluster', o);
  }
  createNode(o: NewObject<Node>): Node {
    return this.create('nodes', o);
  }
  updateNode(o: Node): Node {
    return this.update('nodes', o);
  }
  deleteNode(id: string, version?: number): void {
    this.delete('nodes', id, version);
  }
  createService(o: NewObject<Service>): Service {
    return this.create('services', o);
  }
  updateService(o: Service): Service {
    return this.update('services', o);
  }
  deleteService(id: string, version?: number): void {
    this.delete('services', id, version);
  }
  createTask(o: NewObject<Task>): Task {
    return this.create('tasks', o);
  }
  updateTask(o: Task): Task {
    return this.update('tasks', o);
  }
  deleteTask(id: string, version?: number): void {
    this.delete('tasks', id, version);
  }
  createNetwork(o: NewObject<SwarmNetwork>): SwarmNetwork {
    return this.create('networks', o);
  }
  updateNetwork(o: SwarmNetwork): SwarmNetwork {
    return this.update('networks', o);
  }
  deleteNetwork(id: string, version?: number): void {
    this.delete('networks', id, version);
  }
  /** `Spec.Data` (base64) is sealed with the manager key before it leaves this process. */
  createSecret(o: NewObject<Secret>): Secret {
    return this.create('secrets', o);
  }
  updateSecret(o: Secret): Secret {
    return this.update('secrets', o);
  }
  deleteSecret(id: string, version?: number): void {
    this.delete('secrets', id, version);
  }
  createConfig(o: NewObject<Config>): Config {
    return this.create('configs', o);
  }
  updateConfig(o: Config): Config {
    return this.update('configs', o);
  }
  deleteConfig(id: string, version?: number): void {
    this.delete('configs', id, version);
  }
}

function key(table: TableName, id: string): string {
  return `${table}\u0000${id}`;
}
