import { afterEach, describe, expect, it } from 'vitest';
import { AgentSession } from '../../../agent/worker/index.js';
import type { AssignmentsMessage, Task } from '../../../lib/index.js';
import { VXLAN_ID_OPTION } from '../../../lib/index.js';
import { Dispatcher } from '../../../manager/dispatcher/index.js';
import { waitFor } from '../../lab/index.js';
import { FakeStack } from '../worker/fake-stack.js';
import { FakeStore } from './fake-store.js';

function task(id: string, nodeId: string, desired: Task['DesiredState'] = 'running'): Task {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    ServiceID: 's1',
    Slot: 1,
    NodeID: nodeId,
    Spec: { ContainerSpec: { Image: 'busybox' } },
    Status: { State: 'assigned' },
    DesiredState: desired,
  };
}

describe('dispatcher and agent session', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function setup(heartbeatPeriodMs = 1000) {
    const store = new FakeStore();
    const dispatcher = new Dispatcher({ store, heartbeatPeriodMs });
    const stack = new FakeStack();
    const session: { s?: AgentSession } = {};
    const worker = stack.worker((u) => session.s?.report(u.taskId, u.status));
    const agent = new AgentSession({
      dispatcher: () => dispatcher,
      worker,
      nodeId: 'node1',
      addr: '10.0.0.1',
      description: { Hostname: 'n1' },
      batchDelayMs: 5,
    });
    session.s = agent;
    cleanups.push(async () => {
      await agent.stop();
      dispatcher.stop();
    });
    return { store, dispatcher, stack, worker, agent };
  }

  it('delivers assigned tasks and records the statuses the agent reports', async () => {
    const { store, worker, agent } = setup();
    store.put(task('t1', 'node1'), 'create');
    store.put(task('other', 'node2'), 'create');
    await worker.start();
    void agent.run();
    await agent.connected;
    await waitFor(() => store.tasks.get('t1')?.Status.State === 'running', { what: 't1 running' });
    expect(store.nodes.get('node1')?.state).toBe('ready');
    expect(worker.tasks().map((t) => t.id)).toEqual(['t1']);

    // A task assigned later arrives incrementally.
    store.put(task('t2', 'node1'), 'create');
    await waitFor(() => store.tasks.get('t2')?.Status.State === 'running', { what: 't2 running' });

    // Desired state shutdown stops it; the status comes back.
    store.put({ ...store.tasks.get('t2')!, DesiredState: 'shutdown' });
    await waitFor(() => store.tasks.get('t2')?.Status.State === 'shutdown', { what: 't2 shutdown' });
  });

  it('marks a node down when its heartbeats stop', async () => {
    const { store, dispatcher } = setup(50);
    await dispatcher.register({ nodeId: 'silent', description: {}, addr: '10.0.0.9' });
    expect(store.nodes.get('silent')?.state).toBe('ready');
    await waitFor(() => store.nodes.get('silent')?.state === 'down', {
      what: 'node marked down',
      timeoutMs: 2000,
    });
  });

  it('refuses status updates from a stale session and about tasks of other nodes', async () => {
    const { store, dispatcher } = setup();
    store.put(task('mine', 'a'), 'create');
    store.put(task('theirs', 'b'), 'create');
    const first = await dispatcher.register({ nodeId: 'a', description: {}, addr: '' });
    const second = await dispatcher.register({ nodeId: 'a', description: {}, addr: '' });
    await expect(
      dispatcher.updateTaskStatus({ nodeId: 'a', sessionId: first.sessionId, updates: [] }),
    ).rejects.toThrow(/not current/);
    await dispatcher.updateTaskStatus({
      nodeId: 'a',
      sessionId: second.sessionId,
      updates: [
        { taskId: 'mine', status: { State: 'running' } },
        { taskId: 'theirs', status: { State: 'running' } },
      ],
    });
    expect(store.tasks.get('mine')?.Status.State).toBe('running');
    expect(store.tasks.get('theirs')?.Status.State).toBe('assigned');
  });

  it('pushes network peers and names incrementally as tasks start and stop and nodes go down', async () => {
    const { store, dispatcher } = setup(60_000);
    store.networks.set('ov', {
      ID: 'ov',
      Version: { Index: 1 },
      CreatedAt: '',
      UpdatedAt: '',
      Spec: { Name: 'front', DriverConfiguration: { Name: 'overlay' } },
      DriverState: { Name: 'overlay', Options: { [VXLAN_ID_OPTION]: '4100' } },
      IPAMOptions: { Configs: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.1' }] },
    });
    const onOverlay = (t: Task, ip: string): Task => ({
      ...t,
      Labels: { 'com.docker.swarm.service.name': 'web' },
      Spec: { ...t.Spec, Networks: [{ Target: 'ov' }] },
      Status: { State: 'running' },
      NetworksAttachments: [
        {
          Network: { Id: 'ov', Name: 'front', Driver: 'overlay' } as NonNullable<
            Task['NetworksAttachments']
          >[number]['Network'],
          Addresses: [`${ip}/24`],
        },
      ],
    });
    store.put(onOverlay(task('w1', 'a'), '10.9.0.2'), 'create');
    const a = await dispatcher.register({ nodeId: 'a', description: {}, addr: '192.168.5.1' });
    await dispatcher.register({ nodeId: 'b', description: {}, addr: '192.168.5.2' });
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    const got: AssignmentsMessage[] = [];
    void (async () => {
      for await (const m of dispatcher.assignments({ nodeId: 'a', sessionId: a.sessionId }, abort.signal))
        got.push(m);
    })();
    const latest = () => {
      const withNetworks = got.filter((m) => m.networks.length > 0 || (m.removedNetworks?.length ?? 0) > 0);
      return withNetworks[withNetworks.length - 1];
    };
    const view = () => latest()?.networks[0];
    const web = () => view()?.records?.find((r) => r.name === 'web')?.ips;

    await waitFor(() => got[0]?.type === 'complete', { what: 'the complete set' });
    expect(got[0]?.networks).toMatchObject([{ id: 'ov', vxlanId: 4100, peers: [] }]);
    expect(web()).toEqual(['10.9.0.2']);

    store.put(onOverlay(task('w2', 'b'), '10.9.0.3'), 'create');
    await waitFor(() => web()?.length === 2, { what: 'the second task’s address' });
    expect(view()?.peers).toEqual([{ nodeId: 'b', addr: '192.168.5.2' }]);
    expect(latest()?.tasks).toEqual([]);

    await store.setNodeState('b', 'down');
    await waitFor(() => view()?.peers?.length === 0, { what: 'the down node gone from the peers' });
    expect(web()).toEqual(['10.9.0.2']);

    const sent = got.length;
    // The node's last task on the network stops.
    store.put({ ...store.tasks.get('w1')!, DesiredState: 'shutdown', Status: { State: 'shutdown' } });
    await waitFor(() => latest()?.removedNetworks?.includes('ov'), { what: 'the network removed' });
    // One message for the task and one for the network, nothing repeated.
    expect(got.length - sent).toBe(2);
  });
  it('hands the network keys only to nodes with a task on an encrypted overlay, again when they turn', async () => {
    const { store, dispatcher } = setup(60_000);
    const overlay = (id: string, vni: string, options: Record<string, string>) =>
      store.networks.set(id, {
        ID: id,
        Version: { Index: 1 },
        CreatedAt: '',
        UpdatedAt: '',
        Spec: { Name: id, DriverConfiguration: { Name: 'overlay', Options: options } },
        DriverState: { Name: 'overlay', Options: { ...options, [VXLAN_ID_OPTION]: vni } },
        IPAMOptions: {
          Configs: [{ Subnet: `10.${vni.slice(-2)}.0.0/24`, Gateway: `10.${vni.slice(-2)}.0.1` }],
        },
      });
    overlay('sec', '4111', { encrypted: '' });
    overlay('plain', '4122', {});
    store.keys = { keys: [1, 2, 3].map((tag) => ({ tag, key: `k${tag}` })), primary: 2 };
    const on = (t: Task, network: string): Task => ({
      ...t,
      Status: { State: 'running' },
      NetworksAttachments: [
        {
          Network: { Id: network, Name: network, Driver: 'overlay' } as NonNullable<
            Task['NetworksAttachments']
          >[number]['Network'],
          Addresses: ['10.0.0.9/24'],
        },
      ],
    });
    store.put(on(task('s1', 'a'), 'sec'), 'create');
    store.put(on(task('p1', 'b'), 'plain'), 'create');
    const stream = async (nodeId: string, addr: string) => {
      const r = await dispatcher.register({ nodeId, description: {}, addr });
      const abort = new AbortController();
      cleanups.push(() => abort.abort());
      const got: AssignmentsMessage[] = [];
      void (async () => {
        for await (const m of dispatcher.assignments({ nodeId, sessionId: r.sessionId }, abort.signal))
          got.push(m);
      })();
      return got;
    };
    const a = await stream('a', '192.168.5.1');
    const b = await stream('b', '192.168.5.2');
    await waitFor(() => a[0] !== undefined && b[0] !== undefined, { what: 'both complete sets' });
    expect(a[0]?.networks[0]).toMatchObject({ id: 'sec', encrypted: true });
    expect(a[0]?.networkKeys).toEqual(store.keys);
    expect(b[0]?.networks[0]?.encrypted).toBeUndefined();
    expect(b[0]?.networkKeys).toBeNull();

    // A rotation reaches the node that has the encrypted overlay, and no other.
    const rotated = { keys: [2, 3, 4].map((tag) => ({ tag, key: `k${tag}` })), primary: 3 };
    const sentToB = b.length;
    store.setKeys(rotated);
    await waitFor(() => a.some((m) => m.networkKeys?.primary === 3), { what: 'the rotated keys' });
    expect(b.slice(sentToB).some((m) => m.networkKeys !== undefined)).toBe(false);

    // Its last task on the encrypted overlay gone, the node is told to forget the keys.
    store.put({ ...store.tasks.get('s1')!, DesiredState: 'shutdown', Status: { State: 'shutdown' } });
    await waitFor(() => a.at(-1)?.networkKeys === null, { what: 'the keys withdrawn' });
  });
});

