// A node's peer endpoint (API port + 3, HTTPS with the cluster's node certificates, on
// workers too): other nodes fetch images there, and managers run an exec in one of its
// tasks there. A node names it when it registers with the dispatcher (the `addr` of its
// held images); the dispatcher records it in the node's object so that every manager,
// not only the leader, can reach any node's tasks.
import type { Node } from './model/index.js';

/** The skiff extension in a Node's `Status` that holds its peer endpoint (host:port). */
export const NODE_PEER_ADDR_FIELD = 'x-skiff-peer-addr';

/** A Node's Status with the peer endpoint a registration recorded. */
export type NodeStatusWithPeer = Node['Status'] & { [NODE_PEER_ADDR_FIELD]?: string };

/** The node's peer endpoint, or undefined when it registered without one (older skiff, port taken). */
export function nodePeerAddr(node: Node): string | undefined {
  const v = (node.Status as NodeStatusWithPeer)[NODE_PEER_ADDR_FIELD];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * The peer endpoint a registration names, kept only on the node's own registered address
 * with a port: a node cannot send managers' exec streams to another host.
 */
export function registeredPeerAddr(addr: string, peer: string | undefined): string | undefined {
  if (typeof peer !== 'string' || peer.length > 300) return undefined;
  const i = peer.lastIndexOf(':');
  const port = Number(peer.slice(i + 1));
  if (i <= 0 || peer.slice(0, i) !== addr || !/^\d{1,5}$/.test(peer.slice(i + 1))) return undefined;
  return port >= 1 && port <= 65535 ? peer : undefined;
}

/** The path of an exec in task `id` on a node's peer endpoint (body and answer as `POST /tasks/{id}/exec`). */
export function peerExecPath(id: string): string {
  return `/skiff/peer/tasks/${encodeURIComponent(id)}/exec`;
}

/** The route the peer endpoint serves it on. */
export const PEER_EXEC_ROUTE = '/skiff/peer/tasks/:id/exec';

/** The route on a node's peer endpoint where a manager has the node fetch an image from its holders. */
export const PEER_IMAGE_FETCH_ROUTE = '/skiff/peer/images/fetch';
