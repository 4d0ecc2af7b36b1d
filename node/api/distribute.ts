// `image push --to-cluster` seeding every node: once the image is on the node serving
// the API, `POST /skiff/images/distribute` has each chosen node fetch it, in parallel,
// from the nodes holding it (the registry-less pull of agent/image/peer.ts: only the
// blobs it lacks, checked by digest), each asked on its peer endpoint by this manager
// (`PEER_IMAGE_FETCH_ROUTE`, manager certificates only). The answer streams one JSON
// line per node event (lib/image-protocol.ts `DistributeMessage`).

import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { image, NodeAgent } from '../../agent/index.js';
import {
  type DistributeEvent,
  type DistributeMessage,
  describeError,
  type Logger,
  type Node,
  PEER_IMAGE_FETCH_ROUTE,
  peerNode,
  SkiffError,
} from '../../lib/index.js';
import { type ApiContext, forwardToNodePeer } from '../../manager/index.js';

/** Reads `{ ref }`: an image pinned by digest. */
function pinned(body: unknown): { ref: string; digest: string } {
  const ref = (body as { ref?: unknown } | undefined)?.ref;
  const at = typeof ref === 'string' ? ref.lastIndexOf('@') : -1;
  const digest = typeof ref === 'string' ? ref.slice(at + 1) : '';
  if (typeof ref !== 'string' || at < 0 || !/^sha256:[a-f0-9]{64}$/.test(digest))
    throw new SkiffError('invalid_argument', 'ref must be an image pinned by digest (name@sha256:…)');
  return { ref, digest };
}

/** Runs the fetch on this node's agent, its progress as DistributeEvents (throttled). */
async function fetchHere(
  agent: NodeAgent | undefined,
  ref: string,
  digest: string,
  send: (e: DistributeEvent) => void,
): Promise<void> {
  if (!agent) throw new SkiffError('unavailable', 'the node agent is still starting');
  const layers = new Map<string, { current: number; total: number }>();
  let last = 0;
  const progress = (e: image.PullEvent) => {
    if (e.type !== 'layer') return;
    if (e.status === 'exists') layers.delete(e.digest);
    else layers.set(e.digest, { current: e.current, total: e.total });
    const now = Date.now();
    if (now - last < 250 && e.status !== 'done') return;
    last = now;
    let current = 0;
    let total = 0;
    for (const l of layers.values()) {
      current += l.current;
      total += l.total;
    }
    send({ status: 'fetching', current, total });
  };
  const { fetched } = await agent.fetchFromCluster(ref, digest, progress);
  send({ status: 'done', fetched });
}

/** The manager API's route: fans the fetch out to the chosen nodes. */
export function registerDistributeRoute(
  app: FastifyInstance,
  ctx: ApiContext,
  agentOf: () => NodeAgent | undefined,
): void {
  app.post('/skiff/images/distribute', async (req, reply) => {
    const { ref, digest } = pinned(req.body);
    const wanted = (req.body as { nodes?: unknown }).nodes;
    if (wanted !== undefined && (!Array.isArray(wanted) || wanted.some((n) => typeof n !== 'string')))
      throw new SkiffError('invalid_argument', 'nodes must be a list of node IDs or hostnames');
    const agent = agentOf();
    if (!agent || !(await agent.images.lookup(ref)))
      throw new SkiffError('not_found', `this node (${ctx.info.nodeId}) does not hold ${ref}`, {
        hint: 'load it here first (image push --to-cluster does)',
      });
    const nodes = chooseNodes(ctx.store.listNodes(), (wanted as string[] | undefined) ?? []);
    const out = new PassThrough();
    const send = (n: Node, e: DistributeEvent) => {
      const m: DistributeMessage = { node: n.ID, hostname: n.Description?.Hostname ?? '', ...e };
      out.write(`${JSON.stringify(m)}\n`);
    };
    const started = Date.now();
    void Promise.all(
      nodes.map(async (n) => {
        try {
          if (n.ID === ctx.info.nodeId) await fetchHere(agent, ref, digest, (e) => send(n, e));
          else await fetchOn(ctx, n, ref, (e) => send(n, e));
        } catch (e) {
          send(n, { status: 'failed', error: describeError(e) });
        }
      }),
    ).finally(() => {
      ctx.log.info({ image: ref, nodes: nodes.length, ms: Date.now() - started }, 'image distributed');
      out.end();
    });
    return reply.header('content-type', 'application/json').send(out);
  });
}

/** The nodes named (ID, unique ID prefix or hostname), or every ready node. */
export function chooseNodes(all: readonly Node[], names: readonly string[]): Node[] {
  if (names.length === 0) return all.filter((n) => n.Status.State === 'ready');
  const out = new Map<string, Node>();
  for (const name of names) {
    const exact = all.filter((n) => n.ID === name || n.Description?.Hostname === name);
    const found = exact.length > 0 ? exact : all.filter((n) => n.ID.startsWith(name));
    if (found.length === 0) throw new SkiffError('not_found', `no such node: ${name}`);
    if (found.length > 1)
      throw new SkiffError('invalid_argument', `node name ${name} is ambiguous`, {
        hint: `it matches ${found.map((n) => n.ID.slice(0, 12)).join(', ')}`,
      });
    out.set(found[0]!.ID, found[0]!);
  }
  return [...out.values()];
}

/** Has node `n` fetch the image, relaying its lines. */
async function fetchOn(ctx: ApiContext, n: Node, ref: string, send: (e: DistributeEvent) => void) {
  if (n.Status.State !== 'ready') throw new SkiffError('unavailable', `node is ${n.Status.State}`);
  const res = await forwardToNodePeer(ctx, n.ID, {
    method: 'POST',
    url: PEER_IMAGE_FETCH_ROUTE,
    headers: { 'content-type': 'application/json' },
    body: passThroughOf(JSON.stringify({ ref })),
  });
  if (res.status >= 400) {
    let text = '';
    for await (const c of res.stream) text += String(c);
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON: the text as it is
    }
    throw new SkiffError('unavailable', message || `status ${res.status}`);
  }
  let ended = false;
  for await (const line of createInterface({ input: res.stream })) {
    if (line.trim() === '') continue;
    const e = JSON.parse(line) as DistributeEvent;
    if (e.status === 'done' || e.status === 'failed') ended = true;
    send(e);
  }
  if (!ended) throw new SkiffError('unavailable', 'the node ended its answer before the fetch did');
}

function passThroughOf(text: string): PassThrough {
  const p = new PassThrough();
  p.end(text);
  return p;
}

/**
 * The peer endpoint's route (on the app of `peerExecApi`, whose hook admits managers
 * only): this node fetches the image from its holders and streams its progress.
 */
export function registerPeerFetchRoute(
  app: FastifyInstance,
  agentOf: () => NodeAgent | undefined,
  log: Logger,
): void {
  app.post(PEER_IMAGE_FETCH_ROUTE, async (req, reply) => {
    const { ref, digest } = pinned(req.body);
    const out = new PassThrough();
    const send = (e: DistributeEvent) => out.write(`${JSON.stringify(e)}\n`);
    log.info(
      { image: ref, manager: peerNode((req.raw.socket as TLSSocket).getPeerCertificate?.())?.nodeId },
      'image fetch for a manager',
    );
    void fetchHere(agentOf(), ref, digest, send)
      .catch((e: unknown) => send({ status: 'failed', error: describeError(e) }))
      .finally(() => out.end());
    return reply.header('content-type', 'application/json').send(out);
  });
}
