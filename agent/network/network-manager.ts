// The node's network layer: networks (bridge, firewall chain, VXLAN device, DNS
// listener), container sandboxes (named network namespaces) and attachments (CNI ADD
// through the reference plugins). Every attachment is recorded on disk before its first
// ADD, so DEL can be replayed with the same configuration after a crash.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileDurable } from '../../disk/index.js';
import {
  attachmentById,
  type ContainerNetworkAttachment,
  type Logger,
  type NetworkAttachmentById,
  type NetworkDefinition,
  type NetworkKeys,
  type PublishedPort,
  type RoutingMeshView,
  type ServiceVip,
  SkiffError,
  silentLogger,
} from '../../lib/index.js';
import { helperExec } from '../host-exec.js';
import { cidrContains, cidrsOverlap, parseCidr, parseIpv4 } from './cidr.js';
import { type CniConfigList, CniInvoker, CniPluginError, type CniResult } from './cni.js';
import { interfaceConfigList } from './cni-config.js';
import { DnsServer } from './dns-server.js';
import { type Exec, mustExec } from './exec.js';
import { Firewall, type NetworkRuleInput } from './firewall.js';
import { OverlayEsp } from './ipsec.js';
import { bridgeNameFor, chainNameFor, cniNetworkNameFor, nftTableFor, vxlanNameFor } from './names.js';
import { createNamedNetns, isMounted, removeNamedNetns } from './netns.js';
import { Overlay, type OverlayDevice } from './overlay.js';
import { RoutingMesh } from './routing-mesh.js';
import { mergeVips, ServiceLoadBalancer } from './service-lb.js';
import {
  type AttachedInterface,
  validateAttachments,
  validateContainerId,
  validateNetworkDefinition,
  validatePorts,
} from './types.js';

const VXLAN_OVERHEAD = 50;

export interface NetworkManagerOptions {
  stateDir: string;
  runDir: string;
  cniBinDir?: string;
  hostResolvConf?: string;
  logger?: Logger;
  /** The DNS server to feed; one is created (listening on port 53) when omitted. */
  dns?: DnsServer;
  /** MTU of the underlay for overlay networks; read from the default route's device when omitted. */
  underlayMtu?: number;
  /** This node's underlay address (its VXLAN packets' source): encrypted overlays' SAs are keyed on it. */
  underlayAddress?: string;
  exec?: Exec;
}

export interface OverlayPeer {
  nodeId: string;
  underlayIp: string;
}

interface AttachmentEntry {
  networkId: string;
  ifName: string;
  aliases: string[];
  config: CniConfigList;
  result?: CniResult;
}

interface AttachmentRecord {
  containerId: string;
  netnsPath: string;
  ports: PublishedPort[];
  entries: AttachmentEntry[];
}

/** A container attached this recently is taken to be still starting (crun start follows). */
const STARTING_AFTER_ATTACH_MS = 300;
/** A sandbox never attached (no networks, or its start given up) stops counting as starting after this. */
const STARTING_AT_MOST_MS = 10_000;

export class NetworkManager {
  readonly dns: DnsServer;
  private readonly log: Logger;
  private readonly run: Exec;
  private readonly cni: CniInvoker;
  private readonly firewall: Firewall;
  private readonly overlay: Overlay;
  private readonly networks = new Map<string, NetworkDefinition>();
  private readonly attachments = new Map<string, AttachmentRecord>();
  private lock: Promise<unknown> = Promise.resolve();
  private detectedMtu: number | undefined;
  /** Networks whose kernel state this process has set up. */
  private readonly ready = new Set<string>();
  /**
   * Containers whose sandbox is being prepared on a network: ensured, not attached yet.
   * They use the network as much as attached ones do: removing it (its last attached
   * container just left) would pull it from under them.
   */
  private readonly preparing = new Map<string, Set<string>>();
  private readonly bridgeChecks = new Map<string, Promise<boolean>>();
  /** Service VIPs and their serving tasks, per network (the dispatcher's views). */
  private readonly vips = new Map<string, readonly ServiceVip[]>();
  private readonly lb: ServiceLoadBalancer;
  /** Containers starting on this node, from their sandbox to the end of their attachment: since when. */
  private readonly starting = new Map<string, number>();
  /** When the last of them got attached (performance.now()). */
  private lastAttached = Number.NEGATIVE_INFINITY;
  private readonly mesh: RoutingMesh;
  /** The routing mesh to run (its ingress network is kept while it runs), with this node's ID. */
  private meshView: { view: RoutingMeshView; nodeId: string } | undefined;
  private readonly esp: OverlayEsp;
  /** The encrypted overlays' keys from the dispatcher; undefined until it said. */
  private networkKeys: NetworkKeys | null | undefined;
  /** Per overlay, the peers' underlay addresses last programmed. */
  private readonly overlayPeers = new Map<string, readonly string[]>();
  private espQueue: Promise<void> = Promise.resolve();

