import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Task } from '../../lib/index.js';
import { nodePeerAddr, peerExecPath, SkiffError } from '../../lib/index.js';
import { nodeHttps, nodeHttpsStream } from '../ca/index.js';
import type { ApiContext } from './context.js';

export interface ForwardOptions {
  /** This manager's certificate (manager role) and the cluster CA, to call the leader's API. */
  tls: { certPem: string; keyPem: string; caPem: string };
  timeoutMs?: number;
}

const FORWARDED = 'x-skiff-forwarded';
export const APPLIED_INDEX_HEADER = 'x-skiff-applied-index';
const WRITE_METHODS = new Set(['POST', 'PUT', 'DELETE']);
// Promotion needs the promoted node's own certificate: it goes straight to the leader.
// Served by the manager that receives them: its own certificate and membership, and
// what its node's agent does (exec in a task it runs, its image store, builds and volumes, its
// standalone containers, pruning its own disk).
const LOCAL_PATHS =
  /^\/(skiff\/renew|skiff\/promote|skiff\/system\/prune|swarm\/leave|tasks\/[^/?]+\/exec)(\?|$)|^\/(images|volumes|containers|exec|build)(\/|\?|$)/;

/** Whether a write is served here even on a follower (never forwarded to the leader). */
export function servedLocally(url: string): boolean {
  return LOCAL_PATHS.test(url);
}

/**
 * On a follower, writes go to the leader's API (over mTLS) and the answer comes back
 * unchanged; the follower then waits until it has applied the leader's index, so a
 * client reading right after its write sees it here too.
 */
export function registerWriteForwarding(app: FastifyInstance, ctx: ApiContext, fwd: ForwardOptions): void {
  app.addHook('preHandler', async (req, reply) => {
    // Renewal needs the caller's own certificate and writes nothing: any manager answers
    // it. Leaving is about the manager asked, not the leader.
    if (!WRITE_METHODS.has(req.method) || servedLocally(req.url) || ctx.replicator.isLeader()) return;
    if (req.headers[FORWARDED]) {
      throw new SkiffError(
        'not_leader',
        'this manager is not the leader either; the cluster is electing one',
        { hint: 'retry in a moment' },
      );
    }
    const leaderId = ctx.replicator.leaderId();
    const addr =
      (leaderId ? ctx.store.getNode(leaderId)?.ManagerStatus?.Addr : undefined) ||
      ctx.replicator.leaderAddr();
    if (!addr)
      throw new SkiffError('unavailable', 'no leader is elected right now, so writes cannot be made', {
        hint: 'retry in a moment',
      });
    const res = await send(addr, req.method, req.url, req.body, req.headers['x-registry-auth'], fwd);
    const index = Number(res.headers[APPLIED_INDEX_HEADER]);
    if (Number.isInteger(index) && index > 0) {
      try {
        await ctx.store.waitForIndex(index, fwd.timeoutMs ?? 5000);
      } catch {
        ctx.log.warn({ index, leader: addr }, 'forwarded write not applied here yet; answering anyway');
      }
    }
    const type = res.headers['content-type'];
    if (typeof type === 'string') reply.header('content-type', type);
    reply.status(res.status).send(res.body);
    return reply;
  });
}

/**
 * A log read on a follower that needs tasks of other nodes: only the leader's dispatcher
 * reaches every node's session, so the request goes to the leader and its stream comes
 * back as it is. Undefined when this manager serves it (the leader, or only its tasks).
 */
export async function forwardLogRead(
  ctx: ApiContext,
  tasks: readonly Task[],
  url: string,
  forwarded: boolean,
): Promise<{ status: number; contentType: string | undefined; stream: IncomingMessage } | undefined> {
  const fwd = ctx.forward;
  if (!fwd || !readNeedsLeader(ctx, tasks, forwarded)) return undefined;
  const addr = leaderForRead(ctx);
  return streamFrom(fwd, addr, 'the leader', { method: 'GET', url, headers: {} });
}

/**
 * An exec in a task of another node, sent there over mTLS with this manager's identity,
 * its body streamed while its answer streams back: to the node's peer endpoint (every
 * node serves one, workers too, and runs there only what a manager's certificate asks),
 * or, for a manager that recorded none (an older skiff), to its API.
 */
export async function forwardExec(
  ctx: ApiContext,
  nodeId: string,
  taskId: string,
  req: { headers: Record<string, string>; body: Readable },
): Promise<{ status: number; contentType: string | undefined; stream: IncomingMessage }> {
  const fwd = ctx.forward;
  const node = ctx.store.getNode(nodeId);
  const peerAddr = node ? nodePeerAddr(node) : undefined;
  const post = { method: 'POST', ...req };
  if (fwd && peerAddr) {
    return streamFrom(fwd, peerAddr, `node ${nodeId}`, { ...post, url: peerExecPath(taskId) }, nodeId);
  }
  const addr = node?.ManagerStatus?.Addr;
  if (!fwd || !addr) {
    throw new SkiffError(
      'unavailable',
      node
        ? `node ${nodeId} has not told the managers where it serves other nodes (its peer port, API port + 3, may be taken, or it runs an older skiff)`
        : `node ${nodeId} is not in the cluster`,
      { hint: 'its daemon log says why; `skiff --host unix://…` on that node reaches the task' },
    );
  }
  return streamFrom(fwd, addr, `node ${nodeId}`, {
    ...post,
    url: `/tasks/${encodeURIComponent(taskId)}/exec`,
  });
}

