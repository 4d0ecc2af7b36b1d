// The name table behind the embedded DNS server. Pure: who may see which name is
// decided here from the asking container's source address, so isolation between
// networks is tested without sockets.

export interface DnsRecord {
  name: string;
  ips: string[];
}

export interface DnsEndpoint {
  networkId: string;
  containerId: string;
  ip: string;
  names: string[];
}

/** What the server should do with a query. */
export type DnsLookup =
  | { kind: 'answer'; ips: string[] }
  /** A name local to a network the asker is not on, or a single-label name nobody has. */
  | { kind: 'nxdomain' }
  /** Not a container name: ask the host's resolvers. */
  | { kind: 'forward' };

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.+$/, '');
}

export class DnsRecordTable {
  /** networkId → name → ips, as set wholesale by the worker. */
  private readonly records = new Map<string, Map<string, string[]>>();
  /** `${networkId}\0${containerId}` → endpoint. */
  private readonly endpoints = new Map<string, DnsEndpoint>();

  setRecords(networkId: string, records: readonly DnsRecord[]): void {
    const table = new Map<string, string[]>();
    for (const r of records) {
      const name = normalizeName(r.name);
      table.set(name, [...new Set([...(table.get(name) ?? []), ...r.ips])]);
    }
    if (table.size === 0) this.records.delete(networkId);
    else this.records.set(networkId, table);
  }

  /** Adds or replaces one container's address and names on one network. */
  addEndpoint(endpoint: DnsEndpoint): void {
    this.endpoints.set(key(endpoint.networkId, endpoint.containerId), {
      ...endpoint,
      names: endpoint.names.map(normalizeName),
    });
  }

  setEndpointNames(containerId: string, networkId: string, names: readonly string[]): void {
    const e = this.endpoints.get(key(networkId, containerId));
    if (e) e.names = names.map(normalizeName);
  }

  removeEndpoint(ref: { networkId: string; containerId: string }): void {
    this.endpoints.delete(key(ref.networkId, ref.containerId));
  }

  removeContainer(containerId: string): void {
    for (const [k, e] of this.endpoints) if (e.containerId === containerId) this.endpoints.delete(k);
  }

  removeNetwork(networkId: string): void {
    this.records.delete(networkId);
    for (const [k, e] of this.endpoints) if (e.networkId === networkId) this.endpoints.delete(k);
  }

  /** Networks of the container that owns `sourceIp` (all of them, not only the one asked through). */
  networksOf(sourceIp: string): Set<string> {
    const containers = new Set<string>();
    for (const e of this.endpoints.values()) if (e.ip === sourceIp) containers.add(e.containerId);
    const networks = new Set<string>();
    for (const e of this.endpoints.values()) if (containers.has(e.containerId)) networks.add(e.networkId);
    return networks;
  }

  /** Networks the container is attached to, in the order it was attached. */
  networksOfContainer(containerId: string): string[] {
    const out: string[] = [];
    for (const e of this.endpoints.values()) if (e.containerId === containerId) out.push(e.networkId);
    return out;
  }

  /**
   * What to answer `sourceIp` for `queryName`. A container's resolver tries the host's
   * search domains first ("web.corp.example" before "web"), so a local name with a search
   * domain appended is answered as the local name instead of a round trip upstream.
   */
  lookup(sourceIp: string, queryName: string, searchDomains: readonly string[] = []): DnsLookup {
    const full = normalizeName(queryName);
    for (const domain of searchDomains.map(normalizeName)) {
      if (domain && full.endsWith(`.${domain}`)) {
        const local = this.lookupExact(sourceIp, full.slice(0, -domain.length - 1));
        if (local.kind === 'answer') return local;
      }
    }
    return this.lookupExact(sourceIp, full);
  }

  private lookupExact(sourceIp: string, name: string): DnsLookup {
    const visible = this.networksOf(sourceIp);
    const ips = new Set<string>();
    for (const networkId of visible) {
      for (const ip of this.records.get(networkId)?.get(name) ?? []) ips.add(ip);
      for (const e of this.endpoints.values()) {
        if (e.networkId === networkId && e.names.includes(name)) ips.add(e.ip);
      }
    }
    if (ips.size > 0) return { kind: 'answer', ips: [...ips] };
    // Public DNS has no single-label names; answering at once spares the container a
    // timeout when the host's resolvers are unreachable (air-gapped hosts, the lab).
    if (!name.includes('.') || this.isLocalName(name)) return { kind: 'nxdomain' };
    return { kind: 'forward' };
  }

  private isLocalName(name: string): boolean {
    for (const table of this.records.values()) if (table.has(name)) return true;
    for (const e of this.endpoints.values()) if (e.names.includes(name)) return true;
    return false;
  }
}

function key(networkId: string, containerId: string): string {
  return `${networkId}\0${containerId}`;
}

/** Parses the nameserver, search and options lines of a resolv.conf. */
export function parseResolvConf(text: string): {
  nameservers: string[];
  search: string[];
  options: string[];
} {
  const nameservers: string[] = [];
  let search: string[] = [];
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [keyword, ...values] = line.split(/\s+/);
    if (keyword === 'nameserver' && values[0]) nameservers.push(values[0]);
    else if (keyword === 'search' || keyword === 'domain') search = values;
    else if (keyword === 'options') options.push(...values);
  }
  return { nameservers, search, options };
}
