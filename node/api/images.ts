// Docker's image endpoints over this node's image store: list, inspect, remove, tag,
// prune, save and load (docker-archive and OCI layout tarballs), push (credentials in
// X-Registry-Auth, as docker sends them), import of a rootfs
// tarball (`POST /images/create?fromSrc=-`, docker import) and login checks
// (`POST /auth`). Pulls are POST /images/create?fromImage (pull.ts).
// Image names may hold slashes, so the routes under /images/ take the rest of the path.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { image, imagesInUse, type NodeAgent, pruneImages } from '../../agent/index.js';
import type { ImageInspect, ImageSummary, PruneImagesResult, PullMessage } from '../../lib/index.js';
import {
  decodeRegistryAuth,
  describeError,
  IMAGE_SIZE_HEADER,
  SkiffError,
  TARBALL_CONTENT_TYPE,
} from '../../lib/index.js';
import { STREAMED_BODY } from '../../manager/index.js';
import { filterValues, isTrue } from './filters.js';
import { pushMessages } from './progress.js';

export { TARBALL_CONTENT_TYPE };

function familiar(name: string): string {
  return image.familiarReference(image.parseReference(name));
}

function unixSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

/** Docker's ImageSummary. */
function summary(img: image.ImageRecord): ImageSummary {
  return {
    Id: img.id,
    ParentId: '',
    RepoTags: img.repoTags.map(familiar),
    RepoDigests: img.repoDigests,
    Created: unixSeconds(img.created),
    Size: img.size,
    SharedSize: -1,
    VirtualSize: img.size,
    Labels: img.config.config?.Labels ?? {},
    Containers: -1,
  };
}

/**
 * Docker's ImageInspect, plus what skiff keeps of an image: `Platform`, `Layers` (the
 * blobs), `Manifest` and the whole `ImageConfig`; docker's CLI prints them as they come.
 */
function inspectView(img: image.ImageRecord): ImageInspect {
  return {
    Id: img.id,
    RepoTags: img.repoTags.map(familiar),
    RepoDigests: img.repoDigests,
    Created: img.created,
    Size: img.size,
    Platform: image.formatPlatform(img.platform),
    Parent: '',
    Comment: '',
    DockerVersion: '',
    Author: '',
    Architecture: img.platform.architecture,
    Os: img.platform.os,
    ...(img.platform.variant ? { Variant: img.platform.variant } : {}),
    Config: img.config.config ?? {},
    GraphDriver: { Name: 'overlay2', Data: {} },
    RootFS: { Type: 'layers', Layers: img.layers.map((l) => l.diffId) },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
    Layers: img.layers,
    Manifest: { Digest: img.manifestDigest, MediaType: img.manifestMediaType, Index: img.indexDigest },
    ImageConfig: img.config,
  };
}

export function registerImageRoutes(app: FastifyInstance, agentOf: () => NodeAgent | undefined): void {
  const agent = () => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    return a;
  };
  // A tarball reaches the handler unread; it is streamed to a file.
  app.addContentTypeParser(TARBALL_CONTENT_TYPE, (_req, payload, done) => done(null, payload));

  app.get('/images/json', async () => {
    const list = await agent().images.refresh();
    return list.sort((a, b) => b.created.localeCompare(a.created)).map(summary);
  });

  app.post('/images/prune', async (req) => {
    // docker sends dangling=false for `prune -a`: every image no container uses.
    const all = filterValues(req.query, 'dangling').some((v) => v === 'false' || v === '0');
    const r = await pruneImages(agent(), all, familiar);
    const result: PruneImagesResult = {
      ImagesDeleted: r.deleted,
      SpaceReclaimed: r.bytesFreed,
      // skiff's own counts, for `skiff image prune`
      BlobsRemoved: r.blobsRemoved,
      SnapshotsRemoved: r.snapshotsRemoved,
    };
    return result;
  });

  // docker save: GET /images/get?names=A&names=B, or GET /images/{name}/get.
  app.get('/images/get', async (req, reply) => {
    const raw = (req.query as { names?: unknown }).names;
    const names = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
    return saveImages(agent(), names, reply);
  });

  app.post('/images/load', STREAMED_BODY, async (req, reply) => loadImages(agent(), req, reply));

  app.get('/images/*', async (req, reply) => {
    const { name, action } = splitImagePath(req);
    if (action === 'get') return saveImages(agent(), [name], reply);
    if (action !== 'json') throw new SkiffError('not_found', 'page not found');
    const img = await agent().images.lookup(name);
    if (!img) throw image.noSuchImage(name);
    return inspectView(img);
  });

  app.delete('/images/*', async (req) => {
    const { name, action } = splitImagePath(req);
    if (action !== undefined) throw new SkiffError('not_found', 'page not found');
    const force = isTrue((req.query as { force?: unknown }).force);
    const a = agent();
    const img = await a.images.lookup(name);
    if (img && !force && img.repoTags.length <= 1 && (await imagesInUse(a)).has(img.id)) {
      throw new SkiffError('conflict', `image ${name} is used by a container`, {
        hint: 'remove the container first, or use --force',
      });
    }
    const result = await a.images.remove(name, { force });
    return [
      ...result.untagged.map((t) => ({ Untagged: familiar(t) })),
      ...result.deleted.map((d) => ({ Deleted: d })),
    ];
  });

  app.post('/images/*', async (req, reply) => {
    const { name, action } = splitImagePath(req);
    if (action === 'tag') return tag(agent(), name, req, reply);
    if (action === 'push') return push(agent(), name, req, reply);
    throw new SkiffError('not_found', 'page not found');
  });

  app.post('/auth', async (req) => {
    const body = (req.body ?? {}) as { username?: unknown; password?: unknown; serveraddress?: unknown };
    if (typeof body.serveraddress !== 'string' || body.serveraddress === '')
      throw new SkiffError('invalid_argument', 'serveraddress is required: the registry to log in to');
    const username = typeof body.username === 'string' ? body.username : '';
    const password = typeof body.password === 'string' ? body.password : '';
    await agent().images.verifyLogin(body.serveraddress, username, password);
    return { Status: 'Login Succeeded', IdentityToken: '' };
  });
}

