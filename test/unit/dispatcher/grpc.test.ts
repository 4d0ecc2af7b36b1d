// The dispatcher over gRPC with mutual TLS: certificates from the cluster CA name the
// node; a node cannot speak for another; a client without a certificate gets nothing.
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcDispatcherClient } from '../../../agent/worker/index.js';
import {
  DISPATCH_PROTOCOL,
  type NodeDescription,
  type Task,
  type TaskStatusReport,
} from '../../../lib/index.js';
import { createRootCa, mtlsChannelCredentials } from '../../../manager/ca/index.js';
import {
  addDispatcherService,
  Dispatcher,
  type DispatcherStorePort,
  type TaskChange,
} from '../../../manager/dispatcher/index.js';
import { nodeIdentity } from '../../fixtures/node-identity.js';

/** FAKE store with one assigned task per node. */
class FakeStore implements DispatcherStorePort {
  statuses: TaskStatusReport[] = [];
  nodes = new Map<string, string>();
  tasksForNode(nodeId: string): Task[] {
    return [
      {
        ID: `task-of-${nodeId}`,
        Version: { Index: 1 },
        CreatedAt: '',
        UpdatedAt: '',
        ServiceID: 's',
        NodeID: nodeId,
        Spec: { ContainerSpec: { Image: 'busybox' } },
        Status: { State: 'assigned' },
        DesiredState: 'running',
      },
    ];
  }
  networkKeys() {
    return undefined;
  }
  secretsFor() {
    return [];
  }
  configsFor() {
    return [];
  }
  networkState() {
    return { tasks: [], nodes: new Map(), networks: new Map() };
  }
  watchTasks(_l: (c: TaskChange) => void) {
    return () => {};
  }
  watchNodesAndNetworks() {
    return () => {};
  }
  async markNodeReady(nodeId: string, _d: NodeDescription, addr: string) {
    this.nodes.set(nodeId, addr);
    return true;
  }
  hasNode(nodeId: string) {
    return this.nodes.has(nodeId);
  }
  async setNodeState() {}
  async applyTaskStatuses(u: TaskStatusReport[]) {
    this.statuses.push(...u);
  }
}

describe('dispatcher over gRPC with mTLS', () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function serve(serverRole: 'manager' | 'worker' = 'manager') {
    const ca = createRootCa({ clusterId: 'c1' });
    const cert = (nodeId: string, role: 'manager' | 'worker') => nodeIdentity(ca, nodeId, role);
    const mgr = cert('manager1', serverRole);
    const store = new FakeStore();
    const dispatcher = new Dispatcher({ store, heartbeatPeriodMs: 5000 });
    const server = new grpc.Server();
    addDispatcherService(server, dispatcher);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        '127.0.0.1:0',
        grpc.ServerCredentials.createSsl(
          Buffer.from(ca.certPem),
          [{ private_key: Buffer.from(mgr.keyPem), cert_chain: Buffer.from(mgr.certPem) }],
          true,
        ),
        (e, p) => (e ? reject(e) : resolve(p)),
      ),
    );
    cleanups.push(() => {
      dispatcher.stop();
      server.forceShutdown();
    });
    const client = (nodeId: string) => {
      const c = cert(nodeId, 'worker');
      const creds = grpc.credentials.createSsl(
        Buffer.from(ca.certPem),
        Buffer.from(c.keyPem),
        Buffer.from(c.certPem),
        {
          checkServerIdentity: () => undefined,
        },
      );
      const cl = new GrpcDispatcherClient(`127.0.0.1:${port}`, creds);
      cleanups.push(() => cl.close());
      return cl;
    };
    return { store, port, ca, client, cert };
  }

  it('registers a node, streams its assignments and takes its statuses', async () => {
    const { store, client } = await serve();
    const c = client('worker1');
    const reg = await c.register({ nodeId: 'worker1', description: { Hostname: 'w1' }, addr: '10.0.0.7' });
    expect(store.nodes.get('worker1')).toBe('10.0.0.7');
    const abort = new AbortController();
    const first = await (async () => {
      for await (const m of c.assignments({ nodeId: 'worker1', sessionId: reg.sessionId }, abort.signal))
        return m;
    })();
    abort.abort();
    expect(first?.type).toBe('complete');
    expect(first?.tasks.map((t) => t.ID)).toEqual(['task-of-worker1']);
    await c.updateTaskStatus({
      nodeId: 'worker1',
      sessionId: reg.sessionId,
      updates: [{ taskId: 'task-of-worker1', status: { State: 'running' } }],
    });
    expect(store.statuses).toEqual([{ taskId: 'task-of-worker1', status: { State: 'running' } }]);
  });

  it('refuses an agent of a newer dispatcher protocol, naming both versions', async () => {
    const { store, client } = await serve();
    const c = client('worker1');
    await expect(
      c.register({ nodeId: 'worker1', description: {}, addr: '', protocol: DISPATCH_PROTOCOL + 1 }),
    ).rejects.toMatchObject({
      code: 'unsupported',
      message: `the agent speaks dispatcher protocol ${DISPATCH_PROTOCOL + 1}; this manager speaks versions 1 to ${DISPATCH_PROTOCOL}`,
    });
    expect(store.nodes.size).toBe(0);
    // Without a protocol (an agent from before the field): version 1, answered with this one.
    const reg = await c.register({ nodeId: 'worker1', description: {}, addr: '' });
    expect(reg.protocol).toBe(DISPATCH_PROTOCOL);
  });

  it('refuses a node speaking for another node', async () => {
    const { store, client } = await serve();
    const c = client('worker1');
    await expect(c.register({ nodeId: 'worker2', description: {}, addr: '' })).rejects.toThrow(
      /node worker1 cannot speak for node worker2/,
    );
    expect(store.nodes.size).toBe(0);
  });

  it('gives a client without a certificate nothing', async () => {
    const { store, port, ca } = await serve();
    const anon = new GrpcDispatcherClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createSsl(Buffer.from(ca.certPem), null, null, {
        checkServerIdentity: () => undefined,
      }),
    );
    cleanups.push(() => anon.close());
    await expect(anon.register({ nodeId: 'x', description: {}, addr: '' })).rejects.toThrow();
    expect(store.nodes.size).toBe(0);
  });

  it("refuses a server whose certificate is a worker's: a worker's key cannot pose as the dispatcher", async () => {
    const { store, port, cert } = await serve('worker');
    const own = cert('worker1', 'worker');
    const c = new GrpcDispatcherClient(`127.0.0.1:${port}`, mtlsChannelCredentials(own));
    cleanups.push(() => c.close());
    await expect(c.register({ nodeId: 'worker1', description: {}, addr: '' })).rejects.toThrow(
      /certificate of worker node manager1, not a manager's/,
    );
    expect(store.nodes.size).toBe(0);
  });

  it('talks to a manager with the same credentials', async () => {
    const { store, port, cert } = await serve('manager');
    const own = cert('worker1', 'worker');
    const c = new GrpcDispatcherClient(`127.0.0.1:${port}`, mtlsChannelCredentials(own));
    cleanups.push(() => c.close());
    await c.register({ nodeId: 'worker1', description: {}, addr: '10.0.0.9' });
    expect(store.nodes.get('worker1')).toBe('10.0.0.9');
  });
});
