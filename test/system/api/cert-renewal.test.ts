// A manager renews its node certificate before it expires and serves the new one on
// TCP without a restart.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRootCa,
  describeNodeCertificate,
  issueNodeCertificate,
  Manager,
  newObjectId,
  newPrivateKey,
  publicKeyOf,
  saveIdentity,
} from '../../../manager/index.js';
import { waitFor } from '../../lab/wait.js';

let dir: string | undefined;
let manager: Manager | undefined;
afterEach(async () => {
  await manager?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('manager certificate renewal', () => {
  it('renews a certificate past two thirds of its life and serves it on TCP', async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-renew-'));
    const stateDir = join(dir, 'state');
    const nodeId = newObjectId();
    const clusterId = newObjectId();
    const ca = createRootCa({ clusterId });
    const keyPem = newPrivateKey();
    // Issued 100 s ago for 120 s: 83% of its life is gone.
    const oldCert = issueNodeCertificate({
      ca,
      publicKeyPem: publicKeyOf(keyPem),
      nodeId,
      role: 'manager',
      clusterId,
      now: new Date(Date.now() - 100_000),
      validForMs: 120_000,
    });
    await saveIdentity(stateDir, { caPem: ca.certPem, caKeyPem: ca.keyPem, certPem: oldCert, keyPem });
    await writeFile(join(stateDir, 'node-id'), `${nodeId}\n`);
    const oldNotAfter = describeNodeCertificate(oldCert).notAfter;

    manager = await Manager.start({
      stateDir,
      socketPath: join(dir, 'skiff.sock'),
      hostname: 'renew',
      tcp: { host: '127.0.0.1', port: 0 },
    });
    const m = manager;
    await waitFor(() => m.identity.certPem !== oldCert, { what: 'the certificate to be renewed' });
    const renewed = describeNodeCertificate(m.identity.certPem);
    expect(renewed).toMatchObject({ nodeId, role: 'manager', clusterId });
    expect(renewed.notAfter.getTime()).toBeGreaterThan(oldNotAfter.getTime());
    await waitFor(
      async () => (await readFile(join(stateDir, 'certs', 'node.crt'), 'utf8')) === m.identity.certPem,
      {
        what: 'the renewed certificate on disk',
      },
    );

    const port = (m.tcpApi!.server.address() as AddressInfo).port;
    const served = await new Promise<string>((resolve, reject) => {
      const s = connect(
        { host: '127.0.0.1', port, ca: ca.certPem, checkServerIdentity: () => undefined },
        () => {
          resolve(s.getPeerCertificate().valid_to);
          s.destroy();
        },
      );
      s.on('error', reject);
    });
    expect(new Date(served).getTime()).toBeGreaterThan(oldNotAfter.getTime());
  });
});
