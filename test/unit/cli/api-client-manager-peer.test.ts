// The CLI's client of a remote manager (`--host tcp://…`, mTLS) talks only to a server
// whose certificate has the manager role: a worker's key (same cluster CA) and an
// intercepted connection must not receive a CLI user's commands (secrets, specs).
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../../cli/api/index.js';
import {
  createRootCa,
  issueNodeCertificate,
  type NodeRole,
  newPrivateKey,
  publicKeyOf,
} from '../../../manager/ca/index.js';

const ca = createRootCa({ clusterId: 'c1' });
function identity(nodeId: string, role: NodeRole) {
  const keyPem = newPrivateKey();
  const certPem = issueNodeCertificate({
    ca,
    publicKeyPem: publicKeyOf(keyPem),
    nodeId,
    role,
    clusterId: 'c1',
    validForMs: 3600_000,
  });
  return { caPem: ca.certPem, certPem, keyPem };
}

const servers: Server[] = [];
const clients: ApiClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A TLS server with `role`'s certificate of the cluster CA that records what it is sent. */
async function server(role: NodeRole) {
  const id = identity('posing1', role);
  const received: string[] = [];
  const s = createServer(
    { key: id.keyPem, cert: id.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        received.push(`${req.method} ${req.url} ${body}`);
        res.setHeader('content-type', 'application/json');
        res.end('{"ID":"s1"}');
      });
    },
  );
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { host: `tcp://127.0.0.1:${(s.address() as AddressInfo).port}`, received };
}

function client(host: string): ApiClient {
  const me = identity('cli1', 'manager');
  const c = new ApiClient({ host, tls: { ca: me.caPem, cert: me.certPem, key: me.keyPem } });
  clients.push(c);
  return c;
}

describe('the CLI over TCP requires a manager certificate', () => {
  it('sends nothing to a server with a worker certificate', async () => {
    const { host, received } = await server('worker');
    await expect(
      client(host).createSecret({ Name: 's', Data: Buffer.from('hunter2').toString('base64') }),
    ).rejects.toThrow(/certificate of worker node posing1, not a manager's/);
    expect(received).toEqual([]);
  });

  it('talks to a server with a manager certificate', async () => {
    const { host, received } = await server('manager');
    await expect(client(host).createSecret({ Name: 's' })).resolves.toMatchObject({ ID: 's1' });
    expect(received).toHaveLength(1);
  });
});
