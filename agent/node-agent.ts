// One node's agent: the container stack (images, snapshots, networks, volumes,
// runtime) under a worker that follows the dispatcher's assignments. Containers
// outlive the agent process; a new agent adopts them.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { privateDir, privateDirSync, writeFileDurableSync } from '../disk/index.js';
import type {
  AssignedSecret,
  DispatcherApi,
  Logger,
  NetworkDefinition,
  NodeDescription,
  Task,
} from '../lib/index.js';
import {
  describeError,
  ENCRYPTED_OVERLAY_PLUGIN,
  MAX_HELD_IMAGES,
  SkiffError,
  silentLogger,
} from '../lib/index.js';
import { Builder } from './build/index.js';
import { ContainerService, isStandaloneId, type NetworkLinkPort } from './containers/index.js';
import {
  DEFAULT_PULL_LIMITS,
  type ImageRecord,
  ImageService,
  listenPeers,
  type PeerServed,
  type PeerTls,
  type PullEvent,
  type PullLimits,
  type PullOutcome,
  peerHandler,
  routePeerRequests,
} from './image/index.js';
import { bridgeNameFor, chooseBridgeSubnet, NetworkManager, routedSubnets } from './network/index.js';
import { ContainerRuntime } from './runtime/index.js';
import { Snapshotter } from './snapshot/index.js';
import { readTaskLogs } from './task-logs.js';
import { readTaskStats } from './task-stats.js';
import { VolumeManager } from './volume/index.js';
import {
  AgentSession,
  type ContainerCreateRequest,
  imagePort,
  NetworkViews,
  networkPort,
  networksOfTask,
  RoutingMeshViews,
  rootfsPort,
  runtimePort,
  Worker,
} from './worker/index.js';

/** What the agent keeps under the node's state and run directories. */
const AGENT_STATE_DIRS = [
  'content',
  'snapshots',
  'containers',
  'runtime',
  'network',
  'volumes',
  'tmp',
  'build',
];
const AGENT_RUN_DIRS = ['runtime', 'network', 'build'];

export interface NodeAgentOptions {
  nodeId: string;
  /** /var/lib/skiff/<node> */
  stateDir: string;
  /** /run/skiff/<node> */
  runDir: string;
  /** Address other nodes reach this one at (VXLAN underlay). */
  addr: string;
  hostname?: string;
  logger?: Logger;
  runtime?: 'crun' | 'runc';
  /** Single-node mode: overlay networks become plain bridges (no peers to tunnel to). */
  overlayAsBridge?: boolean;
  registries?: { mirrors?: Record<string, string[]>; insecure?: string[] };
  labels?: Record<string, string>;
  /** What one image pull may bring (unset limits keep DEFAULT_PULL_LIMITS). */
  pullLimits?: Partial<PullLimits>;
  /** Told of every finished image pull (the node's metrics). */
  onImagePulled?: (p: PullOutcome) => void;
  /**
   * Registry-less distribution (cluster nodes): this node serves the images it holds to
   * other nodes on `listen` (mTLS with the node certificate `tls` gives), tells the
   * managers which it holds, and fetches images pinned by digest from the nodes holding them.
   */
  peers?: {
    listen: { host: string; port: number };
    tls: () => PeerTls;
    /** Told of every manifest or blob served to another node (the node's metrics). */
    onServed?: (s: PeerServed) => void;
    /**
     * The node's other peer routes (a manager's exec in one of its tasks): every request
     * outside the image paths goes there. Absent: those are not found.
     */
    serve?: (req: IncomingMessage, res: ServerResponse) => void;
  };
  /** The subnet of the node's `bridge` network for standalone containers; by default the first of dockerd's default pools the host does not route yet (`nodeBridgeSubnet`). */
  bridgeSubnet?: string;
  /** Where user bridge networks (`docker network create`) take their subnets; dockerd's default pools when absent. */
  networkPool?: string;
}

/** How long `fetchFromCluster` waits for a holder to be known. */
const CLUSTER_SOURCE_WAIT_MS = 10_000;

export class NodeAgent {
  readonly images: ImageService;
  /** Dockerfile builds into `images` (buildah). */
  readonly builder: Builder;
  readonly snapshots: Snapshotter;
  readonly network: NetworkManager;
  readonly runtime: ContainerRuntime;
  readonly volumes: VolumeManager;
  readonly worker: Worker;
  /** Standalone containers (`docker run`), on the same stack as the worker's tasks. */
  readonly containers: ContainerService;
  private session: AgentSession | undefined;
  private running: Promise<void> | undefined;
  /** The routing mesh of the latest assignment message, once programmed. */
  private meshApplied: Promise<unknown> = Promise.resolve();
  private readonly secrets = new Map<string, AssignedSecret>();
  private readonly configs = new Map<string, AssignedSecret>();
  private readonly networkViews: NetworkViews;
  private readonly meshViews: RoutingMeshViews;
  private readonly log: Logger;
  private peerServer: { close(): Promise<void> } | undefined;