describe('a session that does not keep up', () => {
  it('holds at most the bound of queued changes, then catches up with one complete set', async () => {
    const store = new FakeStore();
    const dispatcher = new Dispatcher({ store, heartbeatPeriodMs: 60_000, maxQueuedMessages: 16 });
    const abort = new AbortController();
    try {
      const reg = await dispatcher.register({ nodeId: 'node1', description: {}, addr: '10.0.0.1' });
      const stream = dispatcher
        .assignments({ nodeId: 'node1', sessionId: reg.sessionId }, abort.signal)
        [Symbol.asyncIterator]();
      expect((await stream.next()).value?.type).toBe('complete');
      // The agent reads nothing while 1,000 changes happen.
      for (let i = 0; i < 1000; i++) store.put(task(`t${i}`, 'node1'));
      expect(dispatcher.queuedFor('node1')).toBeLessThanOrEqual(16);
      const next = (await stream.next()).value as AssignmentsMessage;
      expect(next.type).toBe('complete');
      expect(next.tasks).toHaveLength(1000);
      // Changes after the complete set flow one by one again.
      store.put(task('late', 'node1'));
      const late = (await stream.next()).value as AssignmentsMessage;
      expect([late.type, late.tasks.map((t) => t.ID)]).toEqual(['incremental', ['late']]);
    } finally {
      abort.abort();
      dispatcher.stop();
    }
  });
});
