// Who a node certificate names: node ID in the CN, role in the OU, as Docker's swarm
// certificates have it. Shared by the manager's CA (which issues them and checks its
// peers) and the CLI (which checks that a remote API is served by a manager).
import type { PeerCertificate } from 'node:tls';
import { SkiffError } from './errors.js';

/** The role a node certificate grants. */
export type NodeRole = 'manager' | 'worker';

/** The OU of each role's certificate. */
export const ROLE_OU: Readonly<Record<NodeRole, string>> = {
  manager: 'swarm-manager',
  worker: 'swarm-worker',
};

/** The role an OU names, or undefined. */
export function roleOfOu(ou: string | undefined): NodeRole | undefined {
  return ou === ROLE_OU.manager ? 'manager' : ou === ROLE_OU.worker ? 'worker' : undefined;
}

/**
 * Who a TLS peer is by its certificate (after the handshake checked the CA): node ID and
 * role, or undefined when it is not a skiff node certificate.
 */
export function peerNode(cert: PeerCertificate | undefined): { nodeId: string; role: NodeRole } | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const nodeId = first(cert?.subject?.CN);
  const role = roleOfOu(first(cert?.subject?.OU));
  return nodeId && role ? { nodeId, role } : undefined;
}

/**
 * A TLS client's `checkServerIdentity` for calls to a manager: certificates name node
 * IDs, not hosts, so the CA alone was checked; this also requires the manager role, so
 * a worker's key (from the same CA) cannot pose as a manager to collect join tokens,
 * forwarded writes, another node's assignments or a CLI user's commands.
 */
export function requireManagerPeer(host: string, cert: PeerCertificate): Error | undefined {
  const peer = peerNode(cert);
  if (peer?.role === 'manager') return undefined;
  return new SkiffError(
    'unauthorized',
    peer
      ? `the peer at ${host || 'that address'} presents the certificate of ${peer.role} node ${peer.nodeId}, not a manager's: refusing to talk to it as a manager`
      : `the peer at ${host || 'that address'} presents no skiff node certificate: refusing to talk to it as a manager`,
    { hint: 'check the manager address; another node may be impersonating the manager' },
  );
}
