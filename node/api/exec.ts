// `POST /tasks/{id}/exec`: runs a command in the container of a task, streaming its
// output as frames and ending with its exit code (see lib/frames.ts). On the manager's
// API: here when this node runs the task, else forwarded to the node that does, whose
// peer endpoint serves it to managers only (`peerExecApi`). A task's container ID is
// the task ID.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { NodeAgent, runtime } from '../../agent/index.js';
import {
  decodeFrames,
  describeError,
  EXEC_HEADER,
  type ExecBody,
  encodeFrame,
  type Logger,
  PEER_EXEC_ROUTE,
  peerNode,
  RESIZE,
  SkiffError,
  STATUS,
  STDERR,
  STDIN,
  STDIN_CONTENT_TYPE,
  STDOUT,
} from '../../lib/index.js';
import {
  type ApiContext,
  createBaseServer,
  forwardExec,
  isForwarded,
  STREAMED_BODY,
  unboundStreamedBody,
} from '../../manager/index.js';
import { registerPeerFetchRoute } from './distribute.js';
import { ExecBodySchema } from './exec-body.js';

export function registerExecRoute(
  app: FastifyInstance,
  ctx: ApiContext,
  agentOf: () => NodeAgent | undefined,
): void {
  // The stdin stream reaches the handler unread; the command consumes it.
  app.addContentTypeParser(STDIN_CONTENT_TYPE, (_req, payload, done) => done(null, payload));
  app.post('/tasks/:id/exec', STREAMED_BODY, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const streamed = req.headers['content-type'] === STDIN_CONTENT_TYPE;
    // The stdin stream is the user's: it may stay silent as long as the command runs.
    if (streamed) unboundStreamedBody(req);
    const body = parseExecBody(streamed ? headerJson(req.headers[EXEC_HEADER]) : (req.body ?? {}));
    const task = ctx.store.getTask(id);
    if (!task) throw new SkiffError('not_found', `task ${id} not found`);
    if (task.NodeID !== ctx.info.nodeId) {
      if (!task.NodeID || isForwarded(req.headers))
        throw new SkiffError(
          'conflict',
          `task ${id} runs on node ${task.NodeID ?? '(none yet)'}, not on this one (${ctx.info.nodeId})`,
        );
      // Another node's task: that node runs the command; both streams pass through here.
      const res = await forwardExec(ctx, task.NodeID, id, {
        headers: streamed
          ? { 'content-type': STDIN_CONTENT_TYPE, [EXEC_HEADER]: String(req.headers[EXEC_HEADER]) }
          : { 'content-type': 'application/json' },
        body: streamed ? (req.body as Readable) : Readable.from([JSON.stringify(body)]),
      });
      ctx.log.debug({ taskId: id, nodeId: task.NodeID, status: res.status }, 'exec forwarded');
      reply.raw.on('close', () => res.stream.destroy());
      if (res.contentType) reply.header('content-type', res.contentType);
      return reply.status(res.status).send(res.stream);
    }
    return execHere(req, reply, agentOf(), id, body, streamed, ctx.log, task.Status.State);
  });
}

/**
 * `POST /tasks/{id}/exec` on the node's peer endpoint: what a manager forwards here (the
 * task runs on this node, the CLI asked that manager). The TLS layer checked the client's
 * certificate against the cluster CA; only a manager's runs a command (a worker's key
 * must not reach into another node's containers). Returns the route's handler on the
 * peer endpoint's requests.
 */
export async function peerExecApi(
  agentOf: () => NodeAgent | undefined,
  log: Logger,
): Promise<{ handle: (req: IncomingMessage, res: ServerResponse) => void; close(): Promise<void> }> {
  const app = createBaseServer({ log, version: undefined });
  app.addContentTypeParser(STDIN_CONTENT_TYPE, (_req, payload, done) => done(null, payload));
  app.addHook('onRequest', async (req, reply) => {
    const socket = req.raw.socket as TLSSocket;
    const peer = socket.authorized ? peerNode(socket.getPeerCertificate?.()) : undefined;
    if (peer?.role !== 'manager') {
      reply.header('Connection', 'close');
      log.warn({ peer: peer?.nodeId, role: peer?.role, url: req.url }, 'exec refused: not a manager');
      throw new SkiffError(
        'forbidden',
        peer
          ? `node ${peer.nodeId} has a ${peer.role} certificate; only managers run commands in this node's tasks`
          : "a node certificate from this cluster's CA is required",
      );
    }
    // The peer endpoint bounds no request's time (an exec's stdin lasts as long as the
    // command): a body that is not the stdin stream must arrive whole, as on the API.
    if (!req.raw.complete && req.headers['content-type'] !== STDIN_CONTENT_TYPE) {
      const timer = setTimeout(() => {
        if (!req.raw.complete) req.raw.socket.destroy();
      }, PEER_BODY_TIMEOUT_MS);
      timer.unref();
      req.raw.once('close', () => clearTimeout(timer));
    }
  });
  app.post(PEER_EXEC_ROUTE, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const streamed = req.headers['content-type'] === STDIN_CONTENT_TYPE;
    const body = parseExecBody(streamed ? headerJson(req.headers[EXEC_HEADER]) : (req.body ?? {}));
    const agent = agentOf();
    // Only a task's container: the node's standalone ones are its local users'.
    if (agent && !agent.worker.claims(id))
      throw new SkiffError('not_found', `no task ${id} runs on this node`);
    log.info(
      { taskId: id, manager: peerNode((req.raw.socket as TLSSocket).getPeerCertificate?.())?.nodeId },
      'exec for a manager',
    );
    return execHere(req, reply, agent, id, body, streamed, log);
  });
  registerPeerFetchRoute(app, agentOf, log);
  await app.ready();
  return { handle: (req, res) => app.routing(req, res), close: () => app.close() };
}

