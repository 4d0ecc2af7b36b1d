// The whole control plane in one process: store (local replicator), the leader's
// loops, the dispatcher, and a worker over the FAKE container stack.
import { afterEach, describe, expect, it } from 'vitest';
import { networksOfTask } from '../../../agent/worker/adapters/network.js';
import { AgentSession } from '../../../agent/worker/index.js';
import type { Task } from '../../../lib/index.js';
import { silentLogger } from '../../../lib/index.js';
import { Dispatcher, storeDispatcherPort } from '../../../manager/dispatcher/index.js';
import { LeaderLoops } from '../../../manager/leader/index.js';
import type { Store } from '../../../manager/store/index.js';
import { waitFor } from '../../lab/index.js';
import { FakeStack } from '../worker/fake-stack.js';
import { localStore } from './helpers.js';

describe('control plane (store + leader loops + dispatcher + worker on a fake stack)', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function cluster(nodes = ['n1']) {
    const store = localStore();
    const leader = new LeaderLoops(store, silentLogger, { addressPools: ['10.60.0.0/16'] });
    leader.start();
    const dispatcher = new Dispatcher({ store: storeDispatcherPort(store), heartbeatPeriodMs: 1000 });
    cleanups.push(
      () => leader.stop(),
      () => dispatcher.stop(),
    );
    // The node objects, as joining the cluster creates them before an agent registers.
    await store.update((tx) => {
      for (const ID of nodes)
        tx.createNode({ ID, Spec: { Role: 'worker', Availability: 'active' }, Status: { State: 'unknown' } });
    });
    const stacks = new Map<string, FakeStack>();
    for (const nodeId of nodes) {
      const stack = new FakeStack();
      stacks.set(nodeId, stack);
      const holder: { s?: AgentSession } = {};
      const worker = stack.worker((u) => holder.s?.report(u.taskId, u.status), {
        nodeHostname: nodeId,
        networksFor: async (t) => networksOfTask(t),
      });
      await worker.start();
      const session = new AgentSession({
        dispatcher: () => dispatcher,
        worker,
        nodeId,
        addr: `10.9.0.${nodes.indexOf(nodeId) + 1}`,
        description: {
          Hostname: nodeId,
          Platform: { OS: 'linux', Architecture: 'x86_64' },
          Resources: { NanoCPUs: 2e9, MemoryBytes: 2 ** 33 },
        },
        batchDelayMs: 5,
      });
      holder.s = session;
      void session.run();
      await session.connected;
      cleanups.push(() => session.stop());
    }
    return { store, stacks };
  }

  const running = (store: Store, serviceId: string): Task[] =>
    store
      .listTasks({ serviceId })
      .filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');

  it('runs a replicated service, scales it, and removes it with its containers', async () => {
    const { store, stacks } = await cluster(['n1', 'n2']);
    const svc = await store.update((tx) =>
      tx.create('services', {
        Spec: {
          Name: 'web',
          Mode: { Replicated: { Replicas: 4 } },
          TaskTemplate: { ContainerSpec: { Image: 'web:1' } },
        },
      }),
    );
    await waitFor(() => running(store, svc.ID).length === 4, { what: '4 running tasks' });
    const perNode = [...stacks.values()].map(
      (s) => [...s.containers.values()].filter((c) => c.state === 'running').length,
    );
    expect(perNode).toEqual([2, 2]);

    const cur = store.getService(svc.ID)!;
    await store.update((tx) =>
      tx.update('services', { ...cur, Spec: { ...cur.Spec, Mode: { Replicated: { Replicas: 1 } } } }),
    );
    await waitFor(() => running(store, svc.ID).length === 1, { what: 'scaled down to 1' });

    await store.update((tx) => tx.delete('services', svc.ID));
    await waitFor(() => store.listTasks({ serviceId: svc.ID }).length === 0, { what: 'tasks deleted' });
    for (const s of stacks.values()) expect(s.containers.size).toBe(0);
  });

  it('replaces a task whose container exits, per the restart policy', async () => {
    const { store, stacks } = await cluster();
    const svc = await store.update((tx) =>
      tx.create('services', {
        Spec: {
          Name: 'job',
          Mode: { Replicated: { Replicas: 1 } },
          TaskTemplate: { ContainerSpec: { Image: 'app:1' }, RestartPolicy: { Condition: 'any', Delay: 0 } },
        },
      }),
    );
    const first = (await waitFor(() => running(store, svc.ID)[0], { what: 'first task running' })).ID;
    stacks.get('n1')!.exit(first, 2);
    const second = await waitFor(() => running(store, svc.ID).find((t) => t.ID !== first), {
      what: 'replacement running',
    });
    expect(second.Slot).toBe(1);
    expect(store.getTask(first)?.Status).toMatchObject({ State: 'failed', Err: 'task: non-zero exit (2)' });
  });

  it('gives tasks addresses on their overlay network and the service a VIP', async () => {
    const { store, stacks } = await cluster();
    await store.update((tx) =>
      tx.create('networks', {
        Spec: {
          Name: 'app_net',
          DriverConfiguration: { Name: 'overlay', Options: { 'com.docker.network.driver.mtu': '1400' } },
        },
      }),
    );
    const svc = await store.update((tx) =>
      tx.create('services', {
        Spec: {
          Name: 'app_db',
          TaskTemplate: {
            ContainerSpec: { Image: 'db:1' },
            Networks: [{ Target: 'app_net', Aliases: ['db'] }],
          },
        },
      }),
    );
    const t = await waitFor(() => running(store, svc.ID)[0], { what: 'db running' });
    expect(t.NetworksAttachments?.[0]?.Addresses[0]).toMatch(/^10\.60\.0\.\d+\/24$/);
    const req = networksOfTask(t);
    // The service's names answer with its VIP (network views); the task's own address
    // answers tasks.NAME for each of them and its own name.
    expect(req[0]?.aliases).toEqual(['tasks.db', 'tasks.app_db', `app_db.1.${t.ID}`]);
    const vip = store.getService(svc.ID)?.Endpoint?.VirtualIPs?.[0]?.Addr;
    expect(vip).toMatch(/^10\.60\.0\.\d+\/24$/);
    expect(t.Endpoint?.VirtualIPs?.[0]?.Addr).toBe(vip);
    // The network's own MTU reaches the node that sets it up.
    expect(req[0]?.network).toMatchObject({
      driver: 'overlay',
      subnet: '10.60.0.0/24',
      vxlanId: 4096,
      mtu: 1400,
    });
    expect(stacks.get('n1')!.calls).toContain(`attach ${t.ID}`);
  });

  it('starts a service only once what it depends on is healthy (depends_on)', async () => {
    const { store, stacks } = await cluster();
    const fake = stacks.get('n1')!;
    fake.healthOnStart = 'starting';
    const ns = { 'com.docker.stack.namespace': 'app' };
    const db = await store.update((tx) =>
      tx.create('services', {
        Spec: {
          Name: 'app_db',
          Labels: ns,
          TaskTemplate: { ContainerSpec: { Image: 'db:1', HealthCheck: { Test: ['CMD', 'true'] } } },
        },
      }),
    );
    const web = await store.update((tx) =>
      tx.create('services', {
        Spec: {
          Name: 'app_web',
          Labels: {
            ...ns,
            'io.skiff.depends_on': JSON.stringify([{ service: 'db', condition: 'service_healthy' }]),
          },
          TaskTemplate: { ContainerSpec: { Image: 'web:1' } },
        },
      }),
    );
    const dbTask = await waitFor(
      () => store.listTasks({ serviceId: db.ID }).find((t) => t.Status.State === 'starting'),
      {
        what: 'db starting',
      },
    );
    expect(store.listTasks({ serviceId: web.ID })).toHaveLength(0);
    fake.healthOnStart = undefined;
    fake.health(dbTask.ID, 'healthy');
    await waitFor(() => running(store, web.ID).length === 1, { what: 'web running after db is healthy' });
  });
});