/**
 * `POST /images/create?fromSrc=-&repo=R[&tag=T][&changes=CMD [...]][&platform=P]`: the
 * request body is a rootfs tarball (plain, gzip or zstd), made a one-layer image.
 * Called by the /images/create route when the request has `fromSrc`.
 */
export async function importImage(
  req: FastifyRequest,
  reply: FastifyReply,
  agentOf: () => NodeAgent | undefined,
): Promise<FastifyReply> {
  const a = agentOf();
  if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
  const q = req.query as {
    fromSrc?: unknown;
    repo?: unknown;
    tag?: unknown;
    changes?: unknown;
    platform?: unknown;
  };
  if (q.fromSrc !== '-')
    throw new SkiffError('unsupported', 'import reads the tarball from the request body only (fromSrc=-)');
  if (typeof q.repo !== 'string' || q.repo === '')
    throw new SkiffError('invalid_argument', 'repo is required: the name of the imported image');
  const ref = typeof q.tag === 'string' && q.tag !== '' ? `${q.repo}:${q.tag}` : q.repo;
  const cmd = importChanges(q.changes);
  const platform =
    typeof q.platform === 'string' && q.platform !== '' ? image.parsePlatform(q.platform) : undefined;
  // Any label: the docker CLI sends it as application/json (the route takes bodies unread).
  if (!isStream(req.body)) throw new SkiffError('invalid_argument', 'send the tarball as the request body');
  const dir = join(a.images.opts.root, 'tmp');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `import-${randomBytes(6).toString('hex')}.tar`);
  try {
    await pipeline(req.body, createWriteStream(file, { mode: 0o600 }));
    const img = await a.images.importRootfs(file, ref, {
      ...(cmd ? { config: { Cmd: cmd } } : {}),
      ...(platform ? { platform } : {}),
    });
    return reply.header('content-type', 'application/json').send(`${JSON.stringify({ status: img.id })}\n`);
  } finally {
    await rm(file, { force: true });
  }
}

/** docker import's `changes`: only `CMD ["…"]` is supported. */
function importChanges(raw: unknown): string[] | undefined {
  const list = (Array.isArray(raw) ? raw : raw === undefined || raw === '' ? [] : [raw]).map(String);
  let cmd: string[] | undefined;
  for (const change of list) {
    const m = /^CMD\s+(.*)$/s.exec(change.trim());
    let parsed: unknown;
    try {
      parsed = m ? JSON.parse(m[1]!) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || !parsed.every((c) => typeof c === 'string'))
      throw new SkiffError('unsupported', `unsupported import change "${change}": only CMD ["…"] is`);
    cmd = parsed;
  }
  return cmd;
}

async function tag(a: NodeAgent, name: string, req: FastifyRequest, reply: FastifyReply) {
  const q = req.query as { repo?: unknown; tag?: unknown };
  if (typeof q.repo !== 'string' || q.repo === '')
    throw new SkiffError('invalid_argument', 'repo is required: the new name');
  const target = typeof q.tag === 'string' && q.tag !== '' ? `${q.repo}:${q.tag}` : q.repo;
  await a.images.tag(name, target);
  return reply.status(201).send();
}

