import type { Config, Node, Secret, Service, Swarm, SwarmNetwork, Task } from '../../lib/index.js';

/** The store's tables and the object type each one holds. */
export interface Tables {
  cluster: Swarm;
  nodes: Node;
  services: Service;
  tasks: Task;
  networks: SwarmNetwork;
  secrets: Secret;
  configs: Config;
}

export type TableName = keyof Tables;
export type StoredObject = Tables[TableName];

export const TABLE_NAMES: readonly TableName[] = [
  'cluster',
  'nodes',
  'services',
  'tasks',
  'networks',
  'secrets',
  'configs',
];

/** Tables whose objects have a cluster-wide unique `Spec.Name`. */
export const NAMED_TABLES: ReadonlySet<TableName> = new Set(['services', 'networks', 'secrets', 'configs']);

export function isTableName(s: unknown): s is TableName {
  return typeof s === 'string' && (TABLE_NAMES as readonly string[]).includes(s);
}

/** The singular noun for messages ("service web already exists"). */
export function objectNoun(table: TableName): string {
  switch (table) {
    case 'cluster':
      return 'cluster';
    case 'nodes':
      return 'node';
    case 'services':
      return 'service';
    case 'tasks':
      return 'task';
    case 'networks':
      return 'network';
    case 'secrets':
      return 'secret';
    case 'configs':
      return 'config';
  }
}

export type EventKind = 'create' | 'update' | 'delete';

/** One change to one object, delivered to watchers after the proposal carrying it was applied. */
export type StoreEvent = {
  [T in TableName]: {
    kind: EventKind;
    table: T;
    /** The object after the change (for a delete: the object as it was). */
    object: Tables[T];
    /** The object before an update. */
    old?: Tables[T];
    /** The log index of the proposal that made the change. */
    index: number;
  };
}[TableName];

/** An object as a creator hands it to a transaction: ID optional, meta filled in by the store. */
export type NewObject<T> = Omit<T, 'ID' | 'Version' | 'CreatedAt' | 'UpdatedAt'> & { ID?: string };
