// What runs a node, and what a running node offers the process that runs it.
import type { image } from '../agent/index.js';

export interface NodeOptions {
  /** The version the node reports (`docker version`, node objects). */
  version: string;
  /** Cluster mode: the address other nodes reach this one at (also where it listens). None: a single-node cluster. */
  advertiseAddr?: string;
  /** Cluster mode: the API port; raft uses port+1, the dispatcher port+2 (default 2377). */
  port?: number;
  /** Join the cluster of this manager (first start only); the token decides the role. */
  join?: { manager: string; token: string };
  /** Managers: how often agents heartbeat their dispatcher (default 5 s). */
  heartbeatPeriodMs?: number;
  /**
   * Managers: how long a request body may take to arrive on the TCP API (default 60 s);
   * a streamed body (an upload, exec stdin) may last longer but not stay silent this long.
   */
  apiBodyTimeoutMs?: number;
  /** Managers: the raft tick (default 100 ms). */
  raftTickMs?: number;
  /** Managers: snapshot the store and compact the raft log every this many entries (default 10,000). */
  raftSnapshotInterval?: number;
  /** Workers: how often to look at the certificate's age (default hourly, and at start). */
  certCheckIntervalMs?: number;
  /** A new cluster's address pools for networks, and the size of the subnets taken from them. */
  addressPool?: { pools: string[]; subnetSize?: number };
  /** What one image pull may bring onto the node; unset limits keep their defaults. */
  pullLimits?: Partial<image.PullLimits>;
  /** Also serve `GET /metrics` over plain HTTP here (HOST:PORT; dockerd's metrics-addr). */
  metricsAddr?: string;
  /** Managers: start as the only manager of a new cluster made from this node's committed state. */
  forceNewCluster?: boolean;
}

/** A cluster node's options (it has joined, or joins now). */
export type ClusterNodeOptions = Omit<NodeOptions, 'join' | 'addressPool'> & { advertiseAddr: string };

export interface RunningNode {
  nodeId: string;
  /** Resolves when the node has left its cluster: the process should stop then. */
  left?: Promise<void>;
  /** Resolves when the node cannot go on (its manager's raft storage failed): the process should exit. */
  failed?: Promise<Error>;
  stop(): Promise<void>;
}

/** How a node starts, from its state directory and options. */
export type NodeMode =
  /** A worker that joined before. */
  | 'worker'
  /** First start with a join token. */
  | 'join'
  /** A cluster manager: a new cluster, or a manager that joined before. */
  | 'manager'
  /** A single-node cluster, without TCP endpoints. */
  | 'single';