/**
 * One request to node `nodeId`'s peer endpoint over mTLS with this manager's identity
 * (`image push --to-cluster` has each node fetch an image), its answer streamed back.
 */
export async function forwardToNodePeer(
  ctx: ApiContext,
  nodeId: string,
  req: { method: string; url: string; headers: Record<string, string>; body?: Readable },
): Promise<{ status: number; contentType: string | undefined; stream: IncomingMessage }> {
  const node = ctx.store.getNode(nodeId);
  const peerAddr = node ? nodePeerAddr(node) : undefined;
  if (!ctx.forward || !peerAddr)
    throw new SkiffError(
      'unavailable',
      node
        ? `node ${nodeId} has not told the managers where it serves other nodes (its peer port, API port + 3, may be taken, or it runs an older skiff)`
        : `node ${nodeId} is not in the cluster`,
    );
  return streamFrom(ctx.forward, peerAddr, `node ${nodeId}`, req, nodeId);
}

type Forwarding = NonNullable<ApiContext['forward']>;

/** Whether a read of `tasks` on this manager must go to the leader (tasks of other nodes, on a follower). */
function readNeedsLeader(ctx: ApiContext, tasks: readonly Task[], forwarded: boolean): boolean {
  if (forwarded || ctx.replicator.isLeader()) return false;
  return tasks.some((t) => t.NodeID && t.NodeID !== ctx.info.nodeId);
}

/**
 * One request to another manager (or, with `serverNode`, to that node's peer endpoint)
 * over mTLS with this manager's identity, its answer streamed back.
 */
async function streamFrom(
  fwd: Forwarding,
  addr: string,
  peer: string,
  req: { method: string; url: string; headers: Record<string, string>; body?: Readable },
  serverNode?: string,
): Promise<{ status: number; contentType: string | undefined; stream: IncomingMessage }> {
  const res = await nodeHttpsStream({
    ...(serverNode ? { serverNode } : {}),
    addr,
    method: req.method,
    path: req.url,
    headers: { ...req.headers, [FORWARDED]: '1' },
    ...(req.body ? { body: req.body } : {}),
    tls: { ca: fwd.tls.caPem, cert: fwd.tls.certPem, key: fwd.tls.keyPem },
    timeoutMs: fwd.timeoutMs ?? 5000,
    peer,
  });
  const type = res.headers['content-type'];
  return {
    status: res.status || 502,
    contentType: typeof type === 'string' ? type : undefined,
    stream: res.stream,
  };
}

/**
 * A read of other nodes' task stats on a follower goes to the leader, whose dispatcher
 * reaches every node (as forwardLogRead); undefined when this manager serves it.
 */
export async function forwardStatsRead(
  ctx: ApiContext,
  tasks: readonly Task[],
  url: string,
  forwarded: boolean,
): Promise<{ status: number; body: Buffer } | undefined> {
  const fwd = ctx.forward;
  if (!fwd || !readNeedsLeader(ctx, tasks, forwarded)) return undefined;
  const addr = leaderForRead(ctx);
  const res = await nodeHttps({
    addr,
    method: 'GET',
    path: url,
    headers: { [FORWARDED]: '1' },
    tls: { ca: fwd.tls.caPem, cert: fwd.tls.certPem, key: fwd.tls.keyPem },
    timeoutMs: fwd.timeoutMs ?? 5000,
    peer: 'the leader',
  });
  return { status: res.status || 502, body: res.body };
}

function leaderForRead(ctx: ApiContext): string {
  const leaderId = ctx.replicator.leaderId();
  const addr =
    (leaderId ? ctx.store.getNode(leaderId)?.ManagerStatus?.Addr : undefined) || ctx.replicator.leaderAddr();
  if (!addr) {
    throw new SkiffError(
      'unavailable',
      'no leader is elected right now, so tasks on other nodes cannot be read',
      {
        hint: 'retry in a moment',
      },
    );
  }
  return addr;
}

/** Whether a request came from another manager forwarding it. */
export function isForwarded(headers: Record<string, unknown>): boolean {
  return headers[FORWARDED] !== undefined;
}

/** One call to another manager's API over mTLS with this manager's identity. */
export function callManager(
  addr: string,
  method: string,
  path: string,
  body: unknown,
  fwd: ForwardOptions,
): Promise<{ status: number; body: Buffer }> {
  return send(addr, method, path, body, undefined, fwd);
}

async function send(
  addr: string,
  method: string,
  path: string,
  body: unknown,
  registryAuth: string | string[] | undefined,
  fwd: ForwardOptions,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const res = await nodeHttps({
    addr,
    method,
    path,
    body,
    headers: {
      [FORWARDED]: '1',
      ...(typeof registryAuth === 'string' ? { 'x-registry-auth': registryAuth } : {}),
    },
    tls: { ca: fwd.tls.caPem, cert: fwd.tls.certPem, key: fwd.tls.keyPem },
    timeoutMs: fwd.timeoutMs ?? 5000,
    peer: 'the leader',
  });
  return { ...res, status: res.status || 502 };
}