  constructor(private readonly opts: NodeAgentOptions) {
    const log = (opts.logger ?? silentLogger).child({ nodeId: opts.nodeId });
    this.log = log;
    const limits = { ...DEFAULT_PULL_LIMITS, ...opts.pullLimits };
    this.snapshots = new Snapshotter({ root: opts.stateDir, logger: log, limits });
    this.images = new ImageService({
      root: opts.stateDir,
      logger: log,
      limits,
      unpacker: this.snapshots,
      ...(opts.registries ? { registries: opts.registries } : {}),
      ...(opts.onImagePulled ? { onPulled: opts.onImagePulled } : {}),
    });
    this.builder = new Builder({
      images: this.images,
      stateDir: opts.stateDir,
      runDir: opts.runDir,
      logger: log,
    });
    this.network = new NetworkManager({
      stateDir: join(opts.stateDir, 'network'),
      runDir: join(opts.runDir, 'network'),
      logger: log,
      ...(opts.overlayAsBridge ? {} : { underlayAddress: opts.addr }),
    });
    this.networkViews = new NetworkViews(this.network, log);
    this.meshViews = new RoutingMeshViews(
      this.network,
      this.networkViews,
      opts.nodeId,
      log,
      opts.overlayAsBridge ?? false,
    );
    this.volumes = new VolumeManager({ root: join(opts.stateDir, 'volumes') });
    this.runtime = new ContainerRuntime({
      root: join(opts.stateDir, 'runtime'),
      runRoot: join(opts.runDir, 'runtime'),
      volumesRoot: join(opts.stateDir, 'volumes'),
      runtime: opts.runtime ?? 'crun',
      logger: log,
    });
    const rootfs = rootfsPort(this.images, this.snapshots);
    const network = networkPort(this.network, log, this.networkViews);
    this.containers = new ContainerService({
      stateDir: opts.stateDir,
      images: this.images,
      rootfs,
      network,
      runtime: this.runtime,
      bridge: bridgeNetwork(opts.nodeId, opts.bridgeSubnet ?? nodeBridgeSubnet(opts.stateDir, opts.nodeId)),
      links: networkLinks(this.network),
      ...(opts.networkPool ? { networkPool: opts.networkPool } : {}),
      log,
    });
    this.worker = new Worker({
      images: imagePort(
        this.images,
        log,
        opts.peers
          ? {
              sources: async (digest) =>
                ((await this.session?.imageSources(digest)) ?? []).map((s) => s.addr),
              tls: opts.peers.tls,
            }
          : undefined,
      ),
      rootfs,
      network,
      runtime: runtimePort(this.runtime),
      nodeHostname: this.hostname,
      onStatus: (u) => this.session?.report(u.taskId, u.status),
      networksFor: async (t) => networksOfTask(t, { overlayAsBridge: opts.overlayAsBridge ?? false }),
      filesFor: async (t) => this.filesFor(t),
      // A standalone container being created has a layer and a namespace before its record.
      foreign: isStandaloneId,
      log,
    });
  }

  get hostname(): string {
    return this.opts.hostname ?? osHostname();
  }

  /** What the node tells the managers about itself; what it can carry decides where its tasks go. */
  async description(): Promise<NodeDescription> {
    const plugins = [
      { Type: 'Network', Name: 'bridge' },
      { Type: 'Network', Name: 'overlay' },
      { Type: 'Volume', Name: 'local' },
    ];
    if (await this.network.carriesEncryptedOverlays()) plugins.push({ ...ENCRYPTED_OVERLAY_PLUGIN });
    return {
      Hostname: this.hostname,
      Platform: { OS: 'linux', Architecture: process.arch === 'x64' ? 'x86_64' : process.arch },
      Engine: { EngineVersion: 'skiff', Labels: this.opts.labels ?? {}, Plugins: plugins },
    };
  }