  constructor(private readonly options: NetworkManagerOptions) {
    this.log = (options.logger ?? silentLogger).child({ component: 'network' });
    // Host tools run from a small helper process: a fork of the agent itself stops its event loop.
    this.run = options.exec ?? helperExec;
    this.cni = new CniInvoker([options.cniBinDir ?? '/usr/lib/cni'], this.run);
    this.firewall = new Firewall(this.run);
    this.overlay = new Overlay(this.run);
    // Rewrites of running containers' VIP tables yield to containers being prepared.
    this.lb = new ServiceLoadBalancer(this.run, this.log, {
      starting: () => {
        const now = performance.now();
        if (now - this.lastAttached < STARTING_AFTER_ATTACH_MS) return true;
        return [...this.starting.values()].some((since) => now - since < STARTING_AT_MOST_MS);
      },
    });
    this.mesh = new RoutingMesh(this.run, this.log);
    this.esp = new OverlayEsp(this.run, this.log);
    this.dns =
      options.dns ??
      new DnsServer({ hostResolvConf: options.hostResolvConf ?? '/etc/resolv.conf', logger: this.log });
  }

  private get netnsDir() {
    return path.join(this.options.runDir, 'netns');
  }
  private get networksDir() {
    return path.join(this.options.stateDir, 'networks');
  }
  private get attachmentsDir() {
    return path.join(this.options.stateDir, 'attachments');
  }
  private get ipamDir() {
    return path.join(this.options.stateDir, 'ipam');
  }

