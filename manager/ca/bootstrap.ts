import { arch, cpus, totalmem } from 'node:os';
import type { Node } from '../../lib/index.js';
import type { Store } from '../store/index.js';
import { newJoinToken } from './tokens.js';

export interface BootstrapOptions {
  nodeId: string;
  hostname: string;
  /** host:port other nodes reach this manager at. */
  addr: string;
  engineVersion: string;
  /** The cluster root CA certificate (PEM); the join tokens carry its digest. */
  rootCaPem: string;
  /** The cluster ID, as the root CA's O names it. */
  clusterId: string;
  /** Pools networks get their subnets from (`swarm init --default-addr-pool`); 10.0.0.0/8 by default. */
  defaultAddrPool?: string[];
  /** Prefix length of those subnets (`--default-addr-pool-mask-length`); 24 by default. */
  subnetSize?: number;
  /**
   * This manager is the raft group's only member (a new cluster, a restored backup or
   * `--force-new-cluster`): any other node still recorded as a manager belonged to an
   * old group and is demoted to a worker, so `node ls`, the quorum rule and the agents'
   * manager list count only real managers (a lost manager rejoins with a new ID).
   */
  soleManager?: boolean;
}

const GO_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

/**
 * Makes sure the store holds a cluster object (as `swarm init` creates it, with the
 * `ingress` network) and this manager's node object; a no-op for what exists.
 */
export async function bootstrapCluster(store: Store, o: BootstrapOptions): Promise<void> {
  const ca = o.rootCaPem;
  await store.update((tx) => {
    if (!store.getCluster()) {
      tx.createCluster({
        ID: o.clusterId,
        Spec: {
          Name: 'default',
          Labels: {},
          Orchestration: { TaskHistoryRetentionLimit: 5 },
          Raft: {
            SnapshotInterval: 10000,
            KeepOldSnapshots: 0,
            LogEntriesForSlowFollowers: 500,
            ElectionTick: 10,
            HeartbeatTick: 1,
          },
          Dispatcher: { HeartbeatPeriod: 5_000_000_000 },
          CAConfig: { NodeCertExpiry: 7_776_000_000_000_000 },
          EncryptionConfig: { AutoLockManagers: false },
          TaskDefaults: {},
        },
        TLSInfo: { TrustRoot: o.rootCaPem, CertIssuerSubject: '', CertIssuerPublicKey: '' },
        RootRotationInProgress: false,
        DataPathPort: 4789,
        DefaultAddrPool: o.defaultAddrPool ?? ['10.0.0.0/8'],
        SubnetSize: o.subnetSize ?? 24,
        JoinTokens: { Worker: newJoinToken(ca), Manager: newJoinToken(ca) },
      });
      if (store.listNetworks((n) => n.Spec.Ingress === true).length === 0) {
        tx.createNetwork({
          Spec: {
            Name: 'ingress',
            Labels: {},
            DriverConfiguration: { Name: 'overlay' },
            Ingress: true,
            // No fixed subnet: the allocator gives it the first free one of the pool
            // (10.0.0.0/24 on a fresh cluster, as Docker's), avoiding the host's own
            // routes in single-node mode, where it runs as a bridge on this host.
            IPAMOptions: { Driver: { Name: 'default' } },
            Scope: 'swarm',
          },
        });
      }
    }
    const existing = store.getNode(o.nodeId);
    const description: Node['Description'] = {
      Hostname: o.hostname,
      Platform: { Architecture: GO_ARCH[arch()] ?? arch(), OS: 'linux' },
      Resources: { NanoCPUs: cpus().length * 1e9, MemoryBytes: totalmem() },
      Engine: { EngineVersion: o.engineVersion, Labels: {} },
    };
    const status: Node['Status'] = { State: 'ready', Addr: hostOf(o.addr) };
    const managerStatus: Node['ManagerStatus'] = { Leader: true, Reachability: 'reachable', Addr: o.addr };
    if (!existing) {
      tx.createNode({
        ID: o.nodeId,
        Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
        Description: description,
        Status: status,
        ManagerStatus: managerStatus,
      });
    } else if (
      existing.Status.State !== 'ready' ||
      existing.Status.Addr !== status.Addr ||
      existing.ManagerStatus?.Addr !== o.addr ||
      existing.Description?.Hostname !== o.hostname ||
      existing.Description?.Engine?.EngineVersion !== o.engineVersion
    ) {
      tx.updateNode({ ...existing, Description: description, Status: status, ManagerStatus: managerStatus });
    }
    if (o.soleManager) {
      // Only nodes that were raft members (ManagerStatus): a promotion still pending
      // (role manager, not yet in raft) stays asked for.
      for (const n of store.listNodes((x) => x.ID !== o.nodeId && x.ManagerStatus !== undefined)) {
        const { ManagerStatus: _old, ...rest } = n;
        tx.updateNode({ ...rest, Spec: { ...n.Spec, Role: 'worker' } });
      }
    }
  });
}

function hostOf(addr: string): string {
  const i = addr.lastIndexOf(':');
  return i > 0 ? addr.slice(0, i) : addr;
}
