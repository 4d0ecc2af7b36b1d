import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcTransport, type Message, RaftNode } from '../../../manager/raft/index.js';
import { freePort, waitFor } from '../../lab/index.js';
import { encodePut, KvStateMachine } from '../../support/raft-kv/index.js';

let dir: string;
let ca: Buffer;
let cert: Buffer;
let key: Buffer;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raft-tls-'));
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-subj',
    '/CN=raft-test-ca',
    '-days',
    '1',
  );
  run('req', ...ec, '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=raft-node');
  await writeFile(
    join(dir, 'san.ext'),
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  run(
    'x509',
    '-req',
    '-in',
    'node.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'node.crt',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  );
  ca = await readFile(join(dir, 'ca.crt'));
  cert = await readFile(join(dir, 'node.crt'));
  key = await readFile(join(dir, 'node.key'));
});

afterAll(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

describe('raft over mutual TLS', () => {
  it('a cluster with client-certificate-checked channels elects and replicates; a plain-text peer is refused', async () => {
    const ids = ['t1', 't2', 't3'];
    const peers = await Promise.all(ids.map(async (id) => ({ id, addr: `127.0.0.1:${await freePort()}` })));
    const sms = ids.map(() => new KvStateMachine());
    const nodes: RaftNode[] = [];
    for (const [i, id] of ids.entries()) {
      const node = await RaftNode.start({
        id,
        dataDir: join(dir, id),
        peers,
        stateMachine: sms[i]!,
        tickMs: 20,
        serverCredentials: grpc.ServerCredentials.createSsl(
          ca,
          [{ cert_chain: cert, private_key: key }],
          true,
        ),
        channelCredentials: grpc.credentials.createSsl(ca, key, cert),
      });
      stops.push(() => node.stop());
      nodes.push(node);
    }
    // One 15 s deadline for the election and the replication together.
    const deadline = Date.now() + 15_000;
    const leader = await waitFor(() => nodes.find((n) => n.status().role === 'leader'), {
      what: 'a leader among the mTLS nodes',
      timeoutMs: 15_000,
      intervalMs: 20,
    });
    await leader.propose(encodePut({ key: 'secure', value: 'yes' }));
    await waitFor(() => sms.every((s) => s.map.get('secure') === 'yes'), {
      what: 'every node to apply the write',
      timeoutMs: Math.max(0, deadline - Date.now()),
      intervalMs: 20,
    });
    expect(sms.map((s) => s.map.get('secure'))).toEqual(['yes', 'yes', 'yes']);

    // A peer without a certificate over plain text never gets a message through.
    const reports: Message[] = [];
    const plain = await GrpcTransport.start({
      id: 'intruder',
      listenAddr: '127.0.0.1:0',
      onMessage: (m) => reports.push(m),
    });
    stops.push(() => plain.close());
    const before = leader.status().term;
    plain.setPeers({ t1: peers[0]!.addr });
    // Keep sending until the transport reports the peer unreachable.
    await waitFor(
      () => {
        if (reports.some((m) => m.type === 'unreachable')) return true;
        plain.send([{ type: 'heartbeat', from: 'intruder', to: 't1', term: before + 100, commit: 0 }]);
        return false;
      },
      { what: 'the intruder transport to report t1 unreachable', timeoutMs: 2000, intervalMs: 100 },
    );
    expect(reports.some((m) => m.type === 'unreachable')).toBe(true);
    expect(nodes[0]!.status().term).toBeLessThan(before + 100);
  });
});
