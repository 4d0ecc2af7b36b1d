import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { silentLogger } from '../../../lib/index.js';
import { AllocationLoop } from '../../../manager/leader/allocation.js';
import { SchedulingLoop } from '../../../manager/leader/scheduling.js';
import type { Store } from '../../../manager/store/index.js';
import { waitFor } from '../../lab/index.js';
import { addNode, localStore } from './helpers.js';

describe('allocation and scheduling loops', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  function start(store: Store) {
    const alloc = new AllocationLoop(store, silentLogger, { pools: ['10.50.0.0/16'] });
    const sched = new SchedulingLoop(store, silentLogger);
    alloc.start();
    sched.start();
    stops.push(
      () => alloc.stop(),
      () => sched.stop(),
    );
    return { alloc, sched };
  }

  it('places pending tasks of more services than one pass takes, past services no node can take', async () => {
    const store = localStore();
    await addNode(store, 'n1');
    const service = (name: string) =>
      store.update((tx) =>
        tx.create('services', {
          Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox' } } },
        }),
      );
    const pendingTask = (serviceId: string, constraints: string[]) => ({
      ServiceID: serviceId,
      Spec: { ContainerSpec: { Image: 'busybox' }, Placement: { Constraints: constraints } },
      Status: { State: 'pending' as const },
      DesiredState: 'running' as const,
    });
    // Services whose tasks no node can take come first, more of them than a pass takes.
    const stuck = await Promise.all(['s1', 's2', 's3', 's4', 's5'].map(service));
    await store.update((tx) => {
      for (const s of stuck) tx.create('tasks', pendingTask(s.ID, ['node.hostname==elsewhere']));
    });
    // A pass takes on 2 services x 1 node.
    const sched = new SchedulingLoop(store, silentLogger, 2);
    sched.start();
    stops.push(() => sched.stop());
    await waitFor(() => store.listTasks().every((t) => t.Status.Err !== undefined), {
      what: 'every stuck task tried',
    });
    const placeable = await Promise.all(['p1', 'p2', 'p3', 'p4', 'p5'].map(service));
    await store.update((tx) => {
      for (const s of placeable) tx.create('tasks', pendingTask(s.ID, []));
    });
    await waitFor(() => store.listTasks().filter((t) => t.Status.State === 'assigned').length === 5, {
      what: 'the tasks of the 5 placeable services assigned, 2 services per pass',
    });
    expect(store.listTasks().filter((t) => t.Status.State === 'pending')).toHaveLength(5);
  });

  it('allocates the network, the service VIP and ports, then the task address, and assigns it to a node', async () => {
    const store = localStore();
    await addNode(store, 'n1');
    const net = await store.update((tx) =>
      tx.create('networks', { Spec: { Name: 'app_default', DriverConfiguration: { Name: 'overlay' } } }),
    );
    const svc = await store.update((tx) =>
      tx.create('services', {
        Spec: {
          Name: 'web',
          TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'app_default' }] },
          EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 81 }] },
        },
      }),
    );
    start(store);
    const task = await store.update((tx) =>
      tx.create('tasks', {
        ServiceID: svc.ID,
        Slot: 1,
        Spec: structuredClone(svc.Spec.TaskTemplate!),
        Status: { State: 'new' },
        DesiredState: 'running',
      }),
    );
    const t = await waitFor(
      () => {
        const x = store.getTask(task.ID);
        return x?.Status.State === 'assigned' ? x : undefined;
      },
      { what: 'task assigned' },
    );
    expect(t.NodeID).toBe('n1');
    const n = store.getNetwork(net.ID)!;
    expect(n.IPAMOptions?.Configs?.[0]).toEqual({ Subnet: '10.50.0.0/24', Gateway: '10.50.0.1' });
    const addr = t.NetworksAttachments?.[0]?.Addresses[0];
    expect(addr).toMatch(/^10\.50\.0\.\d+\/24$/);
    const s = store.getService(svc.ID)!;
    expect(s.Endpoint?.VirtualIPs?.[0]?.NetworkID).toBe(net.ID);
    expect(s.Endpoint?.VirtualIPs?.[0]?.Addr).not.toBe(addr);
    expect(s.Endpoint?.Ports?.map((p) => p.PublishedPort)).toEqual([8080, 30000]);
    expect(t.Endpoint?.Ports?.[0]?.PublishedPort).toBe(8080);
  });

  it('gives a removed service’s VIP back to the network, and none to a dnsrr service', async () => {
    const store = localStore();
    // A /30: the gateway and one address, so the second VIP exists only if the first came back.
    await store.update((tx) =>
      tx.create('networks', {
        Spec: {
          Name: 'tiny',
          DriverConfiguration: { Name: 'overlay' },
          IPAMOptions: { Configs: [{ Subnet: '10.60.0.0/30' }] },
        },
      }),
    );
    const spec = (name: string, mode: 'vip' | 'dnsrr') => ({
      Name: name,
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'tiny' }] },
      EndpointSpec: { Mode: mode },
    });
    const a = await store.update((tx) => tx.create('services', { Spec: spec('a', 'vip') }));
    start(store);
    const vipOf = (id: string) => store.getService(id)?.Endpoint?.VirtualIPs?.[0]?.Addr;
    expect(await waitFor(() => vipOf(a.ID), { what: 'VIP of a' })).toBe('10.60.0.2/30');
    await store.update((tx) => tx.delete('services', a.ID));
    const rr = await store.update((tx) => tx.create('services', { Spec: spec('rr', 'dnsrr') }));
    const b = await store.update((tx) => tx.create('services', { Spec: spec('b', 'vip') }));
    expect(await waitFor(() => vipOf(b.ID), { what: 'VIP of b' })).toBe('10.60.0.2/30');
    expect(store.getService(rr.ID)?.Endpoint?.VirtualIPs).toBeUndefined();
  });

  it('keeps a task pending with the reason when no node fits, and places it once one does', async () => {
    const store = localStore();
    await addNode(store, 'n1', { zone: 'a' });
    start(store);
    const task = await store.update((tx) =>
      tx.create('tasks', {
        ServiceID: 'svc',
        Slot: 1,
        Spec: { ContainerSpec: { Image: 'busybox' }, Placement: { Constraints: ['node.labels.zone==b'] } },
        Status: { State: 'new' },
        DesiredState: 'running',
      }),
    );
    const pending = await waitFor(
      () => {
        const t = store.getTask(task.ID);
        return t?.Status.Err ? t : undefined;
      },
      { what: 'unschedulable reason' },
    );
    expect(pending.Status.State).toBe('pending');
    expect(pending.Status.Err).toMatch(/no suitable node/);
    await addNode(store, 'n2', { zone: 'b' });
    const placed: Task = await waitFor(
      () => {
        const t = store.getTask(task.ID);
        return t?.Status.State === 'assigned' ? t : undefined;
      },
      { what: 'task placed on n2' },
    );
    expect(placed.NodeID).toBe('n2');
  });
});