  /** Restores node state, adopts surviving containers and connects to the dispatcher. */
  async start(dispatcher: () => DispatcherApi): Promise<void> {
    // The ESP probe (two `ip xfrm` runs) goes on while the node restores its state.
    const description = this.description();
    description.catch(() => {});
    // Layers, containers' files and records are root's alone (crun mounts and enters them as root).
    for (const d of AGENT_STATE_DIRS) await privateDir(join(this.opts.stateDir, d));
    for (const d of AGENT_RUN_DIRS) await privateDir(join(this.opts.runDir, d));
    await this.images.init();
    await this.builder.sweep();
    await this.network.restore();
    await this.worker.start();
    await this.containers.init();
    const peers = this.opts.peers;
    // A node whose peer port is taken still runs its tasks; it only serves no images.
    this.peerServer = peers
      ? await listenPeers(
          peers.listen,
          peers.tls,
          routePeerRequests(
            peerHandler(
              { content: this.images.content, images: () => this.images.list() },
              this.log,
              peers.onServed,
            ),
            peers.serve,
          ),
        ).catch((e: unknown) => {
          this.log.error(
            { err: describeError(e), port: peers.listen.port },
            'cannot serve images to other nodes; they pull from registries or other holders',
          );
          return undefined;
        })
      : undefined;
    if (peers && this.peerServer) {
      // A build, import or pull is announced at once: a deploy right after a build finds it.
      this.images.records.onChange = () => this.session?.announceImages();
    }
    this.session = new AgentSession({
      dispatcher,
      worker: this.worker,
      nodeId: this.opts.nodeId,
      addr: this.opts.addr,
      description: await description,
      ...(peers && this.peerServer
        ? {
            images: () => ({
              addr: `${this.opts.addr}:${peers.listen.port}`,
              digests: this.images.heldDigests(MAX_HELD_IMAGES),
            }),
          }
        : {}),
      log: this.log,
      logs: (taskIds, q, signal) => readTaskLogs(this.runtime, taskIds, q, signal),
      stats: (taskIds) => readTaskStats(this.runtime, taskIds),
      onResources: (r) => {
        for (const s of r.secrets) this.secrets.set(s.id, s);
        for (const c of r.configs) this.configs.set(c.id, c);
        // The mesh after the networks: its ingress network's view comes in the same message.
        const networks = this.networkViews.update(r);
        const mesh = r.mesh !== undefined ? networks.then(() => this.meshViews.update(r.mesh)) : networks;
        this.meshApplied = mesh;
        // Keys after the networks: their peers are programmed by then.
        const keys = r.networkKeys;
        if (keys !== undefined)
          void networks
            .then(() => this.network.setNetworkKeys(keys))
            .catch((e: unknown) =>
              this.log.error({ err: describeError(e) }, 'cannot program the encrypted overlays'),
            );
      },
    });
    this.running = this.session.run();
    // Once the first complete set is applied (containers of tasks no longer assigned
    // removed) and its mesh programmed, networks left from before this start go.
    void this.session.connected
      .then(() => this.meshApplied)
      .then(() => this.network.releaseUnusedNetworks())
      .catch((e: unknown) =>
        this.log.warn({ err: describeError(e) }, 'could not remove networks no container uses'),
      );
  }

