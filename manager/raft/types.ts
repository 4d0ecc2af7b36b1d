// Wire and disk shapes of the consensus core. Plain data only: the core never does I/O,
// so storage and transport encode these however they like.

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

export type EntryType = 'normal' | 'conf';

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  /** Application payload, or an encoded ConfChange for 'conf' entries. Empty for a leader's no-op. */
  data: Uint8Array;
}

/** What must be durable before any message that depends on it leaves the node. */
export interface HardState {
  term: number;
  vote: string;
  commit: number;
}

export interface ConfState {
  voters: string[];
  learners: string[];
  /** Transport addresses by member id; opaque to the core, carried so snapshots keep them. */
  addrs: Record<string, string>;
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export type ConfChangeType = 'addVoter' | 'addLearner' | 'promote' | 'remove';

export interface ConfChange {
  type: ConfChangeType;
  id: string;
  addr?: string;
}

export type MessageType =
  | 'prevote'
  | 'prevoteResp'
  | 'vote'
  | 'voteResp'
  | 'app'
  | 'appResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'snap'
  | 'readIndex'
  | 'readIndexResp'
  | 'timeoutNow'
  // Local reports from the transport, never sent over the wire.
  | 'unreachable'
  | 'snapStatus';

export interface Message {
  type: MessageType;
  from: string;
  to: string;
  term: number;
  /** app: term of the entry before `entries`; vote/prevote: candidate's last log term. */
  logTerm?: number;
  /** app: index before `entries`; appResp: highest matching index or the rejected index; vote: last index; readIndexResp: read index. */
  index?: number;
  entries?: Entry[];
  commit?: number;
  reject?: boolean;
  /** Fast backtracking: the follower's guess at the last index that may match, and its term there. */
  hintIndex?: number;
  hintTerm?: number;
  snapshot?: Snapshot;
  /** ReadIndex request id, or 'transfer' on a vote forced by leadership transfer. */
  context?: string;
}

export interface ReadState {
  index: number;
  context: string;
}

export interface SoftState {
  lead: string;
  role: Role;
}

/**
 * One batch of work for the driver. Order: persist snapshot, entries and hard state (fsync);
 * then send messages; then restore the snapshot into the application and apply
 * committedEntries; then call advance(ready).
 */
export interface Ready {
  softState: SoftState;
  hardState: HardState | null;
  /** Append to the log, replacing everything from entries[0].index on. */
  entries: Entry[];
  snapshot: Snapshot | null;
  messages: Message[];
  committedEntries: Entry[];
  readStates: ReadState[];
}

/** State recovered from disk to start a core. */
export interface PersistentState {
  hardState: HardState;
  snapshot: Snapshot;
  /** Contiguous entries right after snapshot.meta.index. */
  entries: Entry[];
}
