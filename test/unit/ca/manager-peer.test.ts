// A node calling a manager's port (join, renewal, write forwarding) checks that the
// server's certificate has the manager role: a worker's certificate from the same
// cluster CA, on a server a worker's key and an intercepted connection can stand up,
// gets neither a join token nor a forwarded write.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { callManager } from '../../../manager/api/index.js';
import {
  createRootCa,
  type NodeRole,
  newJoinToken,
  nodeHttps,
  requestJoin,
} from '../../../manager/ca/index.js';

import { nodeIdentity } from '../../fixtures/node-identity.js';

const ca = createRootCa({ clusterId: 'c1' });
const identity = (nodeId: string, role: NodeRole) => nodeIdentity(ca, nodeId, role);

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A TLS server with `role`'s certificate from the cluster CA that records what it is sent. */
async function fakeManager(role: NodeRole, answer: (path: string) => Buffer = () => Buffer.from('{}')) {
  const id = identity('posing1', role);
  const received: { path: string; body: string }[] = [];
  const server = createServer(
    { key: id.keyPem, cert: id.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push({ path: req.url ?? '', body });
        res.setHeader('content-type', 'application/json');
        res.end(req.url === '/skiff/ca' ? ca.certPem : answer(req.url ?? ''));
      });
    },
  );
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}

describe('calls to a manager require a manager certificate', () => {
  it('a joining node does not send its token to a server with a worker certificate', async () => {
    const { addr, received } = await fakeManager('worker');
    const token = newJoinToken(ca.certPem);
    await expect(requestJoin({ managerAddr: addr, token, hostname: 'h' })).rejects.toThrow(
      /certificate of worker node posing1, not a manager's/,
    );
    // The CA was fetched (it is checked against the token), the token never sent.
    expect(received.map((r) => r.path)).toEqual(['/skiff/ca']);
    expect(received.some((r) => r.body.includes(token))).toBe(false);
  });

  it('a forwarded write does not go to a server with a worker certificate', async () => {
    const { addr, received } = await fakeManager('worker');
    const secret = { Name: 's', Data: Buffer.from('hunter2').toString('base64') };
    await expect(
      callManager(addr, 'POST', '/secrets/create', secret, { tls: identity('mgr2', 'manager') }),
    ).rejects.toThrow(/not a manager's/);
    expect(received).toEqual([]);
  });

  it('a manager certificate is accepted', async () => {
    const { addr, received } = await fakeManager('manager', () => Buffer.from('{"ID":"x"}'));
    const res = await callManager(
      addr,
      'POST',
      '/secrets/create',
      { Name: 's' },
      { tls: identity('m2', 'manager') },
    );
    expect(res.status).toBe(200);
    expect(received.map((r) => r.path)).toEqual(['/secrets/create']);
  });

  it('an answer longer than the bound is refused, not buffered', async () => {
    const { addr } = await fakeManager('manager', () => Buffer.alloc(3 << 20, 0x20));
    const id = identity('m2', 'manager');
    await expect(
      nodeHttps({
        addr,
        method: 'GET',
        path: '/big',
        tls: { ca: id.caPem, cert: id.certPem, key: id.keyPem },
        timeoutMs: 10_000,
        peer: 'the leader',
        maxResponseBytes: 1 << 20,
      }),
    ).rejects.toThrow(/the leader at .* answered more than 1048576 bytes/);
  });
});
