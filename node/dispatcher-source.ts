// Where a node's agent finds a dispatcher: its own manager's while that manager leads,
// else the leader's or the next manager's over gRPC + mTLS (a follower refuses, so the
// agent soon lands on the leader). Registrations bring the current managers and role.
import type * as grpc from '@grpc/grpc-js';
import { GrpcDispatcherClient } from '../agent/index.js';
import type { DispatcherApi, Logger } from '../lib/index.js';
import { SkiffError } from '../lib/index.js';
import type { ClusterRegisterResponse } from '../manager/index.js';
import { dispatcherAddr } from './ports.js';

export interface DispatcherSourceOptions {
  /** API addresses (host:port) of the managers known so far. */
  managers: string[];
  /** Asked for each session: a renewed certificate is used from the next one on. */
  credentials: () => grpc.ChannelCredentials;
  /** On a manager: the leader's API address when known, tried first. */
  leaderAddr?: () => string | undefined;
  /** On a manager: its own dispatcher while it leads, used in process. */
  local?: () => DispatcherApi | undefined;
  /** Called when a registration brings a different list of managers. */
  onManagers?: (managers: string[]) => void;
  /** The role this node runs in, and what to do when a registration asks for another. */
  role?: { current: 'manager' | 'worker'; onChange(role: 'manager' | 'worker'): void };
  log: Logger;
}

/**
 * What an agent's session calls for each new session: the local dispatcher while this
 * manager leads, else the leader if known, else the next manager in turn (a follower
 * refuses, so the agent soon lands on the leader). The leader hint is not taken twice in
 * a row: a session there ended, and the hint may be stale for good (the raft of a
 * manager demoted before it caught up was dropped from the group and hears of no new
 * leader): the next session goes to the next manager in turn.
 */
export function dispatcherSource(o: DispatcherSourceOptions): () => DispatcherApi {
  let managers = [...o.managers];
  let next = 0;
  let client: GrpcDispatcherClient | undefined;
  let last: string | undefined;
  return () => {
    client?.close();
    client = undefined;
    const local = o.local?.();
    if (local) return watchRole(local, o.role);
    const leader = o.leaderAddr?.();
    const target =
      leader !== undefined && leader !== last ? leader : managers[next++ % Math.max(managers.length, 1)];
    last = target;
    if (!target) throw new SkiffError('unavailable', 'no manager address is known to this node');
    const c = new GrpcDispatcherClient(dispatcherAddr(target), o.credentials());
    client = c;
    return {
      async register(req) {
        const res = (await c.register(req)) as ClusterRegisterResponse;
        if (res.role && o.role && res.role !== o.role.current) o.role.onChange(res.role);
        const fresh = res.managers?.filter((m) => m !== '') ?? [];
        if (fresh.length > 0 && fresh.join(',') !== managers.join(',')) {
          managers = fresh;
          o.log.info({ managers }, 'managers of the cluster');
          o.onManagers?.(fresh);
        }
        return res;
      },
      heartbeat: (req) => c.heartbeat(req),
      assignments: (req, signal) => c.assignments(req, signal),
      updateTaskStatus: (req) => c.updateTaskStatus(req),
      publishLogs: (req) => c.publishLogs(req),
      publishStats: (req) => c.publishStats(req),
      imageSources: (req) => c.imageSources(req),
    };
  };
}

/** The in-process dispatcher, with the role check registrations get over gRPC. */
function watchRole(d: DispatcherApi, role: DispatcherSourceOptions['role']): DispatcherApi {
  if (!role) return d;
  return {
    async register(req) {
      const res = (await d.register(req)) as ClusterRegisterResponse;
      if (res.role && res.role !== role.current) role.onChange(res.role);
      return res;
    },
    heartbeat: (req) => d.heartbeat(req),
    assignments: (req, signal) => d.assignments(req, signal),
    updateTaskStatus: (req) => d.updateTaskStatus(req),
    publishLogs: (req) => d.publishLogs(req),
    publishStats: (req) => d.publishStats(req),
    imageSources: (req) => d.imageSources(req),
  };
}