/** How long an exec request's JSON body may take to arrive on the peer endpoint. */
const PEER_BODY_TIMEOUT_MS = 60_000;

function parseExecBody(v: unknown): ExecBody {
  const parsed = ExecBodySchema.safeParse(v);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SkiffError(
      'invalid_argument',
      `invalid exec request: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Runs the exec in this node's container of task `id`; its output, then its exit code, as frames. */
async function execHere(
  req: FastifyRequest,
  reply: FastifyReply,
  agent: NodeAgent | undefined,
  id: string,
  body: ExecBody,
  streamed: boolean,
  log: Logger,
  taskState?: string,
): Promise<FastifyReply> {
  if (!agent) throw new SkiffError('unavailable', 'the node agent is still starting');
  const info = await agent.runtime.inspect(id).catch((e: unknown) => {
    if (e instanceof SkiffError && e.code === 'not_found')
      throw new SkiffError(
        'conflict',
        `task ${id} has no container on this node (state ${taskState ?? 'unknown here'})`,
      );
    throw e;
  });
  if (info.state !== 'running') {
    throw new SkiffError(
      'conflict',
      `the container of task ${id} is ${info.state}; exec needs a running one`,
    );
  }

  if (body.Detach) {
    // Runs on after this answer; its output goes nowhere, as with `docker exec -d`.
    void agent.runtime
      .exec(id, body.Cmd, execOptions(body))
      .then((r) => log.debug({ taskId: id, exitCode: r.exitCode }, 'detached exec finished'))
      .catch((e: unknown) => log.warn({ taskId: id, err: describeError(e) }, 'detached exec failed'));
    return reply
      .header('content-type', 'application/vnd.docker.multiplexed-stream')
      .send(encodeFrame(STATUS, JSON.stringify({ ExitCode: 0 })));
  }
  const abort = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  const out = new PassThrough();
  // With stdin and a TTY the command is interactive: its terminal's input comes from the
  // STDIN frames, its size from the RESIZE frames.
  let control: runtime.ExecControl | undefined;
  let size: { height: number; width: number } | undefined;
  const onResize = (h: number, w: number) => {
    size = { height: h, width: w };
    control?.resize(h, w);
  };
  void (async () => {
    try {
      const result = await agent.runtime.exec(id, body.Cmd, {
        ...execOptions(body),
        ...(streamed ? { stdin: stdinOf(req.body as Readable, onResize) } : {}),
        ...(streamed && body.Tty
          ? {
              onStarted: (c: runtime.ExecControl) => {
                control = c;
                if (size) c.resize(size.height, size.width);
              },
            }
          : {}),
        signal: abort.signal,
        // A non-interactive TTY's output (conmon's) arrives line by line from its log.
        onOutput: (s, chunk) => out.write(encodeFrame(s === 'stderr' ? STDERR : STDOUT, chunk)),
      });
      if (result.stdout) out.write(encodeFrame(STDOUT, result.stdout));
      if (result.stderr) out.write(encodeFrame(STDERR, result.stderr));
      out.end(encodeFrame(STATUS, JSON.stringify({ ExitCode: result.exitCode })));
      log.debug({ taskId: id, exitCode: result.exitCode }, 'exec finished');
    } catch (e) {
      out.end(encodeFrame(STATUS, JSON.stringify({ message: describeError(e) })));
    }
  })();
  return reply.header('content-type', 'application/vnd.docker.multiplexed-stream').send(out);
}

function execOptions(body: ExecBody) {
  return {
    tty: body.Tty === true,
    ...(body.Env ? { env: body.Env } : {}),
    ...(body.User ? { user: body.User } : {}),
    ...(body.WorkingDir ? { cwd: body.WorkingDir } : {}),
    ...(body.Stdin !== undefined ? { stdin: Buffer.from(body.Stdin, 'base64') } : {}),
  };
}

function headerJson(value: string | string[] | undefined): unknown {
  if (typeof value !== 'string') return undefined;
  try {
    return JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The command's stdin from the request's STDIN frames; RESIZE frames go to `onResize`. */
function stdinOf(body: Readable, onResize: (height: number, width: number) => void): Readable {
  return Readable.from(
    (async function* () {
      for await (const f of decodeFrames(body)) {
        if (f.stream === STDIN && f.payload.length) yield f.payload;
        else if (f.stream === RESIZE) {
          const s = sizeOf(f.payload);
          if (s) onResize(s.Height, s.Width);
        }
      }
    })(),
  );
}

function sizeOf(payload: Buffer): { Height: number; Width: number } | undefined {
  try {
    const v = JSON.parse(payload.toString('utf8')) as { Height?: unknown; Width?: unknown };
    return Number.isInteger(v.Height) && Number.isInteger(v.Width)
      ? { Height: v.Height as number, Width: v.Width as number }
      : undefined;
  } catch {
    return undefined;
  }
}