  /** Serializes network-level changes (rules and DNS listeners are shared state). */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const next = this.lock.then(f, f);
    this.lock = next.catch(() => {});
    return next;
  }

  listNetworks(): NetworkDefinition[] {
    return [...this.networks.values()];
  }

  getNetwork(id: string): NetworkDefinition | undefined {
    return this.networks.get(id);
  }

  /** Subnets that a new local network must not overlap: skiff's networks and the host's routes. */
  async subnetsInUse(): Promise<string[]> {
    const out = await mustExec(
      this.run,
      'ip',
      ['-j', '-4', 'route', 'show', 'table', 'all'],
      'listing routes',
    );
    const routes = (JSON.parse(out || '[]') as { dst?: string }[])
      .map((r) => r.dst)
      .filter((d): d is string => d !== undefined && d !== 'default' && /^[\d.]+(\/\d+)?$/.test(d));
    return [...new Set([...this.listNetworks().map((n) => n.subnet), ...routes])];
  }

  /** Reloads networks and attachments after a restart: recreates kernel state, releases dead attachments. */
  async restore(): Promise<void> {
    for (const def of await readJsonDir<NetworkDefinition>(this.networksDir)) {
      await this.ensureNetwork(def).catch((e) =>
        this.log.error({ err: e, networkId: def.id }, 'cannot restore network'),
      );
    }
    for (const record of await readJsonDir<AttachmentRecord>(this.attachmentsDir)) {
      this.attachments.set(record.containerId, record);
      const alive = await isMounted(this.run, record.netnsPath);
      if (!alive || record.entries.some((e) => !e.result)) {
        this.log.info(
          { containerId: record.containerId },
          'releasing the attachment of a container that is gone',
        );
        await this.detach(record.containerId).catch((e) =>
          this.log.error({ err: e, containerId: record.containerId }, 'cannot release attachment'),
        );
      } else {
        this.registerDns(record);
        // Its table outlived the agent; the next views replace it, whatever it holds.
        this.lb.unknown(record.containerId);
      }
    }
  }

  /**
   * Removes the networks no container here uses, none is being prepared on and the
   * routing mesh does not run on: a network whose last container went away while the agent
   * was down (or was killed between the detach and the removal) is restored from its record
   * with nobody to remove it. Called once the node knows its tasks and its mesh.
   */
  async releaseUnusedNetworks(): Promise<void> {
    for (const id of [...this.networks.keys()]) {
      const used =
        [...this.attachments.values()].some((a) => a.entries.some((e) => e.networkId === id)) ||
        (this.preparing.get(id)?.size ?? 0) > 0 ||
        this.meshView?.view.networkId === id;
      if (used) continue;
      this.log.info({ networkId: id }, 'removing a network no container here uses');
      // In use by the time the removal runs (a task started meanwhile): it stays.
      await this.removeNetwork(id).catch(() => {});
    }
  }

  /** Sets the network up on this node; `forContainer` is about to attach to it (see `preparing`). */
  async ensureNetwork(input: NetworkDefinition, forContainer?: string): Promise<void> {
    const def = validateNetworkDefinition(input);
    // Counted before the first await, so a removal that has not checked its users yet sees it.
    if (forContainer !== undefined) {
      const set = this.preparing.get(def.id) ?? new Set<string>();
      set.add(forContainer);
      this.preparing.set(def.id, set);
    }
    // The common case (the worker ensures a task's networks before every container): set
    // up earlier by this process with this definition and its bridge still there. Checked
    // outside the lock, so a burst of containers shares one `ip link show` instead of
    // queueing one each behind it.
    const known = this.networks.get(def.id);
    if (known && this.ready.has(def.id) && sameAddressing(known, def) && (await this.bridgePresent(def.id)))
      return;
    return this.exclusive(async () => {
      const existing = this.networks.get(def.id);
      if (
        existing &&
        (existing.subnet !== def.subnet ||
          existing.gateway !== def.gateway ||
          existing.driver !== def.driver ||
          existing.vxlanId !== def.vxlanId)
      ) {
        throw new SkiffError(
          'conflict',
          `network ${def.name} already exists on this node with subnet ${existing.subnet} (${existing.driver})`,
          { hint: 'remove the network before changing its driver or addresses' },
        );
      }
      const subnet = parseCidr(def.subnet);
      for (const other of this.networks.values()) {
        if (other.id !== def.id && cidrsOverlap(parseCidr(other.subnet), subnet)) {
          throw new SkiffError(
            'conflict',
            `network ${def.name}: subnet ${def.subnet} overlaps network ${other.name} (${other.subnet})`,
            { hint: 'pick a subnet that no other network on this node uses' },
          );
        }
      }
      // Set up earlier by this process and its bridge still there: nothing to do (the
      // worker ensures a task's networks before every container).
      if (existing && this.ready.has(def.id) && (await this.linkPresent(bridgeNameFor(def.id)))) return;
      if (def.driver === 'overlay' && def.encrypted) await this.requireEsp(def);
      await mkdir(this.networksDir, { recursive: true });
      await writeJsonAtomic(path.join(this.networksDir, `${cniNetworkNameFor(def.id)}.json`), def);
      this.networks.set(def.id, def);
      try {
        await this.createKernelState(def);
      } catch (e) {
        throw new SkiffError('internal', `network ${def.name}: cannot set up on this node: ${errorText(e)}`, {
          cause: e,
        });
      }
      this.ready.add(def.id);
      if (def.driver === 'overlay' && def.encrypted) await this.syncEsp();
      this.log.info({ networkId: def.id, network: def.name, subnet: def.subnet }, 'network ready');
    });
  }

  /** Whether the network's bridge exists; concurrent callers share one check. */
  private bridgePresent(networkId: string): Promise<boolean> {
    let check = this.bridgeChecks.get(networkId);
    if (!check) {
      check = this.linkPresent(bridgeNameFor(networkId)).finally(() => this.bridgeChecks.delete(networkId));
      this.bridgeChecks.set(networkId, check);
    }
    return check;
  }

  /**
   * Whether this namespace has the device. On the host, read from /proc/self/net/dev
   * (always this process's namespace, unlike /sys): every container's start checks its
   * networks' bridges, and an `ip link show` exec each was one more fork in a deploy's
   * burst. An injected exec (tests faking the host) is asked with `ip`.
   */
  private async linkPresent(name: string): Promise<boolean> {
    if (this.options.exec) return (await this.run('ip', ['link', 'show', 'dev', name])).code === 0;
    return netDevices().has(name);
  }

  private async createKernelState(def: NetworkDefinition): Promise<void> {
    const bridge = bridgeNameFor(def.id);
    const prefix = parseCidr(def.subnet).prefixLength;
    // One exec for the bridge: a network's set-up is on the way of its first containers,
    // and its execs queue with theirs. A bridge left from before is fine ("File exists"
    // on the first line); anything else fails the set-up. The firewall's rules name the
    // bridge without needing it: they are set up alongside.
    // The bridge's MAC is the gateway's, cached in every container's ARP table. Given
    // none, the kernel keeps the bridge on its lowest port's MAC, which changes whenever
    // a container with that lowest MAC leaves or a lower one joins: the others then send
    // to a MAC nobody has (their DNS and routed traffic black-holed for ~30 s, until the
    // ARP entry goes stale). A MAC given explicitly is kept for good (as Docker does).
    const bridgeUp = this.run('ip', ['-force', '-batch', '-'], {
      input: [
        `link add ${bridge} address ${randomBridgeMac()} type bridge`,
        `addr replace ${def.gateway}/${prefix} dev ${bridge}`,
        `link set dev ${bridge} up`,
        '',
      ].join('\n'),
    });
    const [r, firewall] = await Promise.allSettled([bridgeUp, this.firewall.ensureNetwork(ruleInput(def))]);
    if (r.status === 'rejected') throw r.reason;
    if (r.value.code !== 0 && !onlyBridgeExisted(r.value.stderr)) {
      throw new Error(`setting up bridge ${bridge}: ${r.value.stderr.trim()}`);
    }
    if (r.value.code !== 0) await this.pinBridgeMac(bridge);
    if (firewall.status === 'rejected') throw firewall.reason;
    if (def.driver === 'overlay') await this.overlay.ensure(await this.overlayDevice(def));
    await this.dns.listen(def.id, def.gateway);
  }

  /**
   * A bridge left from before (an agent restart) may follow its ports' MACs (made by a
   * version that gave it none): its current MAC is set explicitly, which keeps it as it
   * is now (the kernel follows the ports only while no MAC was ever set).
   */
  private async pinBridgeMac(bridge: string): Promise<void> {
    const shown = await mustExec(this.run, 'ip', ['-j', 'link', 'show', 'dev', bridge], `reading ${bridge}`);
    const mac = (JSON.parse(shown || '[]') as { address?: string }[])[0]?.address;
    if (mac)
      await mustExec(
        this.run,
        'ip',
        ['link', 'set', 'dev', bridge, 'address', mac],
        `pinning ${bridge}'s MAC`,
      );
  }

  private async overlayDevice(def: NetworkDefinition): Promise<OverlayDevice> {
    return {
      vxlan: vxlanNameFor(def.id),
      bridge: bridgeNameFor(def.id),
      vni: def.vxlanId ?? 0,
      gateway: def.gateway,
      nftTable: nftTableFor(def.id),
      mtu: def.mtu ?? (await this.underlayMtu()) - VXLAN_OVERHEAD,
    };
  }

  private async underlayMtu(): Promise<number> {
    this.detectedMtu ??= this.options.underlayMtu ?? (await this.defaultRouteMtu());
    return this.detectedMtu;
  }

  private async defaultRouteMtu(): Promise<number> {
    const route = await this.run('ip', ['-j', '-4', 'route', 'show', 'default']);
    const dev = (JSON.parse(route.stdout || '[]') as { dev?: string }[])[0]?.dev;
    if (!dev) return 1500;
    const link = await this.run('ip', ['-j', 'link', 'show', 'dev', dev]);
    return (JSON.parse(link.stdout || '[]') as { mtu?: number }[])[0]?.mtu ?? 1500;
  }

  /** Removes a network's bridge, VXLAN device, rules, DNS listener and IP allocations; idempotent. */
  removeNetwork(id: string): Promise<void> {
    return this.exclusive(async () => {
      const def = this.networks.get(id);
      if (!def) return;
      const users = [...this.attachments.values()]
        .filter((a) => a.entries.some((e) => e.networkId === id))
        .map((a) => a.containerId);
      users.push(...(this.preparing.get(id) ?? []));
      if (this.meshView?.view.networkId === id) users.push('the routing mesh');
      if (users.length > 0) {
        throw new SkiffError(
          'conflict',
          `network ${def.name} is in use by ${users.length} container(s): ${users.join(', ')}`,
          { hint: 'remove the containers attached to it first' },
        );
      }
      // Not ready from here on: an ensure meanwhile waits for the removal, then sets it up again.
      this.ready.delete(id);
      await this.dns.stopListening(id);
      this.dns.forgetNetwork(id);
      if (def.driver === 'overlay')
        await this.overlay.remove({ vxlan: vxlanNameFor(id), nftTable: nftTableFor(id) });
      await this.firewall.removeNetwork(ruleInput(def));
      await this.run('ip', ['link', 'del', 'dev', bridgeNameFor(id)]);
      await rm(path.join(this.ipamDir, cniNetworkNameFor(id)), { recursive: true, force: true });
      await rm(path.join(this.networksDir, `${cniNetworkNameFor(id)}.json`), { force: true });
      this.networks.delete(id);
      this.ready.delete(id);
      this.overlayPeers.delete(id);
      if (def.encrypted) await this.syncEsp();
      this.log.info({ networkId: id, network: def.name }, 'network removed');
    });
  }

  /** Points an overlay network's VXLAN device at exactly these peer nodes. */
  async setOverlayPeers(networkId: string, peers: readonly OverlayPeer[]): Promise<void> {
    const def = this.requireNetwork(networkId);
    if (def.driver !== 'overlay') {
      throw new SkiffError(
        'invalid_argument',
        `network ${def.name} is a ${def.driver} network, not an overlay`,
      );
    }
    for (const p of peers) parseIpv4(p.underlayIp);
    const local = await this.localAddresses();
    const wanted = [...new Set(peers.map((p) => p.underlayIp))].filter((ip) => !local.has(ip));
    await this.overlay.setPeers({ vxlan: vxlanNameFor(networkId), nftTable: nftTableFor(networkId) }, wanted);
    this.overlayPeers.set(networkId, wanted);
    if (def.encrypted) await this.syncEsp();
    this.log.info({ networkId, peers: peers.map((p) => p.nodeId) }, 'overlay peers set');
  }

  /** The encrypted overlays' keys, as the dispatcher hands them (null: this node needs none). */
  async setNetworkKeys(keys: NetworkKeys | null): Promise<void> {
    this.networkKeys = keys;
    await this.syncEsp();
  }

  /**
   * Whether this node can carry encrypted overlays: a node whose overlays never leave the
   * host (no underlay address) always can; others when the kernel has ESP with AES-GCM.
   */
  async carriesEncryptedOverlays(): Promise<boolean> {
    return !this.options.underlayAddress || (await this.esp.supported());
  }

  private async requireEsp(def: NetworkDefinition): Promise<void> {
    if (!this.options.underlayAddress)
      throw new SkiffError(
        'unsupported',
        `network ${def.name} is encrypted, and this node has no cluster address to encrypt from`,
      );
    if (!(await this.esp.supported()))
      throw new SkiffError(
        'unsupported',
        `network ${def.name} is encrypted, and this node's kernel has no IPsec ESP with AES-GCM (CONFIG_INET_ESP, CONFIG_CRYPTO_GCM): its traffic would leave in clear`,
        {
          hint: "run the encrypted network's tasks on nodes whose kernel has ESP (a placement constraint), or drop --opt encrypted",
        },
      );
  }

  /**
   * Programs ESP (ipsec.ts) for the encrypted overlays set up here: their VNIs, the union
   * of their peers and the keys. One sync at a time, each from the latest state.
   */
  private syncEsp(): Promise<void> {
    const next = this.espQueue.then(async () => {
      const encrypted = [...this.networks.values()].filter(
        (n) => n.driver === 'overlay' && n.encrypted && this.ready.has(n.id) && n.vxlanId !== undefined,
      );
      const peers = new Set(encrypted.flatMap((n) => this.overlayPeers.get(n.id) ?? []));
      await this.esp.sync({
        self: this.options.underlayAddress ?? '',
        vnis: encrypted.map((n) => n.vxlanId as number),
        peers: [...peers],
        keys: this.networkKeys,
      });
    });
    this.espQueue = next.catch(() => {});
    return next;
  }

  /** Underlay addresses of the peers currently programmed (for checks and tests). */
  overlayPeerAddresses(networkId: string): Promise<string[]> {
    this.requireNetwork(networkId);
    return this.overlay.peers(vxlanNameFor(networkId));
  }

  private async localAddresses(): Promise<Set<string>> {
    const out = await mustExec(this.run, 'ip', ['-j', '-4', 'addr', 'show'], 'listing addresses');
    const links = JSON.parse(out || '[]') as { addr_info?: { local?: string }[] }[];
    return new Set(links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local ?? '')));
  }

  async createSandbox(containerId: string): Promise<{ netnsPath: string }> {
    validateContainerId(containerId);
    this.starting.set(containerId, performance.now());
    // The namespace comes with its loopback up: no CNI loopback plugin exec per container.
    const netnsPath = await createNamedNetns(this.run, this.netnsDir, containerId).catch((e: unknown) => {
      this.starting.delete(containerId);
      throw e;
    });
    return { netnsPath };
  }

  /**
   * Containers with a namespace or an attachment record on this node (what a crash may
   * leave of a container being set up): an agent at start compares them with what it
   * was assigned, and removes the rest with `removeSandbox`.
   */
  async sandboxIds(): Promise<string[]> {
    const netns = await readdir(this.netnsDir).catch(() => [] as string[]);
    const records = (await readdir(this.attachmentsDir).catch(() => [] as string[]))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
    return [...new Set([...netns, ...records, ...this.attachments.keys()])].sort();
  }

  /** Detaches the container if needed, then removes its namespace; idempotent. */
  async removeSandbox(containerId: string): Promise<void> {
    validateContainerId(containerId);
    this.donePreparing(containerId);
    this.starting.delete(containerId);
    await this.detach(containerId);
    await removeNamedNetns(this.run, path.join(this.netnsDir, containerId));
  }

  async attach(
    containerId: string,
    netnsPath: string,
    attachmentsInput: NetworkAttachmentById[],
    portsInput: PublishedPort[] = [],
  ): Promise<{ interfaces: AttachedInterface[] }> {
    validateContainerId(containerId);
    const attachments = validateAttachments(attachmentsInput);
    const ports = validatePorts(portsInput);
    if (this.attachments.has(containerId)) {
      throw new SkiffError('conflict', `container ${containerId} is already attached to its networks`, {
        hint: 'detach it first',
      });
    }
    const defs = attachments.map((a) => this.requireNetwork(a.networkId));
    for (const [i, a] of attachments.entries()) {
      const def = defs[i] as NetworkDefinition;
      if (a.ipv4Address !== undefined) {
        const addr = parseIpv4(a.ipv4Address);
        const subnet = parseCidr(def.subnet);
        if (!cidrContains(subnet, addr) || a.ipv4Address === def.gateway || addr === subnet.network) {
          throw new SkiffError(
            'invalid_argument',
            `network ${def.name}: ${a.ipv4Address} is not a free host address of ${def.subnet}`,
          );
        }
      }
    }
    if (ports.length > 0 && defs[0]?.internal) {
      throw new SkiffError(
        'invalid_argument',
        `network ${defs[0].name} is internal: ports cannot be published on it`,
        {
          hint: 'list a non-internal network first, or publish no ports',
        },
      );
    }
    const entries: AttachmentEntry[] = [];
    for (const [i, a] of attachments.entries()) {
      const def = defs[i] as NetworkDefinition;
      const mtu =
        def.mtu ?? (def.driver === 'overlay' ? (await this.underlayMtu()) - VXLAN_OVERHEAD : undefined);
      entries.push({
        networkId: def.id,
        ifName: `eth${i}`,
        aliases: a.aliases,
        config: interfaceConfigList({
          network: def,
          ipamDataDir: this.ipamDir,
          ...(a.ipv4Address === undefined ? {} : { ipv4Address: a.ipv4Address }),
          defaultRoute: i === 0,
          ...(mtu === undefined ? {} : { mtu }),
          publishesPorts: i === 0 && ports.length > 0,
        }),
      });
    }
    const record: AttachmentRecord = { containerId, netnsPath, ports, entries };
    this.attachments.set(containerId, record);
    this.donePreparing(containerId);
    await this.saveRecord(record);

    // Before the container starts: its first connection to a service already balances.
    // Not behind the batches of other containers' rewrites (starting containers' tables
    // share execs, service-lb.ts). The table needs only the
    // namespace, not the interfaces: it is written while CNI attaches them, and the
    // nsenter+nft exec (30-160 ms on a busy 2-core node) overlaps the plugins' execs
    // instead of following them on every container's start.
    const vipsProgrammed = this.lb
      .syncNow(containerId, netnsPath, () => this.vipsOfContainer(containerId))
      .catch((e: unknown) => {
        this.log.warn({ containerId, err: errorText(e) }, 'cannot program service VIPs');
      });
    const interfaces: AttachedInterface[] = [];
    for (const [i, entry] of entries.entries()) {
      const def = defs[i] as NetworkDefinition;
      try {
        entry.result = await this.cni.add(entry.config, this.runtimeConfig(record, entry));
        await this.saveRecord(record);
        interfaces.push(interfaceFrom(entry, def));
      } catch (e) {
        await vipsProgrammed; // before detach forgets the table, not after
        await this.detach(containerId).catch((err) =>
          this.log.error({ err, containerId }, 'cannot roll back a failed attachment'),
        );
        throw attachError(def, e);
      }
    }
    this.registerDns(record);
    await vipsProgrammed;
    if (this.starting.delete(containerId)) this.lastAttached = performance.now();
    this.log.info({ containerId, networks: interfaces.map((x) => x.networkId) }, 'container attached');
    return { interfaces };
  }

  /**
   * Adds one interface to a container that has its sandbox already (`docker network
   * connect`, running or not): the next free ethN, no default route unless it is the
   * first, its names in the network's DNS. The network must be set up on this node.
   */
  async connect(containerId: string, attachment: NetworkAttachmentById): Promise<AttachedInterface> {
    validateContainerId(containerId);
    const [a] = validateAttachments([attachment]);
    const def = this.requireNetwork((a as NetworkAttachmentById).networkId);
    const netnsPath = path.join(this.netnsDir, containerId);
    const record = this.attachments.get(containerId) ?? { containerId, netnsPath, ports: [], entries: [] };
    if (record.entries.some((e) => e.networkId === def.id))
      throw new SkiffError('conflict', `container ${containerId} is already attached to network ${def.name}`);
    const used = new Set(record.entries.map((e) => e.ifName));
    let n = 0;
    while (used.has(`eth${n}`)) n++;
    const entry: AttachmentEntry = {
      networkId: def.id,
      ifName: `eth${n}`,
      aliases: (a as NetworkAttachmentById).aliases,
      config: interfaceConfigList({
        network: def,
        ipamDataDir: this.ipamDir,
        defaultRoute: record.entries.length === 0,
        publishesPorts: false,
      }),
    };
    record.entries.push(entry);
    this.attachments.set(containerId, record);
    this.donePreparing(containerId);
    await this.saveRecord(record);
    try {
      entry.result = await this.cni.add(entry.config, this.runtimeConfig(record, entry));
    } catch (e) {
      // Nothing of this interface stays: DEL releases what ADD may have taken.
      await this.cni.del(entry.config, this.runtimeConfig(record, entry), undefined).catch(() => {});
      record.entries = record.entries.filter((x) => x !== entry);
      await this.saveRecord(record);
      throw attachError(def, e);
    }
    await this.saveRecord(record);
    const iface = interfaceFrom(entry, def);
    this.dns.addEndpoint({ networkId: def.id, containerId, ip: iface.ip, names: entry.aliases });
    this.log.info({ containerId, networkId: def.id }, 'container connected');
    return iface;
  }

  /** Removes a container's interface on one network (`docker network disconnect`); idempotent. */
  async disconnect(containerId: string, networkId: string): Promise<void> {
    validateContainerId(containerId);
    const record = this.attachments.get(containerId);
    const entry = record?.entries.find((e) => e.networkId === networkId);
    if (!record || !entry) return;
    this.dns.removeEndpoint({ networkId, containerId });
    try {
      await this.cni.del(entry.config, this.runtimeConfig(record, entry), entry.result);
    } catch (e) {
      throw attachError(this.networks.get(networkId) ?? { name: networkId }, e);
    }
    record.entries = record.entries.filter((x) => x !== entry);
    await this.saveRecord(record);
    this.log.info({ containerId, networkId }, 'container disconnected');
  }

  /**
   * Everything a container needs from the network layer in one call (what the worker
   * uses): its networks set up on this node, a sandbox, its interfaces in order, and
   * its resolv.conf. On failure nothing of the container is left behind.
   */
  async prepareContainer(
    containerId: string,
    attachments: ContainerNetworkAttachment[],
    ports: PublishedPort[] = [],
  ): Promise<{ netnsPath: string; interfaces: AttachedInterface[]; resolvConf: string }> {
    for (const a of attachments) await this.ensureNetwork(a.network);
    const { netnsPath } = await this.createSandbox(containerId);
    try {
      const { interfaces } = await this.attach(
        containerId,
        netnsPath,
        attachments.map(attachmentById),
        ports,
      );
      return { netnsPath, interfaces, resolvConf: this.resolvConfFor(containerId) };
    } catch (e) {
      await this.releaseContainer(containerId).catch(() => {});
      throw e;
    }
  }

  /** Undoes prepareContainer; networks left without containers are removed. Idempotent. */
  async releaseContainer(containerId: string): Promise<void> {
    const networkIds = (this.attachments.get(containerId)?.entries ?? []).map((e) => e.networkId);
    await this.removeSandbox(containerId);
    for (const id of networkIds) {
      const inUse = [...this.attachments.values()].some((a) => a.entries.some((e) => e.networkId === id));
      if (!inUse) await this.removeNetwork(id);
    }
  }

  /** Replaces the names a container answers to on each of its networks (service names, aliases, hostname). */
  setNames(containerId: string, names: { networkId: string; ip: string; names: string[] }[]): void {
    for (const networkId of this.dns.networksOfContainerEndpoints(containerId)) {
      if (!names.some((n) => n.networkId === networkId))
        this.dns.setEndpointNames(containerId, networkId, []);
    }
    for (const n of names)
      this.dns.addEndpoint({ networkId: n.networkId, containerId, ip: n.ip, names: n.names });
  }

  /**
   * The service VIPs on a network and the tasks each balances over: every container of
   * this node on the network gets them in its namespace's table (service-lb.ts), in
   * the next batch of rewrites (a burst of changes is one rewrite per table, the latest
   * view winning). Resolves once every table is programmed; never rejects. `urgent`: a
   * stopping task left a VIP's set (its drain): no batching delay.
   */
  setServiceVips(
    networkId: string,
    vips: readonly ServiceVip[],
    opts: { urgent?: boolean } = {},
  ): Promise<void> {
    const before = this.vips.get(networkId) ?? [];
    if (vips.length === 0) this.vips.delete(networkId);
    else this.vips.set(networkId, vips);
    if (before.length === 0 && vips.length === 0) return Promise.resolve();
    const syncs: Promise<void>[] = [];
    for (const record of this.attachments.values()) {
      if (!record.entries.some((e) => e.networkId === networkId && e.result)) continue;
      const { containerId, netnsPath } = record;
      syncs.push(
        this.lb
          .sync(containerId, netnsPath, () => this.vipsOfContainer(containerId), opts.urgent)
          .catch((e: unknown) => {
            // Its namespace went with the container meanwhile, or nft refused: the next change retries.
            if (this.attachments.has(containerId))
              this.log.warn({ containerId, err: errorText(e) }, 'cannot program service VIPs');
          }),
      );
    }
    return Promise.all(syncs).then(() => {});
  }

  /**
   * Runs the routing mesh (routing-mesh.ts) as the dispatcher describes it, its ingress
   * network already set up on this node (ensureNetwork), or stops it (null, or no port).
   * The network stays while the mesh runs. Throws when the kernel refuses the rules.
   */
  async setRoutingMesh(view: RoutingMeshView | null, nodeId: string): Promise<void> {
    const before = this.meshView?.view.networkId;
    if (view && view.ports.length > 0) {
      parseIpv4(view.address);
      this.requireNetwork(view.networkId);
      this.meshView = { view, nodeId };
    } else this.meshView = undefined;
    try {
      await this.mesh.sync(() => {
        const m = this.meshView;
        const def = m && this.networks.get(m.view.networkId);
        if (!m || !def) return undefined;
        return {
          bridge: bridgeNameFor(def.id),
          address: m.view.address,
          prefixLength: parseCidr(def.subnet).prefixLength,
          ports: m.view.ports,
          nodeId: m.nodeId,
        };
      });
    } finally {
      // No container of this node on the ingress network and the mesh gone: so is the network.
      if (before !== undefined && this.meshView?.view.networkId !== before) {
        await this.removeNetwork(before).catch(() => {});
      }
    }
  }

  /** The VIPs a container's namespace should balance: those of all its networks; undefined once detached. */
  private vipsOfContainer(containerId: string): ServiceVip[] | undefined {
    const record = this.attachments.get(containerId);
    if (!record) return undefined;
    return mergeVips(record.entries.map((e) => this.vips.get(e.networkId) ?? []));
  }

  /** The container's /etc/resolv.conf: the embedded DNS server on its first network. */
  resolvConfFor(containerId: string): string {
    return this.dns.resolvConfFor(containerId);
  }

  /** CNI CHECK of every interface; throws the plugin's complaint. */
  async check(containerId: string): Promise<void> {
    const record = this.attachments.get(containerId);
    if (!record) throw new SkiffError('not_found', `container ${containerId} is not attached to any network`);
    for (const entry of record.entries) {
      const def = this.requireNetwork(entry.networkId);
      if (!entry.result) throw new SkiffError('internal', `network ${def.name}: attachment never completed`);
      try {
        await this.cni.check(entry.config, this.runtimeConfig(record, entry), entry.result);
      } catch (e) {
        throw attachError(def, e);
      }
    }
  }

  /** The container is attached (an attachment counts it now) or gone. */
  private donePreparing(containerId: string): void {
    for (const [networkId, set] of this.preparing) {
      set.delete(containerId);
      if (set.size === 0) this.preparing.delete(networkId);
    }
  }

  /** CNI DEL for every interface (releases IPs, veths, port mappings); idempotent, also after a crash. */
  async detach(containerId: string): Promise<void> {
    validateContainerId(containerId);
    const record =
      this.attachments.get(containerId) ??
      (await readJson<AttachmentRecord>(path.join(this.attachmentsDir, `${containerId}.json`)));
    if (!record) return;
    this.dns.removeContainer(containerId);
    const failures: string[] = [];
    for (const entry of [...record.entries].reverse()) {
      try {
        await this.cni.del(entry.config, this.runtimeConfig(record, entry), entry.result);
      } catch (e) {
        const def = this.networks.get(entry.networkId);
        failures.push(attachError(def ?? { name: entry.networkId }, e).message);
      }
    }
    if (failures.length > 0) {
      throw new SkiffError('internal', `container ${containerId}: detach failed: ${failures.join('; ')}`, {
        hint: 'the attachment is kept; detaching again retries',
      });
    }
    await rm(path.join(this.attachmentsDir, `${containerId}.json`), { force: true });
    this.attachments.delete(containerId);
    this.lb.forget(containerId);
    this.log.info({ containerId }, 'container detached');
  }

  private runtimeConfig(record: AttachmentRecord, entry: AttachmentEntry) {
    return {
      containerId: record.containerId,
      netnsPath: record.netnsPath,
      ifName: entry.ifName,
      capabilityArgs: {
        portMappings: record.ports.map((p) => ({
          hostPort: p.hostPort,
          containerPort: p.containerPort,
          protocol: p.protocol,
          ...(p.hostIp === undefined ? {} : { hostIP: p.hostIp }),
        })),
      },
    };
  }

  private registerDns(record: AttachmentRecord): void {
    for (const entry of record.entries) {
      const def = this.networks.get(entry.networkId);
      if (!def || !entry.result) continue;
      const iface = interfaceFrom(entry, def);
      this.dns.addEndpoint({
        networkId: def.id,
        containerId: record.containerId,
        ip: iface.ip,
        names: entry.aliases,
      });
    }
  }

  private async saveRecord(record: AttachmentRecord): Promise<void> {
    await mkdir(this.attachmentsDir, { recursive: true });
    await writeJsonAtomic(path.join(this.attachmentsDir, `${record.containerId}.json`), record);
  }

  private requireNetwork(id: string): NetworkDefinition {
    const def = this.networks.get(id);
    if (!def) {
      throw new SkiffError('not_found', `network ${id} is not set up on this node`, {
        hint: 'ensureNetwork must run before containers attach to it',
      });
    }
    return def;
  }
}

