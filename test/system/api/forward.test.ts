// A follower's API forwards writes to the leader's API over mTLS and answers once it
// has applied the leader's write itself.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootstrapCluster,
  createAesGcmCipher,
  createApiServer,
  createRootCa,
  issueNodeCertificate,
  type LogEntry,
  newPrivateKey,
  publicKeyOf,
  type Replicator,
  Store,
} from '../../../manager/index.js';
import { waitFor } from '../../lab/index.js';

const LEADER = 'leader0000000000000000001';
const FOLLOWER = 'follower00000000000000001';

/** One log, two stores: the leader proposes, both apply (what raft does, minus the network). */
class SharedLog {
  entries: LogEntry[] = [];
  /** While false, the follower lags: it applies only when `catchUp()` runs. */
  followerLive = true;
  constructor(
    readonly leader: Store,
    readonly follower: Store,
  ) {}
  replicator(self: string): Replicator {
    return {
      propose: async (data) => {
        if (self !== LEADER) throw new Error('followers do not propose in this test');
        const e = { index: this.entries.length + 1, term: 1, data };
        this.entries.push(e);
        this.leader.stateMachine.apply(e);
        if (this.followerLive) this.follower.stateMachine.apply(e);
        return { index: e.index };
      },
      isLeader: () => self === LEADER,
      leaderAddr: () => undefined,
      leaderId: () => LEADER,
    };
  }
  catchUp() {
    for (const e of this.entries) this.follower.stateMachine.apply(e);
  }
}

const key = randomBytes(32);
const leaderStore = new Store({ cipher: createAesGcmCipher(key) });
const followerStore = new Store({ cipher: createAesGcmCipher(key) });
const log = new SharedLog(leaderStore, followerStore);
let leaderApi: FastifyInstance;
let followerApi: FastifyInstance;

beforeAll(async () => {
  leaderStore.setReplicator(log.replicator(LEADER));
  followerStore.setReplicator(log.replicator(FOLLOWER));
  const ca = createRootCa({ clusterId: 'c1' });
  const cert = (nodeId: string) => {
    const keyPem = newPrivateKey();
    return {
      keyPem,
      certPem: issueNodeCertificate({
        ca,
        publicKeyPem: publicKeyOf(keyPem),
        nodeId,
        role: 'manager',
        clusterId: 'c1',
        validForMs: 86_400_000,
      }),
      caPem: ca.certPem,
    };
  };
  const leaderTls = cert(LEADER);
  leaderApi = createApiServer({
    store: leaderStore,
    replicator: log.replicator(LEADER),
    info: { nodeId: LEADER, hostname: 'l' },
    tls: leaderTls,
  });
  await leaderApi.listen({ host: '127.0.0.1', port: 0 });
  const leaderAddr = `127.0.0.1:${(leaderApi.server.address() as AddressInfo).port}`;
  await bootstrapCluster(leaderStore, {
    nodeId: LEADER,
    hostname: 'l',
    addr: leaderAddr,
    engineVersion: 't',
    rootCaPem: ca.certPem,
    clusterId: 'c1',
  });
  await leaderStore.update((tx) =>
    tx.createNode({
      ID: FOLLOWER,
      Spec: { Role: 'manager', Availability: 'active' },
      Status: { State: 'ready' },
      ManagerStatus: { Reachability: 'reachable', Addr: '127.0.0.1:1' },
    }),
  );
  followerApi = createApiServer({
    store: followerStore,
    replicator: log.replicator(FOLLOWER),
    info: { nodeId: FOLLOWER, hostname: 'f' },
    forward: { tls: cert(FOLLOWER), timeoutMs: 2000 },
  });
  await followerApi.ready();
});

afterAll(async () => {
  await followerApi?.close();
  await leaderApi?.close();
});

describe('write forwarding', () => {
  it('creates a service through a follower; the follower reads it right after', async () => {
    const r = await followerApi.inject({
      method: 'POST',
      url: '/v1.44/services/create',
      payload: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } },
    });
    expect(r.statusCode, r.body).toBe(201);
    const id = (r.json() as { ID: string }).ID;
    expect(leaderStore.getService(id)?.Spec.Name).toBe('web');
    const read = await followerApi.inject({ method: 'GET', url: `/services/${id}` });
    expect(read.statusCode).toBe(200);
  });

  it("passes the leader's errors through unchanged", async () => {
    const dup = await followerApi.inject({
      method: 'POST',
      url: '/services/create',
      payload: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } },
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toEqual({ message: 'service web already exists' });
  });

  it('waits for a lagging follower to apply the write before answering', async () => {
    log.followerLive = false;
    try {
      const pending = followerApi.inject({
        method: 'POST',
        url: '/secrets/create',
        payload: { Name: 's1', Data: 'eA==' },
      });
      // The leader has it; the follower answers only once it has applied it too.
      await waitFor(() => leaderStore.getSecret('s1'), {
        what: 'the leader to apply secret s1',
        timeoutMs: 5000,
        intervalMs: 10,
      });
      expect(leaderStore.getSecret('s1')).toBeDefined();
      expect(followerStore.getSecret('s1')).toBeUndefined();
      log.catchUp();
      const r = await pending;
      expect(r.statusCode).toBe(201);
      expect(followerStore.getSecret('s1')).toBeDefined();
    } finally {
      log.followerLive = true;
      log.catchUp();
    }
  });
});
