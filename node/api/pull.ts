// `POST /images/create?fromImage=REF[&tag=T]`: pulls an image into this node's store,
// answering with Docker's progress messages as JSON lines (so `docker pull` reads them
// too); a failure after the first line is an `error` message, as Docker sends it.
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { image, type NodeAgent } from '../../agent/index.js';
import { describeError, type PullMessage, SkiffError } from '../../lib/index.js';
import { type ApiContext, STREAMED_BODY } from '../../manager/index.js';
import { importImage } from './images.js';
import { pullMessages } from './progress.js';

export function registerPullRoute(
  app: FastifyInstance,
  ctx: Pick<ApiContext, 'log'>,
  agentOf: () => NodeAgent | undefined,
): void {
  // `docker import` labels the tarball it sends application/json (dockerd reads it as the
  // tarball whatever its label): this route takes any body unread, in a scope of its own.
  // A pull reads only its query.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    registerCreateRoute(scope, ctx, agentOf);
  });
}

function registerCreateRoute(
  app: FastifyInstance,
  ctx: Pick<ApiContext, 'log'>,
  agentOf: () => NodeAgent | undefined,
): void {
  app.post('/images/create', STREAMED_BODY, async (req, reply) => {
    if ((req.query as { fromSrc?: unknown }).fromSrc !== undefined) return importImage(req, reply, agentOf);
    // A pull's body, if any, is not read: drained so the connection can go on.
    (req.body as { resume?: () => void } | undefined)?.resume?.();
    const q = req.query as { fromImage?: unknown; tag?: unknown; platform?: unknown };
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
          ...(typeof q.platform === 'string' && q.platform !== ''
            ? { platform: image.parsePlatform(q.platform) }
            : {}),
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
