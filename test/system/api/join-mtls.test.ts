// Joining with tokens and the API on TCP with client certificates.
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSkiffError } from '../../../lib/index.js';
import {
  caDigest,
  createRootCa,
  issueNodeCertificate,
  loadRaftIdentity,
  Manager,
  newPrivateKey,
  publicKeyOf,
  requestJoin,
  requestRenewal,
  verifyNodeCertificate,
} from '../../../manager/index.js';

let dir: string;
let manager: Manager;
let addr: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-join-'));
  manager = await Manager.start({
    stateDir: join(dir, 'state'),
    socketPath: join(dir, 'skiff.sock'),
    hostname: 'mgr1',
    tcp: { host: '127.0.0.1', port: 0 },
  });
  addr = `127.0.0.1:${(manager.tcpApi!.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await manager?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function get(
  path: string,
  tls: { cert?: string; key?: string } = {},
): Promise<{ status: number; body: string }> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port: Number(port),
        path,
        method: 'GET',
        ca: manager.identity.caPem,
        checkServerIdentity: () => undefined,
        ...tls,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const tokens = () => manager.store.getCluster()!.JoinTokens!;

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isSkiffError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('joining and mutual TLS', () => {
  it('gives a TCP client without a certificate nothing but a 401', async () => {
    const r = await get('/info');
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toEqual({
      message: "a client certificate from this cluster's CA is required",
    });
    expect((await get('/services')).status).toBe(401);
  });

  it('refuses a certificate from another CA', async () => {
    const other = createRootCa({ clusterId: 'other' });
    const keyPem = newPrivateKey();
    const cert = issueNodeCertificate({
      ca: other,
      publicKeyPem: publicKeyOf(keyPem),
      nodeId: manager.nodeId,
      role: 'manager',
      clusterId: 'other',
      validForMs: 86_400_000,
    });
    expect((await get('/info', { cert, key: keyPem })).status).toBe(401);
  });

  it('joins a worker with the worker token; its certificate cannot use the manager API', async () => {
    const before = manager.store.listNodes().length;
    const w = await requestJoin({ managerAddr: addr, token: tokens().Worker, hostname: 'worker1' });
    expect(w.role).toBe('worker');
    expect(verifyNodeCertificate(w.identity.certPem, manager.identity.caPem)).toMatchObject({
      nodeId: w.nodeId,
      role: 'worker',
    });
    expect(manager.store.listNodes()).toHaveLength(before + 1);
    expect(manager.store.getNode(w.nodeId)?.Spec.Role).toBe('worker');
    const r = await get('/info', { cert: w.identity.certPem, key: w.identity.keyPem });
    expect(r.status).toBe(403);
    expect(r.body).not.toContain('NodeID');

    // Renewal works with the current certificate; after removal the node is refused.
    const renewed = await requestRenewal(addr, w.identity, w.nodeId);
    expect(verifyNodeCertificate(renewed.certPem, manager.identity.caPem).nodeId).toBe(w.nodeId);
    await manager.store.update((tx) => tx.deleteNode(w.nodeId));
    expect((await get('/info', { cert: renewed.certPem, key: renewed.keyPem })).status).toBe(401);
    expect(await refusal(requestRenewal(addr, renewed, w.nodeId))).toMatch(/unauthorized/);
  });

  it('keeps a worker certificate out of raft: the TLS handshake with the raft port fails', async () => {
    const w = await requestJoin({ managerAddr: addr, token: tokens().Worker, hostname: 'worker-raft' });
    const [host, port] = manager.raftAddr.split(':');
    // TLS 1.2, so the server's verdict on the client certificate is part of the handshake.
    const handshake = (cert: string, key: string) =>
      new Promise<string>((resolve) => {
        const s = tlsConnect({
          host,
          port: Number(port),
          cert,
          key,
          ALPNProtocols: ['h2'],
          maxVersion: 'TLSv1.2',
          rejectUnauthorized: false,
        });
        s.on('secureConnect', () => {
          resolve('ok');
          s.destroy();
        });
        s.on('error', (e) => resolve(e.message));
      });
    expect(await handshake(w.identity.certPem, w.identity.keyPem)).toMatch(
      /alert|disconnected before secure TLS connection/,
    );
    const raftIdentity = await loadRaftIdentity(join(dir, 'state'));
    expect(await handshake(raftIdentity!.certPem, raftIdentity!.keyPem)).toBe('ok');
  });

  it('joins a manager with the manager token; its certificate can use the API', async () => {
    const noRaft = await refusal(
      requestJoin({ managerAddr: addr, token: tokens().Manager, hostname: 'mgr2' }),
    );
    expect(noRaft).toMatch(/needs the raft address/);
    const m = await requestJoin({
      managerAddr: addr,
      token: tokens().Manager,
      hostname: 'mgr2',
      addr: '127.0.0.2:2377',
      raftAddr: '127.0.0.2:2378',
    });
    expect(m.manager?.raftPeers.map((p) => p.id)).toEqual([manager.nodeId]);
    expect(m.manager?.caKey).toBe(manager.identity.caKeyPem);
    expect(m.role).toBe('manager');
    expect(manager.store.getNode(m.nodeId)?.ManagerStatus?.Addr).toBe('127.0.0.2:2377');
    const r = await get('/info', { cert: m.identity.certPem, key: m.identity.keyPem });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).Swarm.NodeID).toBe(manager.nodeId);
  });

  it('refuses a wrong or rotated token and a token for another cluster, creating no node', async () => {
    const before = manager.store.listNodes().length;
    const t = tokens();
    const forged = `${t.Worker.slice(0, -25)}${'0'.repeat(25)}`;
    expect(await refusal(requestJoin({ managerAddr: addr, token: forged, hostname: 'x' }))).toMatch(
      /^unauthorized: join refused: the join token is not valid/,
    );

    const cluster = manager.store.getCluster()!;
    // Rotate the worker token through the API on the unix socket, as `docker swarm join-token --rotate` does.
    const update = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          socketPath: join(dir, 'skiff.sock'),
          path: `/v1.44/swarm/update?version=${cluster.Version.Index}&rotateWorkerToken=true`,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(cluster.Spec));
    });
    expect(update).toBe(200);
    expect(await refusal(requestJoin({ managerAddr: addr, token: t.Worker, hostname: 'x' }))).toMatch(
      /not valid/,
    );

    const otherCa = createRootCa({ clusterId: 'other' });
    const otherToken = `SWMTKN-1-${caDigest(otherCa.certPem)}-${'a'.repeat(25)}`;
    expect(await refusal(requestJoin({ managerAddr: addr, token: otherToken, hostname: 'x' }))).toMatch(
      /does not match the join token/,
    );
    expect(await refusal(requestJoin({ managerAddr: addr, token: 'garbage', hostname: 'x' }))).toMatch(
      /malformed/,
    );
    expect(manager.store.listNodes()).toHaveLength(before);
  });
});
