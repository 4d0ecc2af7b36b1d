import { SkiffError } from '../../lib/index.js';
import { newPrivateKey, publicKeyOf } from './certificates.js';
import type { NodeIdentity } from './identity.js';
import type { JoinResponse } from './join.js';
import { signProof } from './join.js';
import { nodeHttps } from './node-https.js';
import { caDigest, parseJoinToken } from './tokens.js';

/**
 * Joins a cluster: fetch the manager's root CA, check it against the digest in the
 * token (so a man in the middle cannot pose as the cluster), then send the token and
 * a new public key over TLS pinned to that CA and receive the node certificate.
 */
export async function requestJoin(o: {
  managerAddr: string;
  token: string;
  hostname: string;
  addr?: string;
  raftAddr?: string;
  /** Where raft would listen should the token make this node a manager. */
  raftAddrIfManager?: string;
  timeoutMs?: number;
}): Promise<JoinResponse & { identity: NodeIdentity }> {
  const token = parseJoinToken(o.token);
  const { body: caPem } = await call(
    o.managerAddr,
    'GET',
    '/skiff/ca',
    undefined,
    { rejectUnauthorized: false },
    o.timeoutMs,
  );
  if (caDigest(caPem) !== token.caDigest) {
    throw new SkiffError(
      'unauthorized',
      `the manager at ${o.managerAddr} presents a root CA that does not match the join token`,
      {
        hint: 'check the address and the token; someone may be impersonating the manager',
      },
    );
  }
  const keyPem = newPrivateKey();
  const publicKey = publicKeyOf(keyPem);
  const { status, body } = await call(
    o.managerAddr,
    'POST',
    '/skiff/join',
    {
      token: o.token,
      publicKey,
      proof: signProof('join', o.token, publicKey, keyPem),
      hostname: o.hostname,
      ...(o.addr ? { addr: o.addr } : {}),
      ...(o.raftAddr ? { raftAddr: o.raftAddr } : {}),
      ...(o.raftAddrIfManager ? { raftAddrIfManager: o.raftAddrIfManager } : {}),
    },
    { ca: caPem },
    o.timeoutMs,
  );
  const parsed = JSON.parse(body) as JoinResponse & { message?: string };
  if (status !== 200)
    throw new SkiffError(
      status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'invalid_argument',
      `join refused: ${parsed.message ?? status}`,
    );
  return {
    ...parsed,
    identity: {
      caPem,
      certPem: parsed.certificate,
      keyPem,
      ...(parsed.manager ? { caKeyPem: parsed.manager.caKey } : {}),
    },
  };
}

/** A new certificate (and key) for a node that holds a valid one. */
export async function requestRenewal(
  managerAddr: string,
  current: NodeIdentity,
  nodeId: string,
): Promise<NodeIdentity> {
  const keyPem = newPrivateKey();
  const publicKey = publicKeyOf(keyPem);
  const { status, body } = await call(
    managerAddr,
    'POST',
    '/skiff/renew',
    { publicKey, proof: signProof('renew', nodeId, publicKey, keyPem) },
    { ca: current.caPem, cert: current.certPem, key: current.keyPem },
  );
  const parsed = JSON.parse(body) as { certificate?: string; message?: string };
  if (status !== 200 || !parsed.certificate)
    throw new SkiffError('unauthorized', `renewal refused: ${parsed.message ?? status}`);
  return { ...current, certPem: parsed.certificate, keyPem };
}

/** For a promoted node holding a manager certificate: what it needs to run as a manager. */
export async function requestPromotion(
  managerAddr: string,
  current: NodeIdentity,
  o: { addr: string; raftAddr: string },
): Promise<JoinResponse & { identity: NodeIdentity }> {
  const { status, body } = await call(managerAddr, 'POST', '/skiff/promote', o, {
    ca: current.caPem,
    cert: current.certPem,
    key: current.keyPem,
  });
  const parsed = JSON.parse(body) as JoinResponse & { message?: string };
  if (status !== 200 || !parsed.manager)
    throw new SkiffError('unavailable', `promotion refused by ${managerAddr}: ${parsed.message ?? status}`);
  return {
    ...parsed,
    certificate: current.certPem,
    identity: { ...current, caKeyPem: parsed.manager.caKey },
  };
}

async function call(
  addr: string,
  method: string,
  path: string,
  payload: unknown,
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean },
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  const res = await nodeHttps({ addr, method, path, body: payload, tls, timeoutMs, peer: 'the manager' });
  return { status: res.status, body: res.body.toString('utf8') };
}
