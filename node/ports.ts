// A cluster node's ports: the API on P (2377 by default), raft on P+1, the dispatcher on P+2,
// and on every node (workers too) the peer endpoint other nodes fetch images from on P+3.

export const DEFAULT_PORT = 2377;

/** A manager's dispatcher address from its API address: API port + 2. */
export function dispatcherAddr(apiAddr: string): string {
  const i = apiAddr.lastIndexOf(':');
  const port = Number(apiAddr.slice(i + 1));
  return `${apiAddr.slice(0, i)}:${port + 2}`;
}

/** The port of a node's peer endpoint (images for other nodes) from its API port. */
export function peerPort(apiPort: number): number {
  return apiPort + 3;
}
