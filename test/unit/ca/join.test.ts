import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../lib/index.js';
import {
  bootstrapCluster,
  createRootCa,
  JoinService,
  newPrivateKey,
  publicKeyOf,
  signProof,
  verifyNodeCertificate,
} from '../../../manager/ca/index.js';
import { createAesGcmCipher, LocalReplicator, Store } from '../../../manager/store/index.js';

async function setup() {
  const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
  store.setReplicator(new LocalReplicator(store.state, { id: 'm1' }));
  const ca = createRootCa({ clusterId: 'c1' });
  const raftCa = createRootCa({ clusterId: 'c1', commonName: 'skiff-raft-ca' });
  await bootstrapCluster(store, {
    nodeId: 'm1',
    hostname: 'm1',
    addr: '10.0.0.1:2377',
    engineVersion: 't',
    rootCaPem: ca.certPem,
    clusterId: 'c1',
  });
  const learners: string[] = [];
  const join = new JoinService({
    store,
    ca,
    raftCa,
    secretsKey: randomBytes(32),
    raft: {
      addLearner: async (id) => {
        learners.push(id);
      },
      members: () => [{ id: 'm1', addr: '10.0.0.1:2378' }],
      removeMember: async () => {},
    },
  });
  const tokens = store.getCluster()!.JoinTokens!;
  return { store, ca, join, tokens, learners };
}

function request(token: string, extra: Record<string, unknown> = {}) {
  const keyPem = newPrivateKey();
  const publicKey = publicKeyOf(keyPem);
  return { token, publicKey, proof: signProof('join', token, publicKey, keyPem), hostname: 'n', ...extra };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isSkiffError(e)) return e.code;
    throw e;
  }
  return 'ok';
}

describe('JoinService', () => {
  it('issues a worker certificate for the worker token and a manager one (with raft) for the manager token', async () => {
    const { store, ca, join, tokens, learners } = await setup();
    const w = await join.join(request(tokens.Worker));
    expect(w.role).toBe('worker');
    expect(w.manager).toBeUndefined();
    expect(verifyNodeCertificate(w.certificate, ca.certPem)).toMatchObject({
      nodeId: w.nodeId,
      role: 'worker',
      clusterId: 'c1',
    });
    const m = await join.join(request(tokens.Manager, { raftAddr: '10.0.0.2:2378', addr: '10.0.0.2:2377' }));
    expect(m.role).toBe('manager');
    expect(learners).toEqual([m.nodeId]);
    expect(m.manager?.raftPeers).toEqual([{ id: 'm1', addr: '10.0.0.1:2378' }]);
    expect(store.getNode(m.nodeId)?.ManagerStatus?.Addr).toBe('10.0.0.2:2377');
  });

  it('refuses bad tokens, a stolen proof, and a worker token asking for raft, creating no node', async () => {
    const { store, join, tokens } = await setup();
    const before = store.listNodes().length;
    expect(await code(join.join(request('SWMTKN-1-nope')))).toBe('invalid_argument');
    expect(await code(join.join(request(`${tokens.Worker.slice(0, -25)}${'0'.repeat(25)}`)))).toBe(
      'unauthorized',
    );
    const other = request(tokens.Worker);
    expect(await code(join.join({ ...other, publicKey: publicKeyOf(newPrivateKey()) }))).toBe('unauthorized');
    expect(await code(join.join({ ...other, publicKey: 'not a key' }))).toBe('invalid_argument');
    expect(await code(join.join(request(tokens.Worker, { raftAddr: '10.0.0.9:2378' })))).toBe('forbidden');
    expect(await code(join.join(request(tokens.Manager)))).toBe('invalid_argument');
    expect(await code(join.join({ token: 5 }))).toBe('invalid_argument');
    expect(store.listNodes()).toHaveLength(before);
  });

  it('lets the token decide the role when the node only says where its raft would listen', async () => {
    const { store, join, tokens, learners } = await setup();
    const w = await join.join(
      request(tokens.Worker, { raftAddrIfManager: '10.0.0.3:2378', addr: '10.0.0.3:2377' }),
    );
    expect(w.role).toBe('worker');
    expect(w.manager).toBeUndefined();
    expect(store.getNode(w.nodeId)?.ManagerStatus).toBeUndefined();
    expect(store.getNode(w.nodeId)?.Status.Addr).toBe('10.0.0.3');
    const m = await join.join(
      request(tokens.Manager, { raftAddrIfManager: '10.0.0.4:2378', addr: '10.0.0.4:2377' }),
    );
    expect(m.role).toBe('manager');
    expect(learners).toEqual([m.nodeId]);
    expect(store.getNode(m.nodeId)?.Spec.Role).toBe('manager');
  });
});
