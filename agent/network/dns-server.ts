// The node's embedded DNS server. It listens on each network's gateway address
// (UDP and TCP port 53), answers container names from DnsRecordTable according to the
// asking container's networks, and relays everything else to the host's resolvers.
// dns-packet (mafintosh, the codec behind multicast-dns; small, no dependencies,
// maintained since 2016) does the wire format so we do not hand-roll name compression.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { type Logger, SkiffError, silentLogger } from '../../lib/index.js';
import { type DnsEndpoint, type DnsRecord, DnsRecordTable, parseResolvConf } from './dns-records.js';

const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;
const ANSWER_TTL_SECONDS = 5;
const UPSTREAM_TIMEOUT_MS = 2_000;

interface Listener {
  address: string;
  udp: dgram.Socket;
  tcp: net.Server;
}

export interface DnsServerOptions {
  hostResolvConf?: string;
  logger?: Logger;
  /** Port to listen on; 53 except in tests that cannot use it. */
  port?: number;
}

export class DnsServer {
  private readonly table = new DnsRecordTable();
  private readonly listeners = new Map<string, Listener>();
  private readonly log: Logger;
  private readonly port: number;
  private readonly hostResolv: { nameservers: string[]; search: string[]; options: string[] };
  /** After close(): a listen still binding gives its sockets back instead of keeping them. */
  private closed = false;
  /** Listens still binding, which close() waits for (their sockets must be free when it resolves). */
  private readonly binding = new Set<Promise<void>>();

  constructor(options: DnsServerOptions = {}) {
    this.log = (options.logger ?? silentLogger).child({ component: 'dns' });
    this.port = options.port ?? 53;
    let text = '';
    try {
      text = readFileSync(options.hostResolvConf ?? '/etc/resolv.conf', 'utf8');
    } catch {
      this.log.warn('no host resolv.conf: names outside the cluster will not resolve');
    }
    this.hostResolv = parseResolvConf(text);
  }

  /**
   * Starts answering on a network's gateway address; idempotent. Refused once closed: a
   * stopping agent's task may still be attaching its networks, and a socket bound after
   * close() would hold the address from the node's next agent (a role switch) for good.
   */
  async listen(networkId: string, address: string): Promise<void> {
    if (this.closed) throw this.closedError(address);
    const p = this.bind(networkId, address);
    this.binding.add(p);
    try {
      await p;
    } finally {
      this.binding.delete(p);
    }
  }

  private closedError(address: string): SkiffError {
    return new SkiffError('unavailable', `the DNS server is closed: not listening on ${address}`, {
      hint: 'the node agent is stopping',
    });
  }