function ruleInput(def: NetworkDefinition): NetworkRuleInput {
  return {
    bridge: bridgeNameFor(def.id),
    chain: chainNameFor(def.id),
    subnet: def.subnet,
    internal: def.internal ?? false,
    overlay: def.driver === 'overlay',
  };
}

/** The container-side interface and address from a chain's final result. */
function interfaceFrom(entry: AttachmentEntry, def: NetworkDefinition): AttachedInterface {
  const result = entry.result;
  const ifaces = result?.interfaces ?? [];
  const index = ifaces.findIndex((i) => i.name === entry.ifName && i.sandbox);
  const ip = result?.ips?.find((x) => x.interface === index) ?? result?.ips?.[0];
  if (index < 0 || !ip) {
    throw new SkiffError(
      'internal',
      `network ${def.name}: the bridge plugin's result has no ${entry.ifName} address`,
    );
  }
  return {
    name: entry.ifName,
    networkId: def.id,
    ip: ip.address.split('/')[0] ?? ip.address,
    mac: ifaces[index]?.mac ?? '',
  };
}

function attachError(def: { name: string }, e: unknown): SkiffError {
  if (e instanceof CniPluginError) {
    return new SkiffError('internal', `network ${def.name}: ${e.plugin} plugin failed: ${e.message}`, {
      cause: e,
    });
  }
  if (e instanceof SkiffError) return e;
  return new SkiffError('internal', `network ${def.name}: ${errorText(e)}`, { cause: e });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function sameAddressing(a: NetworkDefinition, b: NetworkDefinition): boolean {
  return a.subnet === b.subnet && a.gateway === b.gateway && a.driver === b.driver && a.vxlanId === b.vxlanId;
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileDurable(file, JSON.stringify(value, null, 2));
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function readJsonDir<T>(dir: string): Promise<T[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: T[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    const v = await readJson<T>(path.join(dir, n));
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** The devices of this process's network namespace (a read of a small /proc file, no exec). */
function netDevices(): Set<string> {
  // Two header lines, then `  name: counters…` per device.
  const lines = readFileSync('/proc/self/net/dev', 'utf8').split('\n').slice(2);
  return new Set(lines.map((l) => l.split(':')[0]?.trim() ?? '').filter((n) => n !== ''));
}

/** A random locally administered unicast MAC, for a bridge. */
export function randomBridgeMac(): string {
  const b = randomBytes(6);
  b[0] = ((b[0] ?? 0) & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** `ip -batch` failed only on its first line (`link add`) because the bridge exists. */
function onlyBridgeExisted(stderr: string): boolean {
  const failed = [...stderr.matchAll(/Command failed -:(\d+)/g)].map((m) => m[1]);
  return failed.length > 0 && failed.every((line) => line === '1') && /exists/i.test(stderr);
}
