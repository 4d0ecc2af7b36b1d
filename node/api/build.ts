// Docker's `POST /build` (the classic builder's API): the body is the build context as
// a tar (plain or gzip), unpacked into a private directory under the node's state dir;
// the build runs on this node's builder (buildah) and lands in its image store. Output
// is Docker's JSON message stream — `{"stream"}` lines, `{"aux":{"ID"}}` with the image
// ID, a failure as `{"errorDetail"}` — which `docker build` (DOCKER_BUILDKIT=0) and
// `skiff compose build` print. What the builder does not honour is refused by name;
// BuildKit's session API (`version=2`, `docker buildx`) is refused with how to get the
// classic builder.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { appendFile, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import type { build as agentBuild, NodeAgent } from '../../agent/index.js';
import {
  BUILD_CREDENTIALS_MAX_BYTES,
  BUILD_CREDENTIALS_PARAM,
  BUILD_SECRET_ID,
  type BuildCredentials,
  describeError,
  type Logger,
  SkiffError,
} from '../../lib/index.js';
import { STREAMED_BODY } from '../../manager/index.js';
import { isTrue } from './filters.js';

type Query = Record<string, unknown>;

/** What `POST /build` honours, read from Docker's query parameters. */
export interface BuildRequest {
  tags: string[];
  dockerfile?: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  quiet: boolean;
  /** The length of the secrets block that opens the body (skiff's CLI; lib/build-protocol.ts), 0 if none. */
  credentialsBytes: number;
}

/**
 * Docker's parameters that skiff's builder does not honour, with the value docker's CLI
 * sends when the user did not ask for them (those pass).
 */
const UNHONOURED: Readonly<Record<string, readonly string[]>> = {
  remote: [''],
  extrahosts: ['', '[]', 'null'],
  cachefrom: ['', '[]', 'null'],
  cpusetcpus: [''],
  cpusetmems: [''],
  cpushares: ['', '0'],
  cpuquota: ['', '0'],
  cpuperiod: ['', '0'],
  memory: ['', '0'],
  memswap: ['', '0'],
  cgroupparent: [''],
  shmsize: ['', '0'],
  squash: ['', '0', 'false'],
  ulimits: ['', '[]', 'null'],
  isolation: ['', 'default'],
  platform: [''],
  outputs: ['', '[]', 'null'],
  session: [''],
  buildid: [''],
  securityopt: ['', '[]', 'null'],
};

/** Reads and checks Docker's build parameters; refuses, by name, those skiff does not honour. */
export function parseBuildQuery(q: Query): BuildRequest {
  const version = one(q, 'version');
  if (version !== undefined && version !== '' && version !== '1') {
    throw new SkiffError(
      'unsupported',
      'BuildKit builds (version=2, docker buildx) are not supported by skiff',
      {
        hint: 'use the classic builder: DOCKER_BUILDKIT=0 docker build …, or skiff compose build',
      },
    );
  }
  for (const [name, passing] of Object.entries(UNHONOURED)) {
    for (const v of all(q, name)) {
      if (!passing.includes(v))
        throw new SkiffError('unsupported', `docker build's "${name}" is not supported by skiff`);
    }
  }
  const network = one(q, 'networkmode');
  if (network !== undefined && !['', 'default', 'host'].includes(network)) {
    throw new SkiffError(
      'unsupported',
      `build network "${network}" is not supported: build steps use the host's network`,
    );
  }
  const dockerfile = one(q, 'dockerfile');
  const target = one(q, 'target');
  const credentials = one(q, BUILD_CREDENTIALS_PARAM) ?? '0';
  const credentialsBytes = /^\d{1,9}$/.test(credentials) ? Number(credentials) : Number.NaN;
  if (!(credentialsBytes <= BUILD_CREDENTIALS_MAX_BYTES))
    throw new SkiffError(
      'invalid_argument',
      `${BUILD_CREDENTIALS_PARAM} must be a byte count of at most ${BUILD_CREDENTIALS_MAX_BYTES}`,
    );
  return {
    tags: all(q, 't').filter((t) => t !== ''),
    ...(dockerfile ? { dockerfile } : {}),
    buildArgs: jsonMap(one(q, 'buildargs'), 'buildargs'),
    labels: jsonMap(one(q, 'labels'), 'labels'),
    ...(target ? { target } : {}),
    noCache: isTrue(one(q, 'nocache')),
    pull: isTrue(one(q, 'pull')),
    quiet: isTrue(one(q, 'q')),
    credentialsBytes,
  };
}

