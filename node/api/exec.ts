// `POST /tasks/{id}/exec`: runs a command in the container of a task this node runs,
// streaming its output as frames and ending with its exit code (see lib/frames.ts).
// A task's container ID is the task ID.
import { PassThrough, Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { NodeAgent, runtime } from '../../agent/index.js';
import {
  decodeFrames,
  describeError,
  EXEC_HEADER,
  type ExecBody,
  encodeFrame,
  RESIZE,
  SkiffError,
  STATUS,
  STDERR,
  STDIN,
  STDIN_CONTENT_TYPE,
  STDOUT,
} from '../../lib/index.js';
import { type ApiContext, forwardToNode, isForwarded } from '../../manager/index.js';
import { ExecBodySchema } from './exec-body.js';

export function registerExecRoute(
  app: FastifyInstance,
  ctx: ApiContext,
  agentOf: () => NodeAgent | undefined,
): void {
  // The stdin stream reaches the handler unread; the command consumes it.
  app.addContentTypeParser(STDIN_CONTENT_TYPE, (_req, payload, done) => done(null, payload));
  app.post('/tasks/:id/exec', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const streamed = req.headers['content-type'] === STDIN_CONTENT_TYPE;
    const parsed = ExecBodySchema.safeParse(
      streamed ? headerJson(req.headers[EXEC_HEADER]) : (req.body ?? {}),
    );
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new SkiffError(
        'invalid_argument',
        `invalid exec request: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const body = parsed.data;
    const task = ctx.store.getTask(id);
    if (!task) throw new SkiffError('not_found', `task ${id} not found`);
    if (task.NodeID !== ctx.info.nodeId) {
      if (!task.NodeID || isForwarded(req.headers))
        throw new SkiffError(
          'conflict',
          `task ${id} runs on node ${task.NodeID ?? '(none yet)'}, not on this one (${ctx.info.nodeId})`,
        );
      // Another manager's task: its node runs the command; both streams pass through here.
      const res = await forwardToNode(ctx, task.NodeID, {
        method: 'POST',
        url: req.url,
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
    const agent = agentOf();
    if (!agent) throw new SkiffError('unavailable', 'the node agent is still starting');
    const info = await agent.runtime.inspect(id).catch((e: unknown) => {
      if (e instanceof SkiffError && e.code === 'not_found')
        throw new SkiffError(
          'conflict',
          `task ${id} has no container on this node (state ${task.Status.State})`,
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
        .then((r) => ctx.log.debug({ taskId: id, exitCode: r.exitCode }, 'detached exec finished'))
        .catch((e: unknown) => ctx.log.warn({ taskId: id, err: describeError(e) }, 'detached exec failed'));
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
        ctx.log.debug({ taskId: id, exitCode: result.exitCode }, 'exec finished');
      } catch (e) {
        out.end(encodeFrame(STATUS, JSON.stringify({ message: describeError(e) })));
      }
    })();
    return reply.header('content-type', 'application/vnd.docker.multiplexed-stream').send(out);
  });
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
