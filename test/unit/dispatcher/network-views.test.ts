import { describe, expect, it } from 'vitest';
import type { SwarmNetwork, Task, TaskState } from '../../../lib/index.js';
import { VXLAN_ID_OPTION } from '../../../lib/index.js';
import {
  indexNetworks,
  meshOfNode,
  type NetworkState,
  networksOfNode,
} from '../../../manager/dispatcher/index.js';

function network(id: string, subnet: string, driver = 'overlay'): SwarmNetwork {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    Spec: { Name: `${id}-name`, DriverConfiguration: { Name: driver } },
    DriverState: { Name: driver, Options: { [VXLAN_ID_OPTION]: '4097' } },
    IPAMOptions: { Configs: [{ Subnet: subnet, Gateway: subnet.replace(/0\/24$/, '1') }] },
  };
}

function task(
  id: string,
  nodeId: string,
  ips: Record<string, string>,
  o: {
    state?: TaskState;
    desired?: TaskState;
    service?: string;
    aliases?: string[];
    vips?: Record<string, string>;
    mode?: 'vip' | 'dnsrr';
  } = {},
): Task {
  const service = o.service ?? 'web';
  return {
    ...(o.vips
      ? {
          Endpoint: {
            Spec: { Mode: o.mode ?? 'vip' },
            VirtualIPs: Object.entries(o.vips).map(([n, a]) => ({ NetworkID: n, Addr: `${a}/24` })),
          },
        }
      : {}),
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '',
    UpdatedAt: '',
    ServiceID: `svc-${service}`,
    Slot: 1,
    NodeID: nodeId,
    Labels: { 'com.docker.swarm.service.name': service },
    Spec: {
      ContainerSpec: { Image: 'busybox' },
      Networks: Object.keys(ips).map((n) => ({ Target: n, Aliases: o.aliases ?? [] })),
    },
    Status: { State: o.state ?? 'running' },
    DesiredState: o.desired ?? 'running',
    NetworksAttachments: Object.entries(ips).map(([n, ip]) => ({
      Network: {
        Name: `${n}-name`,
        Id: n,
        Created: '',
        Scope: 'swarm',
        Driver: 'overlay',
        EnableIPv6: false,
        IPAM: { Driver: 'default', Config: [], Options: {} },
        Internal: false,
        Attachable: false,
        Ingress: false,
        Options: {},
        Labels: {},
      },
      Addresses: [`${ip}/24`],
    })),
  };
}

function state(tasks: Task[], down: string[] = []): NetworkState {
  return {
    tasks,
    nodes: new Map(
      ['n1', 'n2', 'n3'].map((n, i) => [n, { addr: `192.168.0.${i + 1}`, down: down.includes(n) }]),
    ),
    networks: new Map([
      ['ov', network('ov', '10.0.1.0/24')],
      ['br', network('br', '10.0.2.0/24', 'bridge')],
    ]),
  };
}

const ips = (views: ReturnType<typeof networksOfNode>, net: string, name: string) =>
  views.find((v) => v.id === net)?.records?.find((r) => r.name === name)?.ips;

