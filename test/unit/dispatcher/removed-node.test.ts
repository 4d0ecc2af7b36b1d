// Joining creates a node object before its agent first registers; registering only
// refreshes it. A node removed from the cluster (`node rm --force`) whose agent still
// runs must not come back by registering again, as in Docker.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { SkiffError } from '../../../lib/index.js';
import { toGrpcError } from '../../../manager/dispatcher/grpc-server.js';
import { Dispatcher, storeDispatcherPort } from '../../../manager/dispatcher/index.js';
import { createAesGcmCipher, LocalReplicator, Store } from '../../../manager/store/index.js';

const description = { Hostname: 'w1', Platform: { OS: 'linux', Architecture: 'x86_64' } };

describe('dispatcher: registration of removed nodes', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  async function setup() {
    const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
    store.setReplicator(new LocalReplicator(store.state));
    // What the join service writes for a new worker.
    await store.update((tx) =>
      tx.createNode({
        ID: 'w1',
        Spec: { Labels: {}, Role: 'worker', Availability: 'active' },
        Description: { Hostname: 'w1' },
        Status: { State: 'unknown', Addr: '10.0.0.2' },
      }),
    );
    const dispatcher = new Dispatcher({ store: storeDispatcherPort(store), heartbeatPeriodMs: 60_000 });
    cleanups.push(() => dispatcher.stop());
    return { store, dispatcher };
  }

  it('a joined node registers: it becomes ready with its description, keeping its spec', async () => {
    const { store, dispatcher } = await setup();
    const reg = await dispatcher.register({ nodeId: 'w1', description, addr: '10.0.0.2' });
    expect(reg.nodeId).toBe('w1');
    const n = store.getNode('w1')!;
    expect(n.Status).toMatchObject({ State: 'ready', Addr: '10.0.0.2' });
    expect(n.Description?.Platform?.Architecture).toBe('x86_64');
    expect(n.Spec.Role).toBe('worker');
  });

  it('a node removed while its agent runs is refused when it registers again, and stays removed', async () => {
    const { store, dispatcher } = await setup();
    const first = await dispatcher.register({ nodeId: 'w1', description, addr: '10.0.0.2' });
    await store.update((tx) => tx.deleteNode('w1'));

    // Its next heartbeat ends the session, with the reason.
    const beat = dispatcher.heartbeat({ nodeId: 'w1', sessionId: first.sessionId });
    await expect(beat).rejects.toMatchObject({ code: 'failed_precondition' });
    await expect(beat).rejects.toThrow(/node w1 was removed from the cluster/);

    const again = dispatcher.register({ nodeId: 'w1', description, addr: '10.0.0.2' });
    await expect(again).rejects.toBeInstanceOf(SkiffError);
    const err = (await again.catch((e: unknown) => e)) as SkiffError;
    expect(err.code).toBe('failed_precondition');
    expect(err.message).toContain('node w1 was removed from the cluster');
    expect(err.message).toContain('join again with a token');
    expect(err.hint).toContain('skiff cluster join');
    expect(store.getNode('w1')).toBeUndefined();
    expect(store.listNodes()).toEqual([]);
    // The old session stays gone: it cannot keep reporting as if nothing happened.
    await expect(
      dispatcher.updateTaskStatus({ nodeId: 'w1', sessionId: first.sessionId, updates: [] }),
    ).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('a node that never joined is refused the same way', async () => {
    const { store, dispatcher } = await setup();
    await expect(
      dispatcher.register({ nodeId: 'stranger', description, addr: '10.0.0.9' }),
    ).rejects.toMatchObject({
      code: 'failed_precondition',
    });
    expect(store.getNode('stranger')).toBeUndefined();
  });

  it('the refusal reaches a remote agent as FAILED_PRECONDITION with its code and message', () => {
    const e = toGrpcError(new SkiffError('failed_precondition', 'node w1 was removed from the cluster'));
    expect(e.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(e.details).toBe('failed_precondition: node w1 was removed from the cluster');
  });
});
