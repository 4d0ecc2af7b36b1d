import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Service } from '../../../lib/index.js';
import type { Store } from '../../../manager/index.js';
import { type CountingReplicator, NODE_ID, newApi, serviceBody } from './helpers.js';

let app: FastifyInstance;
let store: Store;
let replicator: CountingReplicator;

beforeEach(async () => {
  ({ app, store, replicator } = await newApi());
});
afterEach(async () => {
  await app.close();
});

const post = (url: string, payload: unknown) =>
  app.inject({ method: 'POST', url, payload: payload as object });
const get = (url: string) => app.inject({ method: 'GET', url });
const filters = (f: Record<string, string[]>) => encodeURIComponent(JSON.stringify(f));

async function createService(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await post('/v1.44/services/create', serviceBody(name, extra));
  expect(r.statusCode, r.body).toBe(201);
  return (r.json() as { ID: string }).ID;
}

describe('system endpoints', () => {
  it('answers _ping with Docker headers, with and without a version prefix', async () => {
    for (const url of ['/_ping', '/v1.44/_ping', '/v1.24/_ping']) {
      const r = await get(url);
      expect(r.statusCode).toBe(200);
      expect(r.body).toBe('OK');
      expect(r.headers['api-version']).toBe('1.44');
      expect(r.headers.swarm).toBe('active/manager');
      expect(r.headers['docker-experimental']).toBe('false');
    }
    const head = await app.inject({ method: 'HEAD', url: '/_ping' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['api-version']).toBe('1.44');
  });

  it('refuses a client version newer or older than it speaks and answers unknown paths with a Docker error', async () => {
    const r = await get('/v1.99/info');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({
      message: 'client version 1.99 is too new. Maximum supported API version is 1.44',
    });
    const old = await get('/v1.12/info');
    expect(old.statusCode).toBe(400);
    expect(old.json()).toEqual({
      message:
        'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
    });
    expect((await get('/v1.24/info')).statusCode).toBe(200);
    const nf = await get('/v1.44/plugins');
    expect(nf.statusCode).toBe(404);
    expect(nf.json()).toEqual({ message: 'page not found' });
  });

  it('reports the swarm in /info and the node as leader', async () => {
    const info = (await get('/info')).json() as {
      Swarm: { NodeID: string; LocalNodeState: string; Managers: number; Cluster: { ID: string } };
    };
    expect(info.Swarm).toMatchObject({ NodeID: NODE_ID, LocalNodeState: 'active', Managers: 1 });
    expect(info.Swarm.Cluster.ID).toBe(store.getCluster()?.ID);
    const node = (await get(`/nodes/${NODE_ID}`)).json() as { ManagerStatus: { Leader: boolean } };
    expect(node.ManagerStatus.Leader).toBe(true);
  });

  it('updates the swarm spec with a version and rotates a join token', async () => {
    const before = store.getCluster()!;
    const r = await post(`/swarm/update?version=${before.Version.Index}&rotateWorkerToken=true`, {
      ...before.Spec,
      Labels: { env: 'test' },
    });
    expect(r.statusCode, r.body).toBe(200);
    const after = store.getCluster()!;
    expect(after.Spec.Labels).toEqual({ env: 'test' });
    expect(after.JoinTokens?.Worker).not.toBe(before.JoinTokens?.Worker);
    expect(after.JoinTokens?.Manager).toBe(before.JoinTokens?.Manager);
    const stale = await post(`/swarm/update?version=${before.Version.Index}`, before.Spec);
    expect(stale.statusCode).toBe(409);
  });
});

describe('services', () => {
  it('rejects bad bodies with 400 and a message, proposing nothing', async () => {
    const proposals = replicator.proposals;
    const cases: [unknown, RegExp][] = [
      [{ Name: 'x' }, /image reference must be provided/],
      [{ Name: 'bad name!', TaskTemplate: { ContainerSpec: { Image: 'b' } } }, /Name/],
      [serviceBody('x', { Mode: { Replicated: { Replicas: -1 } } }), /Mode\.Replicated\.Replicas/],
      [serviceBody('x', { Mode: { Replicated: {}, Global: {} } }), /one mode/],
      [
        serviceBody('x', {
          TaskTemplate: { ContainerSpec: { Image: 'b', Secrets: [{ SecretID: 'nope', SecretName: 'n' }] } },
        }),
        /secret not found/,
      ],
      [[1, 2], /expected object/],
    ];
    for (const [body, msg] of cases) {
      const r = await post('/services/create', body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect((r.json() as { message: string }).message).toMatch(msg);
    }
    const raw = await app.inject({
      method: 'POST',
      url: '/services/create',
      payload: '{"Name":',
      headers: { 'content-type': 'application/json' },
    });
    expect(raw.statusCode).toBe(400);
    expect((raw.json() as { message: string }).message).toMatch(/not valid JSON/);
    expect(replicator.proposals).toBe(proposals);
    expect(store.listServices()).toEqual([]);
  });

  it('refuses a duplicate name with 409 and unknown services with 404', async () => {
    await createService('web');
    const dup = await post('/services/create', serviceBody('web'));
    expect(dup.statusCode).toBe(409);
    expect((dup.json() as { message: string }).message).toBe('service web already exists');
    const missing = await get('/services/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ message: 'service nope not found' });
  });

  it('updates with ?version=, answering 409 to a stale one and 400 to a missing one', async () => {
    const id = await createService('web');
    const v = store.getService(id)!.Version.Index;
    const ok = await post(
      `/services/${id}/update?version=${v}`,
      serviceBody('web', { Mode: { Replicated: { Replicas: 5 } } }),
    );
    expect(ok.statusCode, ok.body).toBe(200);
    const stale = await post(
      `/services/${id}/update?version=${v}`,
      serviceBody('web', { Mode: { Replicated: { Replicas: 7 } } }),
    );
    expect(stale.statusCode).toBe(409);
    expect((stale.json() as { message: string }).message).toMatch(/out of sequence/);
    const none = await post(`/services/${id}/update`, serviceBody('web'));
    expect(none.statusCode).toBe(400);
    const rename = await post(
      `/services/${id}/update?version=${store.getService(id)!.Version.Index}`,
      serviceBody('other'),
    );
    expect(rename.statusCode).toBe(400);
    const svc = store.getService(id)!;
    expect(svc.Spec.Mode?.Replicated?.Replicas).toBe(5);
    const back = await post(
      `/services/${id}/update?version=${svc.Version.Index}&rollback=previous`,
      serviceBody('web'),
    );
    expect(back.statusCode).toBe(200);
    expect(store.getService(id)?.Spec.Mode?.Replicated?.Replicas).toBe(2);
  });

  it('lists with filters by name, id, label and mode, and with status', async () => {
    const a = await createService('api', { Labels: { tier: 'front' } });
    await createService('db', { Labels: { tier: 'back' }, Mode: { Global: {} } });
    const names = async (q: string) =>
      ((await get(`/services?${q}`)).json() as Service[]).map((s) => s.Spec.Name).sort();
    expect(await names(`filters=${filters({ name: ['ap'] })}`)).toEqual(['api']);
    expect(await names(`filters=${filters({ id: [a.slice(0, 5)] })}`)).toEqual(['api']);
    expect(await names(`filters=${filters({ label: ['tier=back'] })}`)).toEqual(['db']);
    expect(await names(`filters=${filters({ label: ['tier'] })}`)).toEqual(['api', 'db']);
    expect(await names(`filters=${filters({ mode: ['global'] })}`)).toEqual(['db']);
    expect(await names(`filters=${encodeURIComponent('{"mode":{"replicated":true}}')}`)).toEqual(['api']);
    const bad = await get(`/services?filters=${filters({ color: ['red'] })}`);
    expect(bad.statusCode).toBe(400);
    expect((await get('/services?filters=notjson')).statusCode).toBe(400);
    const withStatus = (await get('/services?status=true')).json() as Service[];
    expect(withStatus.find((s) => s.ID === a)?.ServiceStatus).toEqual({
      RunningTasks: 0,
      DesiredTasks: 2,
      CompletedTasks: 0,
    });
  });

  it('lists tasks by service name, node and desired state', async () => {
    const id = await createService('web');
    await store.update((tx) => {
      tx.createTask({
        ServiceID: id,
        Slot: 1,
        NodeID: NODE_ID,
        Spec: {},
        Status: { State: 'running' },
        DesiredState: 'running',
      });
      tx.createTask({
        ServiceID: id,
        Slot: 2,
        Spec: {},
        Status: { State: 'pending' },
        DesiredState: 'shutdown',
      });
    });
    const count = async (f: Record<string, string[]>) =>
      ((await get(`/tasks?filters=${filters(f)}`)).json() as unknown[]).length;
    expect(await count({ service: ['web'] })).toBe(2);
    expect(await count({ service: ['web'], 'desired-state': ['running'] })).toBe(1);
    expect(await count({ node: ['node-a'] })).toBe(1);
    expect(await count({ name: ['web.2'] })).toBe(1);
    expect(await count({ service: ['other'] })).toBe(0);
    expect((await get('/services/web/logs')).statusCode).toBe(501);
  });

  it("lists only the tasks running the current spec under the CLI's _up-to-date filter, and by runtime", async () => {
    const id = await createService('web');
    const template = store.getService(id)?.Spec.TaskTemplate ?? {};
    await store.update((tx) => {
      tx.createTask({
        ServiceID: id,
        Slot: 1,
        Spec: template,
        Status: { State: 'running' },
        DesiredState: 'running',
      });
      tx.createTask({
        ServiceID: id,
        Slot: 1,
        Spec: { ...template, ForceUpdate: 7 },
        Status: { State: 'shutdown' },
        DesiredState: 'shutdown',
      });
    });
    const slots = async (f: Record<string, string[]>) => {
      const r = await get(`/tasks?filters=${filters(f)}`);
      expect(r.statusCode, r.body).toBe(200);
      return (r.json() as { DesiredState: string }[]).map((t) => t.DesiredState);
    };
    expect(await slots({ service: [id], '_up-to-date': ['true'] })).toEqual(['running']);
    expect((await slots({ service: [id] })).sort()).toEqual(['running', 'shutdown']);
    expect(await slots({ service: [id], runtime: ['container'] })).toHaveLength(2);
    expect(await slots({ service: [id], runtime: ['plugin'] })).toHaveLength(0);
    expect((await get(`/services?filters=${filters({ runtime: ['container'] })}`)).json()).toHaveLength(1);
  });

  it('removes a service', async () => {
    const id = await createService('web');
    expect((await app.inject({ method: 'DELETE', url: `/services/${id}` })).statusCode).toBe(200);
    expect(store.getService(id)).toBeUndefined();
    expect((await app.inject({ method: 'DELETE', url: `/services/${id}` })).statusCode).toBe(404);
  });
});

describe('networks, secrets, configs', () => {
  it("creates an encrypted overlay with the cluster's key ring, never shown, and rotates it on demand", async () => {
    const rotate = async () => {
      const v = (await get('/swarm')).json() as { Version: { Index: number }; Spec: object };
      return post(`/swarm/update?version=${v.Version.Index}&rotateNetworkKey=true`, v.Spec);
    };
    // No encrypted overlay yet: nothing to rotate.
    const none = await rotate();
    expect(none.statusCode).toBe(409);
    expect(none.json().message).toMatch(/no encrypted overlay network/);
    for (const [Name, Options] of [
      ['secure', { encrypted: '' }],
      ['secure2', { encrypted: 'true' }],
    ] as const) {
      const r = await post('/networks/create', { Name, Driver: 'overlay', Options });
      expect(r.statusCode, r.body).toBe(201);
      expect((await get(`/networks/${Name}`)).json().Options).toEqual(Options);
    }
    const ring = () => (store.getCluster() as unknown as Record<string, string>)['x-skiff-network-keys'];
    const first = ring();
    expect(first).toBeTruthy();
    expect((await get('/swarm')).body).not.toContain('x-skiff-network-keys');
    expect((await rotate()).statusCode).toBe(200);
    expect(ring()).not.toBe(first);
  });

  it('creates overlay networks, refuses other drivers and deleting one in use', async () => {
    const r = await post('/networks/create', { Name: 'n1', Driver: 'overlay', Labels: { a: 'b' } });
    expect(r.statusCode).toBe(201);
    const id = (r.json() as { Id: string }).Id;
    expect((await post('/networks/create', { Name: 'n2', Driver: 'bridge' })).statusCode).toBe(400);
    expect((await post('/networks/create', { Name: 'n1', Driver: 'overlay' })).statusCode).toBe(409);
    const mtu = (v: string) =>
      post('/networks/create', { Name: `mtu${v}`, Options: { 'com.docker.network.driver.mtu': v } });
    const badMtu = await mtu('big');
    expect(badMtu.statusCode).toBe(400);
    expect(badMtu.json()).toMatchObject({
      message: expect.stringContaining('com.docker.network.driver.mtu'),
    });
    expect((await mtu('1400')).statusCode).toBe(201);
    const list = (await get(`/networks?filters=${filters({ label: ['a=b'] })}`)).json() as {
      Id: string;
      Driver: string;
    }[];
    expect(list).toEqual([expect.objectContaining({ Id: id, Driver: 'overlay' })]);
    const ingress = (await get('/networks/ingress')).json() as { Ingress: boolean };
    expect(ingress.Ingress).toBe(true);
    await createService('web', {
      TaskTemplate: { ContainerSpec: { Image: 'b' }, Networks: [{ Target: 'n1' }] },
    });
    expect(store.getService('web')?.Spec.TaskTemplate?.Networks?.[0]?.Target).toBe(id);
    const del = await app.inject({ method: 'DELETE', url: '/networks/n1' });
    expect(del.statusCode).toBe(400);
    expect((del.json() as { message: string }).message).toMatch(/in use by service web/);
  });

  it('never returns secret data and only lets labels change', async () => {
    const data = Buffer.from('s3cr3t').toString('base64');
    const r = await post('/secrets/create', { Name: 's1', Data: data });
    expect(r.statusCode).toBe(201);
    const id = (r.json() as { ID: string }).ID;
    for (const body of [(await get(`/secrets/${id}`)).body, (await get('/secrets')).body]) {
      expect(body).not.toContain(data);
      expect(body).toContain('s1');
    }
    const v = store.getSecret(id)!.Version.Index;
    expect((await post(`/secrets/${id}/update?version=${v}`, { Name: 's1', Data: data })).statusCode).toBe(
      400,
    );
    expect(
      (await post(`/secrets/${id}/update?version=${v}`, { Name: 's1', Labels: { x: 'y' } })).statusCode,
    ).toBe(200);
    expect(store.getSecret(id)?.Spec.Labels).toEqual({ x: 'y' });
    expect((await post('/secrets/create', { Name: 's2', Data: 'not base64!' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'DELETE', url: `/secrets/${id}` })).statusCode).toBe(204);
  });

  it('returns config data and filters configs by name', async () => {
    const data = Buffer.from('a=b').toString('base64');
    const r = await post('/configs/create', { Name: 'c1', Data: data, Labels: { app: 'x' } });
    expect(r.statusCode).toBe(201);
    const got = (await get('/configs/c1')).json() as { Spec: { Data: string } };
    expect(got.Spec.Data).toBe(data);
    const list = (await get(`/configs?filters=${filters({ names: ['c1'] })}`)).json() as unknown[];
    expect(list).toHaveLength(1);
  });
});

describe('events', () => {
  it('replays recent swarm events with filters between since and until', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await createService('web');
    await post('/secrets/create', { Name: 's1', Data: 'eA==' });
    const until = Math.ceil(Date.now() / 1000) + 0; // already passed or now: the stream ends
    const r = await get(`/events?since=${since}&until=${until}&filters=${filters({ type: ['service'] })}`);
    expect(r.statusCode).toBe(200);
    const events = r.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { Attributes: { name: string } } });
    expect(events).toEqual([
      expect.objectContaining({
        Type: 'service',
        Action: 'create',
        Actor: expect.objectContaining({ Attributes: { name: 'web' } }),
      }),
    ]);
    expect((await get('/events?since=yesterday')).statusCode).toBe(400);
  });
});

