import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { DnsRecordTable, parseResolvConf } from '../../../agent/network/dns-records.js';
import { DnsServer } from '../../../agent/network/index.js';

function table() {
  const t = new DnsRecordTable();
  t.addEndpoint({ networkId: 'a', containerId: 'web1', ip: '10.0.1.2', names: ['web', 'Web.Alias'] });
  t.addEndpoint({ networkId: 'a', containerId: 'client1', ip: '10.0.1.3', names: ['client'] });
  t.addEndpoint({ networkId: 'b', containerId: 'other1', ip: '10.0.2.2', names: ['other'] });
  t.addEndpoint({ networkId: 'b', containerId: 'both1', ip: '10.0.2.3', names: ['both'] });
  t.addEndpoint({ networkId: 'a', containerId: 'both1', ip: '10.0.1.4', names: ['both'] });
  t.setRecords('a', [
    { name: 'api', ips: ['10.0.1.100'] },
    { name: 'tasks.api', ips: ['10.0.1.7', '10.0.1.8'] },
  ]);
  return t;
}

describe('DnsRecordTable', () => {
  it('answers names on the asking container’s networks, case-insensitively', () => {
    const t = table();
    expect(t.lookup('10.0.1.3', 'web')).toEqual({ kind: 'answer', ips: ['10.0.1.2'] });
    expect(t.lookup('10.0.1.3', 'WEB.')).toEqual({ kind: 'answer', ips: ['10.0.1.2'] });
    expect(t.lookup('10.0.1.3', 'web.alias')).toEqual({ kind: 'answer', ips: ['10.0.1.2'] });
    expect(t.lookup('10.0.1.3', 'api')).toEqual({ kind: 'answer', ips: ['10.0.1.100'] });
    expect(t.lookup('10.0.1.3', 'tasks.api')).toEqual({ kind: 'answer', ips: ['10.0.1.7', '10.0.1.8'] });
  });

  it('hides names of networks the container is not on', () => {
    const t = table();
    expect(t.lookup('10.0.2.2', 'web')).toEqual({ kind: 'nxdomain' });
    expect(t.lookup('10.0.2.2', 'tasks.api')).toEqual({ kind: 'nxdomain' });
    expect(t.lookup('10.0.1.3', 'other')).toEqual({ kind: 'nxdomain' });
  });

  it('lets a container on two networks see both, whichever address it asks from', () => {
    const t = table();
    expect(t.lookup('10.0.2.3', 'web')).toEqual({ kind: 'answer', ips: ['10.0.1.2'] });
    expect(t.lookup('10.0.1.4', 'other')).toEqual({ kind: 'answer', ips: ['10.0.2.2'] });
    expect(t.networksOfContainer('both1')).toEqual(['b', 'a']);
  });

  it('forwards other names with a dot and refuses unknown single labels', () => {
    const t = table();
    expect(t.lookup('10.0.1.3', 'example.com')).toEqual({ kind: 'forward' });
    expect(t.lookup('10.0.1.3', 'nosuchservice')).toEqual({ kind: 'nxdomain' });
  });

  it('answers local names with a search domain appended, and forwards the rest', () => {
    const t = table();
    expect(t.lookup('10.0.1.3', 'web.corp.example', ['corp.example'])).toEqual({
      kind: 'answer',
      ips: ['10.0.1.2'],
    });
    expect(t.lookup('10.0.1.3', 'nosuch.corp.example', ['corp.example'])).toEqual({ kind: 'forward' });
    expect(t.lookup('10.0.2.2', 'web.corp.example', ['corp.example'])).toEqual({ kind: 'forward' });
  });

  it('forgets endpoints, containers and networks', () => {
    const t = table();
    t.removeEndpoint({ networkId: 'a', containerId: 'web1' });
    expect(t.lookup('10.0.1.3', 'web')).toEqual({ kind: 'nxdomain' });
    t.removeContainer('both1');
    expect(t.lookup('10.0.2.3', 'other')).toEqual({ kind: 'nxdomain' });
    t.setRecords('a', []);
    expect(t.lookup('10.0.1.3', 'api')).toEqual({ kind: 'nxdomain' });
    t.removeNetwork('b');
    expect(t.networksOf('10.0.2.2').size).toBe(0);
  });
});

describe('parseResolvConf', () => {
  it('reads nameservers, search and options, ignoring comments', () => {
    expect(
      parseResolvConf(
        '# hi\nnameserver 10.0.0.53\nnameserver 1.1.1.1 # two\nsearch corp.example lab\noptions ndots:2 edns0\n',
      ),
    ).toEqual({
      nameservers: ['10.0.0.53', '1.1.1.1'],
      search: ['corp.example', 'lab'],
      options: ['ndots:2', 'edns0'],
    });
  });
});

describe('DnsServer.answer', () => {
  const query = (name: string, type: 'A' | 'AAAA' = 'A') =>
    dnsPacket.encode({
      type: 'query',
      id: 4242,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name }],
    });

  function server() {
    const s = new DnsServer({ hostResolvConf: '/nonexistent/resolv.conf' });
    s.addEndpoint({ networkId: 'a', containerId: 'web1', ip: '10.0.1.2', names: ['web'] });
    s.addEndpoint({ networkId: 'a', containerId: 'client1', ip: '10.0.1.3', names: ['client'] });
    s.setRecords('a', [{ name: 'tasks.web', ips: ['10.0.1.2', '10.0.1.5'] }]);
    return s;
  }

  it('answers A queries for visible names', async () => {
    const reply = dnsPacket.decode((await server().answer(query('tasks.web'), '10.0.1.3'))!);
    expect(reply.id).toBe(4242);
    expect(reply.type).toBe('response');
    expect(reply.flag_rd).toBe(true);
    expect(reply.answers?.map((a) => ('data' in a ? String(a.data) : '')).sort()).toEqual([
      '10.0.1.2',
      '10.0.1.5',
    ]);
  });

  it('says NXDOMAIN to strangers and an empty NOERROR to AAAA', async () => {
    const s = server();
    const nx = dnsPacket.decode((await s.answer(query('web'), '10.9.9.9'))!);
    expect(nx.flags! & 0xf).toBe(3);
    const aaaa = dnsPacket.decode((await s.answer(query('web', 'AAAA'), '10.0.1.3'))!);
    expect(aaaa.flags! & 0xf).toBe(0);
    expect(aaaa.answers).toEqual([]);
  });

  it('answers SERVFAIL when a forwarded name has no upstream, and ignores garbage', async () => {
    const s = server();
    const fail = dnsPacket.decode((await s.answer(query('example.com'), '10.0.1.3'))!);
    expect(fail.flags! & 0xf).toBe(2);
    expect(await s.answer(Buffer.from([1, 2, 3]), '10.0.1.3')).toBeUndefined();
  });

  it('writes a resolv.conf only for attached containers', () => {
    const s = server();
    expect(() => s.resolvConfFor('web1')).toThrow(/no network with a DNS server/);
  });
});
