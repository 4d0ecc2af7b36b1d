// Leaving a cluster (`skiff cluster leave`, Docker's `/swarm/leave`): the node removes
// its tasks' containers, stops, and forgets its cluster state (identity, raft, keys);
// images and volumes stay. A manager first checks that the managers left keep a raft
// quorum, as Docker does, unless forced.

import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import type { Logger, Node } from '../../lib/index.js';
import { httpStatusFor, isSkiffError, SkiffError } from '../../lib/index.js';
import type { NodeLocalHandler } from '../../node/api/index.js';

/** What makes a state directory part of a cluster. */
const CLUSTER_STATE = ['certs', 'raft', 'node-id', 'secrets.key', 'secrets.key.locked', 'worker.json'];

export async function removeClusterState(stateDir: string): Promise<void> {
  for (const f of CLUSTER_STATE) await rm(join(stateDir, f), { recursive: true, force: true });
}

/**
 * Docker's rule: a manager may leave without --force unless the managers that stay
 * reachable would be no majority of the raft group. A manager is unreachable when its
 * node is down (its agent stopped heartbeating).
 */
export function quorumRefusal(members: string[], nodes: Node[], self: string): SkiffError | undefined {
  const down = new Set(nodes.filter((n) => n.Status.State === 'down').map((n) => n.ID));
  const reachable = members.filter((id) => !down.has(id)).length;
  const unreachable = members.length - reachable;
  const base = 'You are attempting to leave the cluster on a node that is participating as a manager. ';
  if (!members.includes(self)) return undefined;
  if (members.length === 1) {
    return new SkiffError(
      'unavailable',
      `${base}Removing the last manager erases all current state of the cluster.`,
      { hint: 'use --force to leave anyway' },
    );
  }
  if (reachable - 1 <= unreachable) {
    return new SkiffError(
      'unavailable',
      `${base}Removing this node leaves ${reachable - 1} managers out of ${members.length}. ` +
        'Without a raft quorum the cluster will be inaccessible.',
      { hint: 'bring the other managers back first, or use --force to leave anyway' },
    );
  }
  return undefined;
}

/**
 * A worker's own API on the node's unix socket: Docker serves `/swarm/leave` on every
 * node, and `skiff daemon status` pings it. The cluster API itself is on the managers.
 */
export async function serveWorkerControl(
  socketPath: string,
  leave: (opts: { force: boolean }) => Promise<void>,
  log: Logger,
  /** The node-local image and volume endpoints (node/api). */
  local?: { handle: NodeLocalHandler; serves(path: string): boolean },
): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://node');
    const path = url.pathname.replace(/^\/v\d+\.\d+(?=\/)/, '');
    const reply = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (path === '/_ping' && (req.method === 'GET' || req.method === 'HEAD')) {
      reply(200, 'OK', 'text/plain');
      return;
    }
    if (path === '/swarm/leave' && req.method === 'POST') {
      const force = ['1', 'true'].includes(url.searchParams.get('force') ?? '');
      leave({ force }).then(
        () => reply(200, ''),
        (err: unknown) => {
          log.error({ err: String(err) }, 'leaving the cluster failed');
          const status = isSkiffError(err) ? httpStatusFor(err.code) : 500;
          reply(status, JSON.stringify({ message: err instanceof Error ? err.message : String(err) }));
        },
      );
      return;
    }
    if (local?.serves(path)) {
      local.handle(req, res);
      return;
    }
    reply(
      503,
      JSON.stringify({
        message:
          'this node is a worker: the cluster API is served by the managers (skiff -H tcp://MANAGER:2377)',
      }),
    );
  });
  await listenUnixServer(server, socketPath);
  return server;
}

async function listenUnixServer(server: Server, socketPath: string): Promise<void> {
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  await rm(socketPath, { force: true }); // a stale socket from a previous run
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
}