async function push(a: NodeAgent, name: string, req: FastifyRequest, reply: FastifyReply) {
  const q = req.query as { tag?: unknown };
  const ref = typeof q.tag === 'string' && q.tag !== '' ? `${name}:${q.tag}` : name;
  const header = req.headers['x-registry-auth'];
  const credentials = decodeRegistryAuth(typeof header === 'string' ? header : undefined);
  if (!image.parseReference(ref).tag) throw new SkiffError('invalid_argument', `push needs a tag: ${ref}`);
  if (!(await a.images.lookup(ref)))
    throw image.noSuchImage(ref, `tag the image with \`skiff image tag SOURCE ${ref}\` first`);
  const out = new PassThrough();
  const send = (m: PullMessage) => out.write(`${JSON.stringify(m)}\n`);
  void (async () => {
    try {
      send({
        status: `The push refers to repository [${image.repositoryName(image.parseReference(ref))}]`,
      });
      const { digest } = await a.images.push(ref, {
        onProgress: (e) => {
          for (const m of pushMessages(e)) send(m);
        },
        ...(credentials ? { credentials } : {}),
      });
      send({ aux: { Tag: image.parseReference(ref).tag ?? '', Digest: digest } });
    } catch (e) {
      const message = describeError(e);
      send({ error: message, errorDetail: { message } });
    } finally {
      out.end();
    }
  })();
  return reply.header('content-type', 'application/json').send(out);
}

/** The images `names` ask for as one tarball (docker-archive and OCI layout; agent/image/archive-save.ts). */
async function saveImages(a: NodeAgent, names: string[], reply: FastifyReply): Promise<FastifyReply> {
  const { stream, release, size } = await a.images.save(names);
  // A reader that goes away early leaves no scratch directory behind.
  reply.raw.once('close', release);
  if (size !== undefined) reply.header(IMAGE_SIZE_HEADER, String(size));
  return reply.header('content-type', TARBALL_CONTENT_TYPE).send(stream);
}

/**
 * `POST /images/load[?quiet=1]`: the images of a docker-archive or OCI layout tarball
 * (plain or gzip'd) into the node's store. Every image is checked before any is stored,
 * so a bad tarball is a 400 that names what is wrong; the answer is dockerd's JSON
 * message stream (a "Loading layer" line per layer unless quiet, then "Loaded image: NAME"
 * per tag or "Loaded image ID: ID" for an untagged image).
 */
async function loadImages(a: NodeAgent, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (!isStream(req.body))
    throw new SkiffError('invalid_argument', `send the tarball as ${TARBALL_CONTENT_TYPE}`);
  const quiet = isTrue((req.query as { quiet?: unknown }).quiet);
  const dir = join(a.images.opts.root, 'tmp');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `load-${randomBytes(6).toString('hex')}.tar`);
  const lines: string[] = [];
  const send = (m: object) => lines.push(`${JSON.stringify(m)}\n`);
  try {
    await pipeline(req.body, createWriteStream(file, { mode: 0o600 }));
    const loaded = await a.images.load(file, (e) => {
      if (e.type === 'retagged') {
        send({
          stream: `The image ${familiar(e.tag)} already exists, renaming the old one with ID ${e.previousId} to empty string\n`,
        });
      } else if (!quiet) {
        const size = formatSize(e.size);
        send({
          status: 'Loading layer',
          progressDetail: { current: e.size, total: e.size },
          progress: `[${'='.repeat(49)}>]  ${size}/${size}`,
          id: image.shortId(e.chainId),
        });
      }
    });
    for (const img of loaded) {
      if (img.tags.length === 0) send({ stream: `Loaded image ID: ${img.id}\n` });
      for (const t of img.tags) send({ stream: `Loaded image: ${familiar(t)}\n` });
    }
  } finally {
    // Gone before the answer: a client that looks right after it finds nothing left.
    await rm(file, { force: true });
  }
  // Exactly `application/json` (a string would get a charset): the docker CLI renders
  // the messages only then, and prints the raw JSON otherwise.
  return reply.header('content-type', 'application/json').send(Buffer.from(lines.join('')));
}

/** Docker's progress sizes (decimal units, as go-units' HumanSize). */
function formatSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** `/images/<name>[/<action>]`: the name may hold slashes, the action is the last part. */
function splitImagePath(req: FastifyRequest): { name: string; action: string | undefined } {
  const rest = (req.params as { '*': string })['*'];
  for (const action of ['json', 'tag', 'push', 'history', 'get']) {
    if (rest.endsWith(`/${action}`)) return { name: rest.slice(0, -action.length - 1), action };
  }
  return { name: rest, action: undefined };
}

function isStream(body: unknown): body is Readable {
  return typeof body === 'object' && body !== null && typeof (body as Readable).pipe === 'function';
}