function all(q: Query, name: string): string[] {
  const v = q[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function one(q: Query, name: string): string | undefined {
  return all(q, name).pop();
}

/** buildargs/labels: a JSON object of strings (a null value — an arg named without a value — is left out). */
function jsonMap(raw: string | undefined, name: string): Record<string, string> {
  if (raw === undefined || raw === '' || raw === 'null') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new SkiffError('invalid_argument', `${name} is not JSON: ${raw}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new SkiffError('invalid_argument', `${name} must be a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v === null) continue;
    if (typeof v !== 'string') throw new SkiffError('invalid_argument', `${name}.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

export function registerBuildRoute(
  app: FastifyInstance,
  agentOf: () => NodeAgent | undefined,
  log: Logger,
): void {
  app.post('/build', STREAMED_BODY, async (req, reply) => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    const request = parseBuildQuery(req.query as Query);
    if (!isStream(req.body))
      throw new SkiffError('invalid_argument', 'send the build context as a tar (application/x-tar)');
    const context = join(a.images.opts.root, 'tmp', `context-${randomBytes(6).toString('hex')}`);
    await mkdir(context, { recursive: true, mode: 0o700 });
    const out = new PassThrough();
    const send = (m: object) => out.write(`${JSON.stringify(m)}\n`);
    const abort = new AbortController();
    req.raw.socket.on('close', () => abort.abort());
    // Over the node's unix socket the CLI is on this machine: an ssh-agent socket path it names is its own.
    const local = req.raw.socket.remoteAddress === undefined;
    void (async () => {
      try {
        let body = req.body as Readable;
        let credentials: BuildSecrets = {};
        if (request.credentialsBytes > 0) {
          const split = await splitHead(body, request.credentialsBytes);
          credentials = parseCredentials(split.head, local);
          split.head.fill(0);
          body = split.rest;
        }
        await unpackContext(body, context);
        const record = await a.builder.build({
          ...credentials,
          context,
          tags: request.tags,
          ...(request.dockerfile ? { dockerfile: request.dockerfile } : {}),
          buildArgs: request.buildArgs,
          labels: request.labels,
          ...(request.target ? { target: request.target } : {}),
          noCache: request.noCache,
          pull: request.pull,
          quiet: request.quiet,
          onOutput: (line) => send({ stream: `${line}\n` }),
          signal: abort.signal,
        });
        send({ aux: { ID: record.id } });
        // docker build -q prints what the stream says: the image ID alone.
        if (request.quiet) send({ stream: `${record.id}\n` });
        else {
          send({ stream: `Successfully built ${record.id.slice(7, 19)}\n` });
          for (const t of request.tags) send({ stream: `Successfully tagged ${t}\n` });
        }
      } catch (e) {
        const message = describeError(e);
        log.warn({ err: e, tags: request.tags }, 'build failed');
        send({ errorDetail: { message }, error: message });
      } finally {
        out.end();
        await rm(context, { recursive: true, force: true }).catch(() => undefined);
      }
    })();
    return reply.header('content-type', 'application/json').send(out);
  });
}

/**
 * Unpacks the client's context (tar, gzip'd or not; node-tar tells them apart): no
 * absolute paths, no `..`, no writes through links (node-tar's defaults), owners not
 * kept — COPY sets its own. The body is saved to a file first and unpacked from it
 * (streaming it straight into node-tar's extractor sometimes never finished). docker's
 * CLI sends a context whose last entry lacks its padding and the end-of-archive blocks
 * when it adds a Dockerfile read from stdin (dockerd's reader stops at the end of the
 * data): a plain tar is padded to whole blocks and ended with two zero blocks, which a
 * complete archive ignores.
 */
async function unpackContext(body: Readable, dir: string): Promise<void> {
  const file = `${dir}.tar`;
  // node-tar loads with the first build, not with every node start.
  const { extract } = await import('tar');
  try {
    await pipeline(body, createWriteStream(file, { mode: 0o600 }));
    const head = Buffer.alloc(2);
    const fh = await open(file, 'r');
    let size: number;
    try {
      await fh.read(head, 0, 2, 0);
      size = (await fh.stat()).size;
    } finally {
      await fh.close();
    }
    if (!(head[0] === 0x1f && head[1] === 0x8b))
      await appendFile(file, Buffer.alloc(((512 - (size % 512)) % 512) + 1024));
    await extract({ file, cwd: dir, preserveOwner: false, strict: true });
  } catch (e) {
    throw new SkiffError('invalid_argument', `the build context is not a valid tar: ${(e as Error).message}`);
  } finally {
    await rm(file, { force: true });
  }
}

type BuildSecrets = Pick<agentBuild.BuildOptions, 'secrets' | 'ssh'>;

/** The credentials block: checked ids, values decoded; never logged nor echoed. */
export function parseCredentials(head: Buffer, local: boolean): BuildSecrets {
  let raw: BuildCredentials;
  try {
    raw = JSON.parse(head.toString('utf8')) as BuildCredentials;
  } catch {
    throw new SkiffError('invalid_argument', 'the build credentials block is not JSON');
  }
  if (typeof raw !== 'object' || raw === null)
    throw new SkiffError('invalid_argument', 'the build credentials block must be an object');
  const secrets: { id: string; data: Buffer }[] = [];
  const ssh: ({ id: string; key: Buffer } | { id: string; socket: string })[] = [];
  const id = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || !BUILD_SECRET_ID.test(v))
      throw new SkiffError('invalid_argument', `build ${what} id ${JSON.stringify(v)} is not valid`);
    return v;
  };
  const seen = new Set<string>();
  for (const s of Array.isArray(raw.secrets) ? raw.secrets : []) {
    const sid = id(s?.id, 'secret');
    if (seen.has(sid)) throw new SkiffError('invalid_argument', `build secret "${sid}" is given twice`);
    seen.add(sid);
    if (typeof s.data !== 'string')
      throw new SkiffError('invalid_argument', `build secret "${sid}" has no data`);
    secrets.push({ id: sid, data: Buffer.from(s.data, 'base64') });
  }
  seen.clear();
  for (const s of Array.isArray(raw.ssh) ? raw.ssh : []) {
    const sid = id(s?.id, 'ssh');
    if (seen.has(sid)) throw new SkiffError('invalid_argument', `build ssh "${sid}" is given twice`);
    seen.add(sid);
    if ('key' in s && typeof s.key === 'string') ssh.push({ id: sid, key: Buffer.from(s.key, 'base64') });
    else if ('socket' in s && typeof s.socket === 'string') {
      if (!local)
        throw new SkiffError(
          'unsupported',
          `build ssh "${sid}" names an ssh-agent socket, which only a client on the node's own machine can`,
          { hint: 'send a private key instead' },
        );
      ssh.push({ id: sid, socket: s.socket });
    } else throw new SkiffError('invalid_argument', `build ssh "${sid}" has neither a key nor a socket`);
  }
  return { ...(secrets.length ? { secrets } : {}), ...(ssh.length ? { ssh } : {}) };
}

/** Reads the first `n` bytes of `body` into memory; the rest streams on. */
function splitHead(body: Readable, n: number): Promise<{ head: Buffer; rest: Readable }> {
  return new Promise((resolveSplit, reject) => {
    const head = Buffer.alloc(n);
    let got = 0;
    const fail = (e: Error) => {
      cleanup();
      reject(e);
    };
    const ended = () =>
      fail(new SkiffError('invalid_argument', 'the build request ended inside its credentials block'));
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', ended);
      body.off('error', fail);
    };
    const onData = (chunk: Buffer) => {
      const take = Math.min(n - got, chunk.length);
      chunk.copy(head, got, 0, take);
      got += take;
      if (got < n) return;
      cleanup();
      body.pause();
      const rest = new PassThrough();
      if (take < chunk.length) rest.write(chunk.subarray(take));
      body.pipe(rest);
      body.on('error', (e) => rest.destroy(e));
      resolveSplit({ head, rest });
    };
    body.on('data', onData);
    body.once('end', ended);
    body.once('error', fail);
  });
}

function isStream(body: unknown): body is Readable {
  return typeof body === 'object' && body !== null && typeof (body as Readable).pipe === 'function';
}