  /**
   * Brings an image pinned by digest from the other nodes holding it, as a task's start
   * would (`image push --to-cluster` seeding every node). `fetched` is false when the node
   * had it already. Holders are asked of the leader's dispatcher for a few seconds: the
   * node that was just given the image announces it with its next heartbeat.
   */
  async fetchFromCluster(
    ref: string,
    digest: string,
    onProgress?: (e: PullEvent) => void,
  ): Promise<{ record: ImageRecord; fetched: boolean }> {
    const have = await this.images.lookup(ref);
    if (have) return { record: have, fetched: false };
    const peers = this.opts.peers;
    if (!peers || !this.session)
      throw new SkiffError('unavailable', 'this node is in no cluster: it has no other nodes to fetch from');
    let sources: string[] = [];
    for (const deadline = Date.now() + CLUSTER_SOURCE_WAIT_MS; ; ) {
      sources = (await this.session.imageSources(digest)).map((s) => s.addr);
      if (sources.length > 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    if (sources.length === 0)
      throw new SkiffError('not_found', `no node of the cluster holds ${ref}`, {
        hint: 'the node it was loaded on may not have told the managers yet; try again',
      });
    this.log.info({ image: ref, peers: sources }, 'fetching image from other nodes (push --to-cluster)');
    const record = await this.images.pullFromPeers(ref, sources, peers.tls, {
      ...(onProgress ? { onProgress } : {}),
    });
    return { record, fetched: true };
  }

  /** Resolves once the first assignment set has been applied. */
  connected(): Promise<void> {
    return this.session?.connected ?? Promise.resolve();
  }

  /**
   * Leaving the cluster: stops following the managers first, so no assignment arrives
   * after the last one is dropped, then removes every container on the node.
   */
  async empty(): Promise<void> {
    await this.session?.stop();
    await this.running;
    await this.worker.setAssignments([]);
    await this.worker.settled();
    for (const c of await this.runtime.list()) {
      await this.runtime.delete(c.id, { force: true }).catch((err: unknown) => {
        this.log.warn({ containerId: c.id, err: String(err) }, 'could not remove a container while leaving');
      });
    }
  }

  /** Stops following the managers; containers keep running. */
  async stop(): Promise<void> {
    await this.session?.stop();
    await this.running;
    this.worker.stop();
    // Removed containers' remains are released before the network layer goes (bounded:
    // a tombstone left is finished at the next start).
    await this.containers.close();
    this.runtime.close();
    await this.peerServer?.close();
    await this.network.dns.close();
    await this.images.close();
  }

  private filesFor(task: Task): NonNullable<ContainerCreateRequest['files']> {
    const out: NonNullable<ContainerCreateRequest['files']> = [];
    const cs = task.Spec.ContainerSpec;
    for (const ref of cs?.Secrets ?? []) {
      const s = this.secrets.get(ref.SecretID);
      if (!s) throw new Error(`secret ${ref.SecretName} is not available on this node`);
      out.push({
        kind: 'secret',
        target: ref.File?.Name ?? ref.SecretName,
        data: Buffer.from(s.data, 'base64'),
        uid: Number(ref.File?.UID ?? 0),
        gid: Number(ref.File?.GID ?? 0),
        mode: ref.File?.Mode ?? 0o444,
      });
    }
    for (const ref of cs?.Configs ?? []) {
      const c = this.configs.get(ref.ConfigID);
      if (!c) throw new Error(`config ${ref.ConfigName} is not available on this node`);
      out.push({
        kind: 'config',
        target: ref.File?.Name ?? `/${ref.ConfigName}`,
        data: Buffer.from(c.data, 'base64'),
        uid: Number(ref.File?.UID ?? 0),
        gid: Number(ref.File?.GID ?? 0),
        mode: ref.File?.Mode ?? 0o444,
      });
    }
    return out;
  }
}

/** `docker network connect`/`disconnect` on the node's network layer. */
function networkLinks(mgr: NetworkManager): NetworkLinkPort {
  return {
    ensureNetwork: (def) => mgr.ensureNetwork(def),
    connect: async (containerId, a) => ({ ip: (await mgr.connect(containerId, a)).ip }),
    disconnect: (containerId, networkId) => mgr.disconnect(containerId, networkId),
    async releaseNetwork(networkId) {
      try {
        await mgr.removeNetwork(networkId);
      } catch (e) {
        // Another container is still on it: it stays.
        if (!(e instanceof SkiffError && e.code === 'conflict')) throw e;
      }
    },
    subnetsInUse: () => mgr.subnetsInUse(),
  };
}

/**
 * The `bridge` subnet of a cluster node, chosen once and kept in `bridge-subnet` so
 * standalone containers keep their network across restarts. A node whose standalone
 * containers predate the choice keeps 172.17.0.0/16, what earlier builds used.
 */
function nodeBridgeSubnet(stateDir: string, nodeId: string): string {
  const file = join(stateDir, 'bridge-subnet');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const records = join(stateDir, 'engine-containers');
  const earlier = existsSync(records) && readdirSync(records).some((f) => f.endsWith('.json'));
  const chosen = earlier
    ? '172.17.0.0/16'
    : chooseBridgeSubnet(
        routedSubnets(readFileSync('/proc/net/route', 'utf8'), bridgeNameFor(bridgeIdOf(nodeId))),
      );
  if (chosen === undefined) {
    throw new SkiffError(
      'unavailable',
      "every default address pool for the node's bridge network (172.17-31.0.0/16, 192.168.0-240.0/20) is routed on this host already",
      { hint: 'remove a conflicting route or interface' },
    );
  }
  privateDirSync(stateDir);
  writeFileDurableSync(file, `${chosen}\n`, { mode: 0o600 });
  return chosen;
}

function bridgeIdOf(nodeId: string): string {
  return `bridge-${nodeId.slice(0, 12)}`;
}

function bridgeNetwork(nodeId: string, subnet: string): NetworkDefinition {
  const [base = '', bits = ''] = subnet.split('/');
  const o = base.split('.').map(Number);
  if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255) || !/^\d+$/.test(bits))
    throw new SkiffError('invalid_argument', `the bridge subnet ${subnet} is not an IPv4 CIDR`);
  return {
    id: bridgeIdOf(nodeId),
    name: 'bridge',
    driver: 'bridge',
    subnet,
    gateway: `${o[0]}.${o[1]}.${o[2]}.${(o[3] ?? 0) + 1}`,
  };
}