describe('nodes', () => {
  it('demotes another manager out of the raft group, records a promotion, refuses self-demotion', async () => {
    const removed: string[] = [];
    const withRaft = await newApi({
      raft: {
        addLearner: async () => {},
        members: () => [],
        removeMember: async (id) => {
          removed.push(id);
        },
      },
    });
    try {
      const s = withRaft.store;
      const other = await s.update((tx) =>
        tx.createNode({
          Spec: { Role: 'manager', Availability: 'active' },
          Status: { State: 'ready' },
          ManagerStatus: { Reachability: 'reachable', Addr: '10.0.0.6:2377' },
        }),
      );
      const worker = await s.update((tx) =>
        tx.createNode({ Spec: { Role: 'worker', Availability: 'active' }, Status: { State: 'ready' } }),
      );
      const update = (id: string, spec: object) =>
        withRaft.app.inject({
          method: 'POST',
          url: `/nodes/${id}/update?version=${s.getNode(id)!.Version.Index}`,
          payload: spec,
        });

      expect((await update(worker.ID, { Role: 'manager', Availability: 'active' })).statusCode).toBe(200);
      expect(s.getNode(worker.ID)?.Spec.Role).toBe('manager');
      expect((await update(NODE_ID, { Role: 'worker', Availability: 'active' })).statusCode).toBe(400);
      const r = await update(other.ID, { Role: 'worker', Availability: 'drain' });
      expect(r.statusCode, r.body).toBe(200);
      expect(removed).toEqual([other.ID]);
      expect(s.getNode(other.ID)?.ManagerStatus).toBeUndefined();
      expect(s.getNode(other.ID)?.Spec).toEqual({ Role: 'worker', Availability: 'drain' });
    } finally {
      await withRaft.app.close();
    }
  });
});