describe('network views for the dispatcher', () => {
  it('gives each node its networks, the other nodes as peers and every node’s names', () => {
    const index = indexNetworks(
      state([
        task('w1', 'n1', { ov: '10.0.1.2' }, { aliases: ['www'] }),
        task('w2', 'n2', { ov: '10.0.1.3' }),
        task('c1', 'n2', { ov: '10.0.1.4' }, { service: 'client' }),
      ]),
    );
    const [ov1] = networksOfNode(index, 'n1');
    expect(ov1).toMatchObject({
      id: 'ov',
      name: 'ov-name',
      driver: 'overlay',
      subnet: '10.0.1.0/24',
      gateway: '10.0.1.1',
      vxlanId: 4097,
      peers: [{ nodeId: 'n2', addr: '192.168.0.2' }],
    });
    const n2 = networksOfNode(index, 'n2');
    expect(n2.map((n) => n.id)).toEqual(['ov']);
    expect(n2[0]?.peers).toEqual([{ nodeId: 'n1', addr: '192.168.0.1' }]);
    expect(ips(n2, 'ov', 'web')).toEqual(['10.0.1.2', '10.0.1.3']);
    expect(ips(n2, 'ov', 'tasks.web')).toEqual(['10.0.1.2', '10.0.1.3']);
    expect(ips(n2, 'ov', 'www')).toEqual(['10.0.1.2']);
    expect(ips(n2, 'ov', 'client')).toEqual(['10.0.1.4']);
    expect(ips(n2, 'ov', 'web.1.w1')).toEqual(['10.0.1.2']);
    // A node without tasks has no networks.
    expect(networksOfNode(index, 'n3')).toEqual([]);
  });

  it('lists only running tasks as names, but every unfinished task’s node as a peer', () => {
    const index = indexNetworks(
      state([
        task('w1', 'n1', { ov: '10.0.1.2' }),
        task('starting', 'n2', { ov: '10.0.1.3' }, { state: 'starting' }),
        task('stopping', 'n3', { ov: '10.0.1.4' }, { desired: 'shutdown' }),
        task('done', 'n3', { ov: '10.0.1.5' }, { state: 'failed' }),
        task('pending', 'n3', { ov: '10.0.1.6' }, { state: 'pending' }),
      ]),
    );
    const views = networksOfNode(index, 'n1');
    expect(ips(views, 'ov', 'web')).toEqual(['10.0.1.2']);
    expect(views[0]?.peers?.map((p) => p.nodeId)).toEqual(['n2', 'n3']);
  });

  it('leaves down nodes out of peers and names', () => {
    const index = indexNetworks(
      state([task('w1', 'n1', { ov: '10.0.1.2' }), task('w2', 'n2', { ov: '10.0.1.3' })], ['n2']),
    );
    const views = networksOfNode(index, 'n1');
    expect(views[0]?.peers).toEqual([]);
    expect(ips(views, 'ov', 'web')).toEqual(['10.0.1.2']);
  });

  it('gives bridge networks names but no peers, and skips networks without a subnet', () => {
    const s = state([
      task('w1', 'n1', { br: '10.0.2.2', nosubnet: '10.0.9.2' }),
      task('w2', 'n2', { br: '10.0.2.3' }),
    ]);
    const views = networksOfNode(indexNetworks(s), 'n1');
    expect(views.map((v) => v.id)).toEqual(['br']);
    expect(views[0]?.peers).toEqual([]);
    expect(ips(views, 'br', 'web')).toEqual(['10.0.2.2', '10.0.2.3']);
  });

  it('answers a VIP service’s names with its VIP, tasks.NAME with its serving tasks, and lists their addresses behind the VIP', () => {
    const vips = { ov: '10.0.1.100' };
    const index = indexNetworks(
      state([
        task('w1', 'n1', { ov: '10.0.1.2' }, { vips, aliases: ['www'] }),
        task('w2', 'n2', { ov: '10.0.1.3' }, { vips, aliases: ['www'] }),
        // Failing its health check (never reported running) or stopping: no new connections.
        task('w3', 'n2', { ov: '10.0.1.4' }, { vips, state: 'starting' }),
        task('w4', 'n3', { ov: '10.0.1.5' }, { vips, desired: 'shutdown' }),
        task('d1', 'n3', { ov: '10.0.1.6' }, { service: 'db', vips: { ov: '10.0.1.101' }, mode: 'dnsrr' }),
      ]),
    );
    const views = networksOfNode(index, 'n3');
    expect(ips(views, 'ov', 'web')).toEqual(['10.0.1.100']);
    expect(ips(views, 'ov', 'www')).toEqual(['10.0.1.100']);
    expect(ips(views, 'ov', 'tasks.web')).toEqual(['10.0.1.2', '10.0.1.3']);
    expect(ips(views, 'ov', 'web.1.w1')).toEqual(['10.0.1.2']);
    expect(views[0]?.vips).toEqual([{ vip: '10.0.1.100', backends: ['10.0.1.2', '10.0.1.3'] }]);
    // dnsrr: the name is the task addresses, and no VIP is balanced.
    expect(ips(views, 'ov', 'db')).toEqual(['10.0.1.6']);
  });

  it('registers no names on a network the task did not ask for (ingress)', () => {
    const t = task('w1', 'n1', { ov: '10.0.1.2' });
    const index = indexNetworks(state([{ ...t, Spec: { ...t.Spec, Networks: [] } }]));
    expect(networksOfNode(index, 'n1')[0]?.records).toEqual([]);
  });

  it('computes equal views for equal states, whatever the task order', () => {
    const tasks = [
      task('a', 'n1', { ov: '10.0.1.9' }),
      task('b', 'n2', { ov: '10.0.1.3' }),
      task('c', 'n3', { ov: '10.0.1.5' }),
    ];
    const one = networksOfNode(indexNetworks(state(tasks)), 'n1');
    const two = networksOfNode(indexNetworks(state([...tasks].reverse())), 'n1');
    expect(JSON.stringify(one)).toBe(JSON.stringify(two));
  });
});

