import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  createRootCa,
  describeNodeCertificate,
  issueNodeCertificate,
  newPrivateKey,
  publicKeyOf,
  verifyNodeCertificate,
} from '../../../manager/ca/index.js';

const DAY = 86_400_000;

function node(
  ca: ReturnType<typeof createRootCa>,
  role: 'manager' | 'worker',
  opts: { now?: Date; validForMs?: number } = {},
) {
  const keyPem = newPrivateKey();
  const certPem = issueNodeCertificate({
    ca,
    publicKeyPem: publicKeyOf(keyPem),
    nodeId: `node${role}000000000000000000`.slice(0, 25),
    role,
    clusterId: 'cluster1',
    validForMs: opts.validForMs ?? 90 * DAY,
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { keyPem, certPem };
}

describe('cluster CA', () => {
  it('issues node certificates that OpenSSL parses and verifies, with the role in the OU', () => {
    const ca = createRootCa({ clusterId: 'cluster1' });
    const root = new X509Certificate(ca.certPem);
    expect(root.ca).toBe(true);
    const n = node(ca, 'worker');
    const cert = new X509Certificate(n.certPem);
    expect(cert.checkIssued(root)).toBe(true);
    expect(cert.verify(root.publicKey)).toBe(true);
    expect(describeNodeCertificate(n.certPem)).toMatchObject({ role: 'worker', clusterId: 'cluster1' });
    expect(verifyNodeCertificate(n.certPem, ca.certPem).role).toBe('worker');
  });

  it('refuses certificates from another CA and expired ones', () => {
    const ca = createRootCa({ clusterId: 'cluster1' });
    const other = createRootCa({ clusterId: 'cluster2' });
    const foreign = node(other, 'manager');
    expect(() => verifyNodeCertificate(foreign.certPem, ca.certPem)).toThrow(
      /not issued by this cluster's CA/,
    );
    const old = node(ca, 'manager', { now: new Date(Date.now() - 10 * DAY), validForMs: DAY });
    expect(() => verifyNodeCertificate(old.certPem, ca.certPem)).toThrow(/expired/);
  });

  it('works for mutual TLS: a client with a cluster certificate connects, one without is refused', async () => {
    const ca = createRootCa({ clusterId: 'cluster1' });
    const server = node(ca, 'manager');
    const client = node(ca, 'worker');
    const srv = createServer(
      {
        key: server.keyPem,
        cert: server.certPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (s) => {
        s.end(`hello ${(s.getPeerCertificate().subject as { OU?: string }).OU}`);
      },
    );
    srv.on('tlsClientError', () => {});
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as AddressInfo).port;
    const talk = (opts: { key?: string; cert?: string }) =>
      new Promise<string>((resolve, reject) => {
        const s: TLSSocket = connect({
          host: '127.0.0.1',
          port,
          ca: ca.certPem,
          checkServerIdentity: () => undefined,
          ...opts,
        });
        let data = '';
        s.on('data', (d) => {
          data += d;
        });
        s.on('end', () => resolve(data));
        s.on('error', reject);
      });
    try {
      expect(await talk({ key: client.keyPem, cert: client.certPem })).toBe('hello swarm-worker');
      await expect(talk({})).rejects.toThrow();
    } finally {
      srv.close();
    }
  });
});
