// `POST /images/create?fromImage=REF[&tag=T]`: pulls an image into this node's store,
// answering with Docker's progress messages as JSON lines (so `docker pull` reads them
// too); a failure after the first line is an `error` message, as Docker sends it.
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { image, NodeAgent } from '../../agent/index.js';
import { describeError, type PullMessage, SkiffError } from '../../lib/index.js';
import type { ApiContext } from '../../manager/index.js';

export function registerPullRoute(
  app: FastifyInstance,
  ctx: ApiContext,
  agentOf: () => NodeAgent | undefined,
): void {
  app.post('/images/create', async (req, reply) => {
    const q = req.query as { fromImage?: unknown; tag?: unknown };
    if (typeof q.fromImage !== 'string' || q.fromImage === '')
      throw new SkiffError('invalid_argument', 'fromImage is required: the image to pull');
    const tag = typeof q.tag === 'string' && q.tag !== '' ? q.tag : undefined;
    const ref = tag ? `${q.fromImage}${tag.startsWith('sha256:') ? '@' : ':'}${tag}` : q.fromImage;
    const agent = agentOf();
    if (!agent) throw new SkiffError('unavailable', 'the node agent is still starting');
    const out = new PassThrough();
    const send = (m: PullMessage) => out.write(`${JSON.stringify(m)}\n`);
    void (async () => {
      try {
        const record = await agent.images.pull(ref, {
          onProgress: (e) => {
            for (const m of pullMessages(e)) send(m);
          },
        });
        const digest = record.repoDigests[0]?.split('@')[1] ?? record.manifestDigest;
        send({ status: `Digest: ${digest}` });
        send({ status: `Status: Image is up to date for ${ref}` });
        ctx.log.info({ ref, id: record.id }, 'image pulled through the API');
      } catch (e) {
        const message = describeError(e);
        send({ error: message, errorDetail: { message } });
      } finally {
        out.end();
      }
    })();
    return reply.header('content-type', 'application/json').send(out);
  });
}

const LAYER_STATUS: Record<string, string> = {
  exists: 'Already exists',
  waiting: 'Waiting',
  downloading: 'Downloading',
  verifying: 'Verifying Checksum',
  done: 'Download complete',
};

/** Docker's progress messages for one of the image service's pull events. */
export function pullMessages(e: image.PullEvent): PullMessage[] {
  switch (e.type) {
    case 'resolved':
      return [
        { status: `Pulling from ${e.ref}` },
        ...e.layers.map((l) => ({
          status: 'Waiting',
          id: shortDigest(l.digest),
          progressDetail: { current: 0, total: l.size },
        })),
      ];
    case 'layer':
      return [
        {
          status: LAYER_STATUS[e.status] ?? e.status,
          id: shortDigest(e.digest),
          progressDetail: { current: e.current, total: e.total },
        },
      ];
    case 'unpacking':
      return [{ status: 'Extracting' }];
    case 'done':
      return [];
  }
}

function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}