describe('the routing mesh in the network views', () => {
  const ingress = (): SwarmNetwork => {
    const n = network('ing', '10.0.0.0/24');
    return {
      ...n,
      Spec: { ...n.Spec, Ingress: true },
      IPAMOptions: {
        Configs: [
          {
            Subnet: '10.0.0.0/24',
            Gateway: '10.0.0.1',
            AuxiliaryAddresses: {
              'skiff-node-n1': '10.0.0.250',
              'skiff-node-n2': '10.0.0.251',
              'skiff-node-n3': '10.0.0.252',
            },
          },
        ],
      },
    };
  };
  const published = (t: Task, mode: 'ingress' | 'host' = 'ingress'): Task => ({
    ...t,
    Endpoint: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: mode }] },
  });
  const meshState = (tasks: Task[], o: { down?: string[]; keep?: string[] } = {}): NetworkState => ({
    ...state(tasks, o.down),
    networks: new Map([['ing', ingress()]]),
    keepClientAddress: new Set(o.keep ?? []),
  });

  it('puts every live node on the ingress network and gives each the serving tasks behind each port', () => {
    const index = indexNetworks(
      meshState(
        [
          published(task('w1', 'n1', { ing: '10.0.0.3' })),
          published(task('w2', 'n2', { ing: '10.0.0.4' }, { state: 'starting' })),
          published(task('w3', 'n2', { ing: '10.0.0.5' }, { desired: 'shutdown' })),
        ],
        { keep: ['svc-web'] },
      ),
    );
    // n3 runs no task: it answers the port anyway, over the overlay to every other node.
    const n3 = networksOfNode(index, 'n3');
    expect(n3.map((n) => n.id)).toEqual(['ing']);
    expect(n3[0]?.peers?.map((p) => p.nodeId)).toEqual(['n1', 'n2']);
    expect(meshOfNode(index, 'n3')).toEqual({
      networkId: 'ing',
      address: '10.0.0.252',
      ports: [
        {
          protocol: 'tcp',
          publishedPort: 8080,
          targetPort: 80,
          keepClientAddress: true,
          backends: [{ ip: '10.0.0.3', nodeId: 'n1' }],
        },
      ],
    });
  });

  it('runs no mesh for host-mode ports, and leaves down nodes out of the overlay', () => {
    const hostOnly = indexNetworks(meshState([published(task('w1', 'n1', { ing: '10.0.0.3' }), 'host')]));
    expect(meshOfNode(hostOnly, 'n3')).toBeNull();
    expect(networksOfNode(hostOnly, 'n3')).toEqual([]);
    const down = indexNetworks(
      meshState([published(task('w1', 'n1', { ing: '10.0.0.3' }))], { down: ['n2'] }),
    );
    expect(networksOfNode(down, 'n3')[0]?.peers?.map((p) => p.nodeId)).toEqual(['n1']);
  });
});
