import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceSpec, SwarmNetwork, Task } from '../../../lib/index.js';
import { isSkiffError, silentLogger, usesIngressNetwork } from '../../../lib/index.js';
import { AllocationLoop } from '../../../manager/leader/allocation.js';
import type { Store } from '../../../manager/store/index.js';
import { waitFor } from '../../lab/index.js';
import { localStore } from './helpers.js';

const PUBLISHES: ServiceSpec = {
  Name: 'web',
  TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
  EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
};

describe('the ingress network', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
  });

  function startAllocation(store: Store): void {
    const alloc = new AllocationLoop(store, silentLogger, { pools: ['10.60.0.0/16'] });
    alloc.start();
    stops.push(() => alloc.stop());
  }

  async function createIngress(store: Store): Promise<SwarmNetwork> {
    return store.update((tx) =>
      tx.create('networks', {
        Spec: { Name: 'ingress', DriverConfiguration: { Name: 'overlay' }, Ingress: true, Scope: 'swarm' },
      }),
    );
  }

  async function runTask(store: Store, spec: ServiceSpec): Promise<Task> {
    const svc = await store.update((tx) => tx.create('services', { Spec: spec }));
    const task = await store.update((tx) =>
      tx.create('tasks', {
        ServiceID: svc.ID,
        Slot: 1,
        Spec: structuredClone(svc.Spec.TaskTemplate ?? {}),
        Status: { State: 'new' },
        DesiredState: 'running',
      }),
    );
    return waitFor(
      () => {
        const t = store.getTask(task.ID);
        return t?.Status.State === 'pending' ? t : undefined;
      },
      { what: `task of ${spec.Name} allocated` },
    );
  }

  it('is what a service that publishes ports without a network of its own joins, without a VIP', async () => {
    const store = localStore();
    const ingress = await createIngress(store);
    startAllocation(store);
    const t = await runTask(store, PUBLISHES);
    expect(t.NetworksAttachments).toHaveLength(1);
    const att = t.NetworksAttachments?.[0];
    expect(att?.Network.Id).toBe(ingress.ID);
    expect(att?.Network.Ingress).toBe(true);
    const subnet = store.getNetwork(ingress.ID)?.IPAMOptions?.Configs?.[0];
    expect(subnet).toEqual({ Subnet: '10.60.0.0/24', Gateway: '10.60.0.1' });
    expect(att?.Addresses[0]).toMatch(/^10\.60\.0\.\d+\/24$/);
    expect(t.Endpoint?.Ports?.[0]).toMatchObject({
      TargetPort: 80,
      PublishedPort: 8080,
      PublishMode: 'ingress',
    });
    const svc = store.getService(t.ServiceID);
    expect(svc?.Endpoint?.VirtualIPs).toBeUndefined();
  });

  it('is not joined by a service without published ports, nor by one with its own network publishing in host mode; an ingress-mode port joins it after its own', async () => {
    const store = localStore();
    await createIngress(store);
    const own = await store.update((tx) =>
      tx.create('networks', { Spec: { Name: 'app', DriverConfiguration: { Name: 'overlay' } } }),
    );
    startAllocation(store);
    const quiet = await runTask(store, {
      Name: 'quiet',
      TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
    });
    expect(quiet.NetworksAttachments).toEqual([]);
    const withNet = await runTask(store, {
      ...PUBLISHES,
      Name: 'api',
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: own.ID }] },
      EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8081, PublishMode: 'host' }] },
    });
    expect(withNet.NetworksAttachments?.map((a) => a.Network.Id)).toEqual([own.ID]);
    // Ingress mode (the default): the routing mesh reaches the task on the ingress network, after its own.
    const meshed = await runTask(store, {
      ...PUBLISHES,
      Name: 'web',
      TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: own.ID }] },
      EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8082 }] },
    });
    const ids = meshed.NetworksAttachments?.map((a) => a.Network.Id) ?? [];
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(own.ID);
    expect(meshed.NetworksAttachments?.[1]?.Network.Ingress).toBe(true);
  });

  it('is created again when a service needs it and it was removed', async () => {
    const store = localStore();
    startAllocation(store);
    const t = await runTask(store, PUBLISHES);
    const ingress = store.listNetworks((n) => n.Spec.Ingress === true);
    expect(ingress.map((n) => n.Spec.Name)).toEqual(['ingress']);
    expect(t.NetworksAttachments?.[0]?.Network.Id).toBe(ingress[0]?.ID);
  });

  it("keeps the task new with the reason when a user's network named ingress is in the way", async () => {
    const store = localStore();
    const impostor = await store.update((tx) =>
      tx.create('networks', { Spec: { Name: 'ingress', DriverConfiguration: { Name: 'overlay' } } }),
    );
    startAllocation(store);
    const svc = await store.update((tx) => tx.create('services', { Spec: PUBLISHES }));
    const task = await store.update((tx) =>
      tx.create('tasks', {
        ServiceID: svc.ID,
        Slot: 1,
        Spec: structuredClone(PUBLISHES.TaskTemplate ?? {}),
        Status: { State: 'new' },
        DesiredState: 'running',
      }),
    );
    const stuck = await waitFor(() => store.getTask(task.ID)?.Status.Err, { what: 'the reason' });
    expect(stuck).toMatch(/network "ingress" is not an ingress network; remove or rename it/);
    expect(store.getTask(task.ID)?.Status.State).toBe('new');

    await store.update((tx) => tx.delete('networks', impostor.ID));
    const placed = await waitFor(
      () => {
        const t = store.getTask(task.ID);
        return t?.Status.State === 'pending' ? t : undefined;
      },
      { what: 'task allocated once the network is out of the way' },
    );
    expect(placed.NetworksAttachments?.[0]?.Network.Ingress).toBe(true);
  });

  it('cannot be removed while a service publishes through it', async () => {
    const store = localStore();
    const ingress = await createIngress(store);
    const svc = await store.update((tx) => tx.create('services', { Spec: PUBLISHES }));
    const err = await store.update((tx) => tx.delete('networks', ingress.ID)).catch((e: unknown) => e);
    expect(isSkiffError(err) && err.code).toBe('invalid_argument');
    expect(String((err as Error).message)).toMatch(/network ingress is in use by service web/);
    expect(store.getNetwork(ingress.ID)).toBeDefined();

    await store.update((tx) => tx.delete('services', svc.ID));
    await store.update((tx) => tx.delete('networks', ingress.ID));
    expect(store.getNetwork(ingress.ID)).toBeUndefined();
  });
});

describe('usesIngressNetwork', () => {
  it('holds for published ports (either mode) and no network, and only then', () => {
    expect(usesIngressNetwork(PUBLISHES)).toBe(true);
    expect(
      usesIngressNetwork({
        EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 80, PublishMode: 'host' }] },
      }),
    ).toBe(true);
    expect(usesIngressNetwork({ ...PUBLISHES, EndpointSpec: {} })).toBe(false);
    expect(
      usesIngressNetwork({
        ...PUBLISHES,
        TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'app' }] },
      }),
    ).toBe(false);
    expect(usesIngressNetwork({ ...PUBLISHES, Networks: [{ Target: 'app' }] })).toBe(false);
  });
});
