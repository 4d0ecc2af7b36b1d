// The node's local networks for standalone containers, as dockerd keeps them: the
// built-in `bridge` and `none`, and user bridge networks (`docker network create`,
// docker-compose's project networks) whose containers resolve each other by name and
// alias through the node's embedded DNS. One JSON record per user network under
// `engine-networks/`; the kernel side (bridge, rules, DNS listener) is set up by
// agent/network when a container first joins and removed when the last one leaves.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../../disk/index.js';
import type { EngineLocalNetwork, NetworkDefinition } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import {
  cidrContains,
  cidrsOverlap,
  defaultBridgePools,
  formatCidr,
  formatIpv4,
  parseCidr,
  parseIpv4,
} from '../network/index.js';
import { isUnset, type Refuse, refuser } from './refusal.js';

// Annotated: a call narrows only through a declared `never` type.
const refuse: Refuse = refuser('docs/engine-api.md lists what a skiff node serves');

export interface LocalNetworkRecord {
  id: string;
  name: string;
  created: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  /** Whether the subnet was the creator's (shown in IPAM.Config as given). */
  ipamGiven: boolean;
}

/** A network a container can join: the built-in `bridge` or a user network. */
export interface ResolvedNetwork {
  def: NetworkDefinition;
  /** The user network's record; undefined for `bridge`. */
  rec?: LocalNetworkRecord;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const BUILTIN = ['bridge', 'none'] as const;

/** What `POST /networks/create` may ask of a local bridge network; the rest is refused by name. */
const CREATE_KEYS = new Set([
  'Name',
  'Driver',
  'Scope',
  'CheckDuplicate',
  'Internal',
  'Attachable',
  'IPAM',
  'Options',
  'Labels',
  'EnableIPv6',
  'Ingress',
  'ConfigOnly',
  'ConfigFrom',
]);

export class LocalNetworks {
  private readonly dir: string;

  constructor(
    private readonly o: {
      stateDir: string;
      bridge: NetworkDefinition;
      /** The node's address pool (single-node mode): user networks take /24s from its end. */
      pool?: string;
      /** Subnets the host routes or skiff's active networks hold. */
      subnetsInUse: () => Promise<string[]>;
    },
  ) {
    this.dir = join(o.stateDir, 'engine-networks');
  }

  get bridge(): NetworkDefinition {
    return this.o.bridge;
  }

  isBuiltin(ref: string): boolean {
    return (BUILTIN as readonly string[]).includes(ref) || ref === this.o.bridge.id || ref === NONE_ID;
  }

