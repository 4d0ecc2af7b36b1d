// The embedded DNS server on real sockets: UDP and TCP, answers by the asker's source
// address, and relays other names to the host's resolver from resolv.conf.
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsServer } from '../../../agent/network/index.js';
import { Cleanup } from '../../lab/index.js';

// Loopback addresses of our own (all of 127/8 is local): server, fake upstream, two
// "containers". The second octet is picked at bind time so parallel runs do not collide.
let octet = 0;
let SERVER = '';
let UPSTREAM = '';
let CONTAINER_A = '';
let STRANGER = '';
function pickAddresses(): void {
  octet = 10 + Math.floor(Math.random() * 200);
  SERVER = `127.${octet}.0.1`;
  UPSTREAM = `127.${octet}.0.2`;
  CONTAINER_A = `127.${octet}.1.2`;
  STRANGER = `127.${octet}.1.3`;
}

function query(name: string, id = 7): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: 'A', name }],
  });
}

function askUdp(from: string, name: string): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP answer for ${name}`));
    }, 5_000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(dnsPacket.decode(m));
    });
    s.bind(0, from, () => s.send(query(name), 53, SERVER));
  });
}

function askTcp(from: string, name: string): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: SERVER, port: 53, localAddress: from });
    let buf = Buffer.alloc(0);
    socket.setTimeout(5_000, () => {
      socket.destroy();
      reject(new Error(`no TCP answer for ${name}`));
    });
    socket.on('error', reject);
    socket.on('connect', () => {
      const q = query(name, 9);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      socket.write(Buffer.concat([len, q]));
    });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        socket.end();
        resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      }
    });
  });
}

const ips = (p: dnsPacket.DecodedPacket) =>
  (p.answers ?? []).map((a) => ('data' in a ? String(a.data) : '')).sort();
const rcode = (p: dnsPacket.DecodedPacket) => (p.flags ?? 0) & 0xf;

describe('DnsServer on sockets', () => {
  const cleanup = new Cleanup();
  let server: DnsServer;
  let upstreamQueries = 0;

  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'skiff-dns-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }), 'tmp dir');
    const answerUpstream = (sock: dgram.Socket) => (m: Buffer, r: dgram.RemoteInfo) => {
      upstreamQueries++;
      const q = dnsPacket.decode(m);
      const name = q.questions?.[0]?.name ?? '';
      sock.send(
        dnsPacket.encode({
          type: 'response',
          id: q.id ?? 0,
          flags: dnsPacket.RECURSION_AVAILABLE,
          questions: q.questions ?? [],
          answers: [{ type: 'A', name, ttl: 60, data: '192.0.2.99' }],
        }),
        r.port,
        r.address,
      );
    };
    let upstream: dgram.Socket;
    for (let attempt = 0; ; attempt++) {
      pickAddresses();
      const sock = dgram.createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          sock.once('error', reject);
          sock.bind(53, UPSTREAM, () => resolve());
        });
        sock.on('message', answerUpstream(sock));
        upstream = sock;
        break;
      } catch (e) {
        sock.close();
        if (attempt >= 5) throw e;
      }
    }
    cleanup.add(() => new Promise<void>((resolve) => upstream.close(() => resolve())), 'upstream');
    writeFileSync(
      path.join(dir, 'resolv.conf'),
      `nameserver ${UPSTREAM}\nsearch corp.example\noptions ndots:1\n`,
    );
    server = new DnsServer({ hostResolvConf: path.join(dir, 'resolv.conf') });
    await server.listen('net-a', SERVER);
    cleanup.add(() => server.close(), 'dns server');
    server.addEndpoint({ networkId: 'net-a', containerId: 'c1', ip: CONTAINER_A, names: ['web'] });
    server.setRecords('net-a', [{ name: 'tasks.web', ips: ['10.0.0.7', '10.0.0.8'] }]);
  });

  afterAll(async () => {
    await cleanup.run();
  });

  it('answers container names over UDP and TCP to containers on the network', async () => {
    expect(ips(await askUdp(CONTAINER_A, 'web'))).toEqual([CONTAINER_A]);
    expect(ips(await askTcp(CONTAINER_A, 'tasks.web'))).toEqual(['10.0.0.7', '10.0.0.8']);
    // The resolver's first try with the host's search domain is answered here, not upstream.
    const before = upstreamQueries;
    expect(ips(await askUdp(CONTAINER_A, 'web.corp.example'))).toEqual([CONTAINER_A]);
    expect(upstreamQueries).toBe(before);
  });

  it('does not tell strangers, and does not ask upstream for them', async () => {
    const before = upstreamQueries;
    expect(rcode(await askUdp(STRANGER, 'web'))).toBe(3);
    expect(rcode(await askTcp(STRANGER, 'tasks.web'))).toBe(3);
    expect(upstreamQueries).toBe(before);
  });

  it("relays other names to the host's resolver", async () => {
    const before = upstreamQueries;
    expect(ips(await askUdp(CONTAINER_A, 'www.example.org'))).toEqual(['192.0.2.99']);
    expect(ips(await askTcp(CONTAINER_A, 'www.example.org'))).toEqual(['192.0.2.99']);
    expect(upstreamQueries).toBe(before + 2);
  });

  it('gives back a socket still binding when it is closed, so the next server can listen there', async () => {
    // A stopping agent (a role switch) closes its DNS server while a task still attaches
    // its networks; the next agent in the same process must get the gateway address.
    const address = `127.${octet}.0.3`;
    const first = new DnsServer({ hostResolvConf: '/nonexistent/resolv.conf' });
    const binding = first.listen('net-b', address);
    await first.close();
    await expect(binding).rejects.toThrow(/closed/);
    await expect(first.listen('net-b', address)).rejects.toThrow(/closed/);
    const next = new DnsServer({ hostResolvConf: '/nonexistent/resolv.conf' });
    cleanup.add(() => next.close(), 'second dns server');
    await next.listen('net-b', address);
  });

  it("copies the host's search and options into the container's resolv.conf", () => {
    expect(server.resolvConfFor('c1')).toBe(`nameserver ${SERVER}\nsearch corp.example\noptions ndots:1\n`);
  });
});
