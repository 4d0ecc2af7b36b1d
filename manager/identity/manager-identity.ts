// A manager's certificates on disk: its node identity (cluster CA, on the first start of
// a cluster a new root CA) and its raft identity (the managers-only raft CA).
import {
  createRootCa,
  issueNodeCertificate,
  type KeyFileSealer,
  type KeyPair,
  loadIdentity,
  loadRaftIdentity,
  type NodeIdentity,
  newPrivateKey,
  publicKeyOf,
  type RaftIdentity,
  saveIdentity,
  saveRaftIdentity,
} from '../ca/index.js';
import { newObjectId } from '../store/index.js';

/** The manager's certificates; on the first start of a cluster, a new root CA too. */
export async function loadOrCreateManagerIdentity(
  stateDir: string,
  nodeId: string,
  sealer?: KeyFileSealer,
): Promise<NodeIdentity> {
  const existing = await loadIdentity(stateDir, sealer);
  if (existing) return existing;
  const id = newObjectId();
  const ca = createRootCa({ clusterId: id });
  const keyPem = newPrivateKey();
  const certPem = issueNodeCertificate({
    ca,
    publicKeyPem: publicKeyOf(keyPem),
    nodeId,
    role: 'manager',
    clusterId: id,
    validForMs: 90 * 86_400_000,
  });
  const identity: NodeIdentity = { caPem: ca.certPem, caKeyPem: ca.keyPem, certPem, keyPem };
  await saveIdentity(stateDir, identity);
  return identity;
}

/** The raft CA and this manager's raft certificate; a new cluster makes the CA. */
export async function loadOrCreateRaftIdentity(
  stateDir: string,
  nodeId: string,
  clusterId: string,
  sealer?: KeyFileSealer,
): Promise<RaftIdentity> {
  const existing = await loadRaftIdentity(stateDir, sealer);
  if (existing) return existing;
  const identity = issueRaftIdentity(
    createRootCa({ clusterId, commonName: 'skiff-raft-ca' }),
    nodeId,
    clusterId,
  );
  await saveRaftIdentity(stateDir, identity);
  return identity;
}

export function issueRaftIdentity(ca: KeyPair, nodeId: string, clusterId: string): RaftIdentity {
  const keyPem = newPrivateKey();
  const certPem = issueNodeCertificate({
    ca,
    publicKeyPem: publicKeyOf(keyPem),
    nodeId,
    role: 'manager',
    clusterId,
    validForMs: 10 * 365 * 86_400_000,
  });
  return { caPem: ca.certPem, caKeyPem: ca.keyPem, certPem, keyPem };
}
