import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { type ApiServerOptions, createApiServer } from '../../../manager/api/index.js';
import {
  bootstrapCluster,
  createRootCa,
  JoinService,
  type KeyPair,
  type RaftMembership,
} from '../../../manager/ca/index.js';
import {
  createAesGcmCipher,
  LocalReplicator,
  type ReadGate,
  type Replicator,
  Store,
} from '../../../manager/store/index.js';
import { nodeIdentity } from '../../fixtures/node-identity.js';

export const NODE_ID = 'n0de0000000000000000000001';
export const CLUSTER_ID = 'c1u5ter000000000000000001';

/** A replicator that counts proposals, so tests can prove a rejected request proposed nothing. */
export class CountingReplicator implements Replicator {
  proposals = 0;
  constructor(private readonly inner: LocalReplicator) {}
  propose(data: Uint8Array) {
    this.proposals++;
    return this.inner.propose(data);
  }
  isLeader() {
    return true;
  }
  leaderAddr() {
    return this.inner.leaderAddr();
  }
  leaderId() {
    return this.inner.leaderId();
  }
}

export async function newApi(
  opts: {
    raft?: RaftMembership;
    readGate?: ReadGate;
    eventsMaxBufferedBytes?: number;
    /** Serve like the TCP API: HTTPS with a manager certificate, joining open. */
    tcp?: { publicRequestTimeoutMs?: number; bodyTimeoutMs?: number };
    /** Routes added as the daemon adds its node-local ones. */
    extraRoutes?: ApiServerOptions['extraRoutes'];
  } = {},
): Promise<{
  app: FastifyInstance;
  store: Store;
  replicator: CountingReplicator;
  /** A client certificate of the cluster CA for this (manager) node, and the CA. */
  clientTls: { certPem: string; keyPem: string; caPem: string };
}> {
  const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
  const replicator = new CountingReplicator(
    new LocalReplicator(store.state, { id: NODE_ID, addr: '10.0.0.5:2377' }),
  );
  store.setReplicator(replicator);
  const ca = createRootCa({ clusterId: CLUSTER_ID });
  await bootstrapCluster(store, {
    nodeId: NODE_ID,
    hostname: 'node-a',
    addr: '10.0.0.5:2377',
    engineVersion: 'test',
    rootCaPem: ca.certPem,
    clusterId: CLUSTER_ID,
  });
  const app = createApiServer({
    store,
    replicator,
    info: { nodeId: NODE_ID, hostname: 'node-a', addr: '10.0.0.5:2377' },
    ...(opts.raft ? { raft: opts.raft } : {}),
    ...(opts.readGate ? { readGate: opts.readGate } : {}),
    ...(opts.eventsMaxBufferedBytes ? { eventsMaxBufferedBytes: opts.eventsMaxBufferedBytes } : {}),
    ...(opts.extraRoutes ? { extraRoutes: opts.extraRoutes } : {}),
    ...(opts.tcp
      ? {
          tls: { ...managerCertificate(ca), caPem: ca.certPem },
          join: new JoinService({ store, ca }),
          ...(opts.tcp.publicRequestTimeoutMs
            ? { publicRequestTimeoutMs: opts.tcp.publicRequestTimeoutMs }
            : {}),
          ...(opts.tcp.bodyTimeoutMs ? { bodyTimeoutMs: opts.tcp.bodyTimeoutMs } : {}),
        }
      : {}),
  });
  await app.ready();
  return { app, store, replicator, clientTls: { ...managerCertificate(ca), caPem: ca.certPem } };
}

function managerCertificate(ca: KeyPair): { certPem: string; keyPem: string } {
  return nodeIdentity(ca, NODE_ID, 'manager', CLUSTER_ID);
}

export const serviceBody = (name: string, extra: Record<string, unknown> = {}) => ({
  Name: name,
  TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
  Mode: { Replicated: { Replicas: 2 } },
  ...extra,
});