  async records(): Promise<LocalNetworkRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: LocalNetworkRecord[] = [];
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      try {
        out.push(JSON.parse(await readFile(join(this.dir, n), 'utf8')) as LocalNetworkRecord);
      } catch {
        // Half written by a crash before its rename: not a network.
      }
    }
    return out.sort((a, b) => a.created.localeCompare(b.created));
  }

  /** A user network by ID, name or unique ID prefix, as dockerd finds one; undefined when none. */
  async findRecord(ref: string): Promise<LocalNetworkRecord | undefined> {
    const all = await this.records();
    const hit = all.find((r) => r.id === ref) ?? all.find((r) => r.name === ref);
    if (hit) return hit;
    const byPrefix = ref.length > 0 ? all.filter((r) => r.id.startsWith(ref)) : [];
    if (byPrefix.length > 1)
      throw new SkiffError(
        'invalid_argument',
        `network ${ref} is ambiguous (${byPrefix.length} matches found)`,
      );
    return byPrefix[0];
  }

  /** `bridge` or a user network a container can join; Docker's 404 otherwise. */
  async resolve(ref: string): Promise<ResolvedNetwork> {
    if (ref === 'bridge' || ref === 'default' || ref === this.o.bridge.id) return { def: this.o.bridge };
    const rec = await this.findRecord(ref);
    if (!rec) throw new SkiffError('not_found', `network ${ref} not found`);
    return { def: definitionOf(rec), rec };
  }

  async create(raw: unknown): Promise<LocalNetworkRecord> {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new SkiffError('invalid_argument', 'the network config must be a JSON object');
    const body = raw as Record<string, unknown>;
    for (const [k, v] of Object.entries(body)) if (!CREATE_KEYS.has(k) && !isUnset(v)) refuse(k);
    const name = body.Name;
    if (typeof name !== 'string' || name.length > 128 || !NAME_RE.test(name))
      throw new SkiffError(
        'invalid_argument',
        `invalid network name "${String(name ?? '').slice(0, 80)}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      );
    if (body.Driver !== undefined && body.Driver !== null && body.Driver !== '' && body.Driver !== 'bridge')
      refuse(
        `Driver '${String(body.Driver).slice(0, 40)}'`,
        'is not a local network driver skiff has (bridge)',
      );
    if (body.Scope !== undefined && body.Scope !== null && body.Scope !== '' && body.Scope !== 'local')
      refuse(`Scope '${String(body.Scope).slice(0, 40)}'`, 'is not the scope of a bridge network (local)');
    for (const k of ['EnableIPv6', 'Ingress', 'ConfigOnly'])
      if (body[k] !== undefined && body[k] !== null && body[k] !== false) refuse(k);
    if (!isUnset(body.ConfigFrom)) refuse('ConfigFrom');
    if (!isUnset(body.Options)) refuse('Options', 'of the bridge driver are not supported by skiff yet');
    for (const k of ['Internal', 'Attachable', 'CheckDuplicate'])
      if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'boolean')
        throw new SkiffError('invalid_argument', `${k} must be true or false`);
    const labels = body.Labels ?? {};
    if (
      typeof labels !== 'object' ||
      Array.isArray(labels) ||
      Object.values(labels as object).some((v) => typeof v !== 'string')
    )
      throw new SkiffError('invalid_argument', 'Labels must map names to strings');
    if (this.isBuiltin(name))
      throw new SkiffError('forbidden', `${name} is a pre-defined network and cannot be created`);
    if (await this.findRecord(name).catch(() => undefined))
      throw new SkiffError('conflict', `network with name ${name} already exists`);
    const asked = ipamOf(body.IPAM);
    const used = [
      ...(await this.o.subnetsInUse()),
      this.o.bridge.subnet,
      ...(await this.records()).map((r) => r.subnet),
    ];
    const addressing = asked ?? this.allocate(used);
    if (asked) {
      const mine = parseCidr(asked.subnet);
      const clash = used.find((u) => cidrsOverlap(parseCidr(u, { allowHostBits: true }), mine));
      if (clash)
        throw new SkiffError('forbidden', `Pool overlaps with other one on this address space (${clash})`, {
          hint: 'pick a subnet that no other network or route on this host uses',
        });
    }
    const rec: LocalNetworkRecord = {
      id: randomBytes(32).toString('hex'),
      name,
      created: new Date().toISOString(),
      subnet: addressing.subnet,
      gateway: addressing.gateway,
      internal: body.Internal === true,
      attachable: body.Attachable === true,
      labels: { ...(labels as Record<string, string>) },
      ipamGiven: asked !== undefined,
    };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileDurable(join(this.dir, `${rec.id}.json`), JSON.stringify(rec), { mode: 0o600 });
    return rec;
  }

  async remove(rec: LocalNetworkRecord): Promise<void> {
    await rm(join(this.dir, `${rec.id}.json`), { force: true });
  }

  /** A free subnet: /24s from the end of the node's pool, else dockerd's default pools. */
  private allocate(used: string[]): { subnet: string; gateway: string } {
    const taken = used.map((u) => parseCidr(u.includes('/') ? u : `${u}/32`, { allowHostBits: true }));
    const free = (c: { network: number; prefixLength: number }) => !taken.some((t) => cidrsOverlap(t, c));
    if (this.o.pool) {
      const pool = parseCidr(this.o.pool, { allowHostBits: true });
      const size = 2 ** (32 - pool.prefixLength);
      // The last /24 is the node's bridge; the manager hands overlays out from the start.
      for (let net = pool.network + size - 512; net >= pool.network; net -= 256) {
        const c = { network: net >>> 0, prefixLength: 24 };
        if (free(c)) return { subnet: formatCidr(c), gateway: formatIpv4(c.network + 1) };
      }
    } else {
      for (const p of defaultBridgePools()) {
        const c = parseCidr(p);
        if (free(c)) return { subnet: formatCidr(c), gateway: formatIpv4(c.network + 1) };
      }
    }
    throw new SkiffError('unavailable', 'no free subnet left for a new network', {
      hint: 'remove unused networks (docker network prune) or give one a subnet (--subnet)',
    });
  }
}

/** The ID dockerd-style clients see for the built-in `none` network. */
export const NONE_ID = '0'.repeat(64);

export function definitionOf(rec: LocalNetworkRecord): NetworkDefinition {
  return {
    id: rec.id,
    name: rec.name,
    driver: 'bridge',
    subnet: rec.subnet,
    gateway: rec.gateway,
    internal: rec.internal,
  };
}

/** Docker's network resource of a local network, its containers given. */
export function presentLocalNetwork(
  n: { id: string; name: string; created: string; subnet?: string; gateway?: string },
  o: {
    driver: string;
    internal?: boolean;
    attachable?: boolean;
    labels?: Record<string, string>;
    containers: EngineLocalNetwork['Containers'];
  },
): EngineLocalNetwork {
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: o.driver,
    EnableIPv6: false,
    IPAM: {
      Driver: 'default',
      Options: {},
      Config: n.subnet && n.gateway ? [{ Subnet: n.subnet, Gateway: n.gateway }] : [],
    },
    Internal: o.internal ?? false,
    Attachable: o.attachable ?? false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: o.containers,
    Options: {},
    Labels: o.labels ?? {},
  };
}

function ipamOf(raw: unknown): { subnet: string; gateway: string } | undefined {
  if (isUnset(raw)) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new SkiffError('invalid_argument', 'IPAM must be an object');
  const ipam = raw as { Driver?: unknown; Options?: unknown; Config?: unknown };
  if (ipam.Driver !== undefined && ipam.Driver !== null && ipam.Driver !== '' && ipam.Driver !== 'default')
    refuse(`IPAM.Driver '${String(ipam.Driver).slice(0, 40)}'`, 'is not supported by skiff (default)');
  if (!isUnset(ipam.Options)) refuse('IPAM.Options');
  const configs = ipam.Config ?? [];
  if (!Array.isArray(configs)) throw new SkiffError('invalid_argument', 'IPAM.Config must be a list');
  const live = configs.filter((c) => !isUnset(c));
  if (live.length === 0) return undefined;
  if (live.length > 1) refuse('IPAM.Config with more than one subnet');
  const c = live[0] as Record<string, unknown>;
  for (const [k, v] of Object.entries(c))
    if (k !== 'Subnet' && k !== 'Gateway' && !isUnset(v)) refuse(`IPAM.Config.${k.slice(0, 40)}`);
  if (typeof c.Subnet !== 'string') throw new SkiffError('invalid_argument', 'IPAM.Config needs a Subnet');
  let subnet: ReturnType<typeof parseCidr>;
  try {
    subnet = parseCidr(c.Subnet);
  } catch {
    throw new SkiffError(
      'invalid_argument',
      `invalid subnet ${c.Subnet.slice(0, 40)}: expected a CIDR such as 10.1.0.0/24`,
    );
  }
  if (subnet.prefixLength > 30)
    throw new SkiffError('invalid_argument', `subnet ${c.Subnet} is too small for containers (at most /30)`);
  let gateway = formatIpv4(subnet.network + 1);
  if (c.Gateway !== undefined && c.Gateway !== null && c.Gateway !== '') {
    let gw: number;
    try {
      gw = parseIpv4(String(c.Gateway));
    } catch {
      throw new SkiffError('invalid_argument', `invalid gateway ${String(c.Gateway).slice(0, 40)}`);
    }
    if (!cidrContains(subnet, gw) || gw === subnet.network)
      throw new SkiffError(
        'invalid_argument',
        `gateway ${String(c.Gateway)} is not a host address of ${c.Subnet}`,
      );
    gateway = formatIpv4(gw);
  }
  return { subnet: formatCidr(subnet), gateway };
}
