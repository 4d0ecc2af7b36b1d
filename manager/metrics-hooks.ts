// The manager's narrow hooks for the node's metrics: events it reports as they happen
// (latencies, leader changes, API requests) and figures read when a scrape asks. The
// metrics registry itself (prom-client) lives in node/, which composes the node: the
// manager neither loads nor knows the client library.
import type { DispatcherStats } from './dispatcher/index.js';

export interface ManagerMetricsHooks {
  /** A store write went through raft (proposed, committed and applied here), or failed. */
  proposal(seconds: number, ok: boolean): void;
  /** One log entry applied to the store's state machine. */
  apply(seconds: number): void;
  /** Raft's leader changed (as seen by this manager). */
  leaderChange(): void;
  /** One API request answered; `route` is the route's pattern (`/services/:id`), not the URL. */
  apiRequest(r: { route: string; method: string; status: number; seconds: number }): void;
}

/** What a scrape reads from a manager. */
export interface ManagerMetricsSnapshot {
  raft: { isLeader: boolean; term: number; commitIndex: number; appliedIndex: number; members: number };
  /** This manager's dispatcher; sessions and queues are empty while it does not lead. */
  dispatcher: DispatcherStats;
}