  private async bind(networkId: string, address: string): Promise<void> {
    const existing = this.listeners.get(networkId);
    if (existing?.address === address) return;
    if (existing) await this.stopListening(networkId);
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      void this.answer(msg, rinfo.address).then((reply) => {
        if (reply) udp.send(reply, rinfo.port, rinfo.address);
      });
    });
    udp.on('error', (e) => this.log.warn({ err: e, address }, 'DNS UDP socket error'));
    const tcp = net.createServer((socket) => this.serveTcp(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.port, address, () => resolve());
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(this.port, address, () => resolve());
      });
    } catch (e) {
      udp.close();
      tcp.close();
      throw new SkiffError(
        'unavailable',
        `cannot start the DNS server on ${address}:${this.port}: ${String(e)}`,
        {
          hint: 'another process may be using that address and port',
          cause: e,
        },
      );
    }
    if (this.closed) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      throw this.closedError(address);
    }
    this.listeners.set(networkId, { address, udp, tcp });
  }

  async stopListening(networkId: string): Promise<void> {
    const l = this.listeners.get(networkId);
    if (!l) return;
    this.listeners.delete(networkId);
    await new Promise<void>((resolve) => l.udp.close(() => resolve()));
    await new Promise<void>((resolve) => l.tcp.close(() => resolve()));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.binding]);
    for (const id of [...this.listeners.keys()]) await this.stopListening(id);
  }

  setRecords(networkId: string, records: readonly DnsRecord[]): void {
    this.table.setRecords(networkId, records);
  }

  addEndpoint(endpoint: DnsEndpoint): void {
    this.table.addEndpoint(endpoint);
  }

  removeEndpoint(ref: { networkId: string; containerId: string }): void {
    this.table.removeEndpoint(ref);
  }

  /** Networks the container has endpoints on, in attach order. */
  networksOfContainerEndpoints(containerId: string): string[] {
    return this.table.networksOfContainer(containerId);
  }

  /** Keeps the container's address on a network but changes the names it answers to. */
  setEndpointNames(containerId: string, networkId: string, names: string[]): void {
    this.table.setEndpointNames(containerId, networkId, names);
  }

  removeContainer(containerId: string): void {
    this.table.removeContainer(containerId);
  }

  forgetNetwork(networkId: string): void {
    this.table.removeNetwork(networkId);
  }

  /** /etc/resolv.conf for a container: this server on its first network, the host's search and options. */
  resolvConfFor(containerId: string): string {
    return this.resolvConfOn(containerId, this.table.networksOfContainer(containerId)[0]);
  }

  /**
   * The same for a container whose first network is `networkId`, before its interfaces
   * are attached (the container is created while they are).
   */
  resolvConfOn(containerId: string, networkId: string | undefined): string {
    const address = networkId === undefined ? undefined : this.listeners.get(networkId)?.address;
    if (address === undefined) {
      throw new SkiffError(
        'not_found',
        `container ${containerId} is attached to no network with a DNS server`,
        {
          hint: 'attach the container before asking for its resolv.conf',
        },
      );
    }
    const lines = [`nameserver ${address}`];
    if (this.hostResolv.search.length > 0) lines.push(`search ${this.hostResolv.search.join(' ')}`);
    if (this.hostResolv.options.length > 0) lines.push(`options ${this.hostResolv.options.join(' ')}`);
    return `${lines.join('\n')}\n`;
  }

  /** The reply to one query packet from `sourceIp`, or undefined when it is not a query. */
  async answer(query: Buffer, sourceIp: string): Promise<Buffer | undefined> {
    let packet: dnsPacket.DecodedPacket;
    try {
      packet = dnsPacket.decode(query);
    } catch {
      return undefined;
    }
    if (packet.type !== 'query') return undefined;
    const question = packet.questions?.[0];
    if (!question) return reply(packet, RCODE_SERVFAIL, []);
    const result = this.table.lookup(sourceIp, question.name, this.hostResolv.search);
    if (result.kind === 'nxdomain') return reply(packet, RCODE_NXDOMAIN, []);
    if (result.kind === 'answer') {
      // Shuffled so clients spread over a service's tasks (DNS round robin).
      const ips = [...result.ips].sort(() => Math.random() - 0.5);
      const answers: dnsPacket.Answer[] =
        question.type === 'A' || String(question.type) === 'ANY'
          ? ips.map((ip) => ({ type: 'A', name: question.name, ttl: ANSWER_TTL_SECONDS, data: ip }))
          : [];
      return reply(packet, 0, answers);
    }
    return (await this.forward(query)) ?? reply(packet, RCODE_SERVFAIL, []);
  }

  private async forward(query: Buffer): Promise<Buffer | undefined> {
    for (const server of this.hostResolv.nameservers) {
      const answer = await askUpstream(server, query).catch(() => undefined);
      if (answer) return answer;
    }
    return undefined;
  }

  private serveTcp(socket: net.Socket): void {
    let buffered = Buffer.alloc(0);
    const source = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const msg = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        void this.answer(msg, source).then((out) => {
          if (!out || socket.destroyed) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(out.length);
          socket.write(Buffer.concat([prefix, out]));
        });
      }
    });
  }
}

function reply(query: dnsPacket.DecodedPacket, rcode: number, answers: dnsPacket.Answer[]): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    flags:
      dnsPacket.RECURSION_AVAILABLE |
      (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) |
      (rcode === 0 && answers.length > 0 ? dnsPacket.AUTHORITATIVE_ANSWER : 0) |
      rcode,
    questions: query.questions ?? [],
    answers,
  });
}

function askUpstream(server: string, query: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => done(undefined), UPSTREAM_TIMEOUT_MS);
    function done(value: Buffer | undefined): void {
      clearTimeout(timer);
      socket.close();
      resolve(value);
    }
    socket.on('error', () => done(undefined));
    // Only the server we asked, answering our query ID (the container's own ID, kept as is).
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address === server && msg.length >= 2 && msg.readUInt16BE(0) === query.readUInt16BE(0))
        done(msg);
    });
    socket.send(query, 53, server);
  });
}
