// Docker's exec endpoints over this node's containers (standalone ones and its tasks'):
// `POST /containers/{id}/exec` makes an exec instance, `POST /exec/{id}/start` runs it on
// a hijacked connection (raw with a TTY, Docker's multiplexed frames without; stdin up to
// the client's half-close), `POST /exec/{id}/resize`, `GET /exec/{id}/json` (exit code).
// Instances live in memory, per agent, as dockerd's do; finished ones are forgotten after
// a while.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { NodeAgent, runtime } from '../../agent/index.js';
import { describeError, encodeFrame, SkiffError, STDERR, STDOUT } from '../../lib/index.js';
import { STREAMED_BODY } from '../../manager/index.js';
import { hijack, MULTIPLEXED_STREAM, RAW_STREAM } from './hijack.js';

const ConsoleSize = z.array(z.number().int().nonnegative().max(65535)).length(2).nullish();

const ExecCreateSchema = z
  .object({
    AttachStdin: z.boolean().optional(),
    AttachStdout: z.boolean().optional(),
    AttachStderr: z.boolean().optional(),
    DetachKeys: z.string().optional(),
    Tty: z.boolean().optional(),
    ConsoleSize,
    Env: z.array(z.string().regex(/^[^=]+=/, 'an environment entry is NAME=value')).nullish(),
    Cmd: z.array(z.string()).min(1, 'No exec command specified'),
    Privileged: z.boolean().optional(),
    User: z.string().optional(),
    WorkingDir: z.string().optional(),
    // Old clients send these; dockerd ignores them in a create.
    Detach: z.boolean().optional(),
    Container: z.string().optional(),
  })
  .strict();

const ExecStartSchema = z
  .object({ Detach: z.boolean().optional(), Tty: z.boolean().optional(), ConsoleSize })
  .strict();

type ExecCreate = z.infer<typeof ExecCreateSchema>;

interface ExecInstance {
  id: string;
  containerId: string;
  config: ExecCreate;
  started: boolean;
  running: boolean;
  exitCode: number | null;
  finishedAt?: number;
  control?: runtime.ExecControl;
  size?: { height: number; width: number };
}

/** How long a finished instance stays inspectable; and how many are kept at most. */
const KEEP_FINISHED_MS = 10 * 60_000;
const MAX_INSTANCES = 1000;

/** One table per agent: a manager's unix and TCP servers share it. */
const tables = new WeakMap<object, Map<string, ExecInstance>>();

function tableOf(agent: object): Map<string, ExecInstance> {
  let t = tables.get(agent);
  if (!t) {
    t = new Map();
    tables.set(agent, t);
  }
  return t;
}

function sweep(table: Map<string, ExecInstance>): void {
  const now = Date.now();
  for (const [id, e] of table)
    if (e.finishedAt !== undefined && now - e.finishedAt > KEEP_FINISHED_MS) table.delete(id);
  if (table.size >= MAX_INSTANCES) {
    for (const [id, e] of table) if (!e.running) table.delete(id);
  }
  if (table.size >= MAX_INSTANCES)
    throw new SkiffError('unavailable', `too many exec instances on this node (${MAX_INSTANCES})`);
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue?.code === 'unrecognized_keys')
    throw new SkiffError('invalid_argument', `${what}: ${issue.keys.join(', ')} is not supported by skiff`);
  throw new SkiffError(
    'invalid_argument',
    `${what}: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
  );
}

export function registerEngineExecRoutes(
  app: FastifyInstance,
  agentOf: () => Pick<NodeAgent, 'containers' | 'runtime'> | undefined,
): void {
  const agent = () => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    return a;
  };
  const instance = (a: object, id: string): ExecInstance => {
    const e = tableOf(a).get(id);
    if (!e) throw new SkiffError('not_found', `No such exec instance: ${id}`);
    return e;
  };

  app.post('/containers/:id/exec', async (req, reply) => {
    const ref = (req.params as { id: string }).id;
    const config = parse(ExecCreateSchema, req.body, 'exec');
    if (config.Privileged)
      throw new SkiffError('invalid_argument', 'Privileged exec is not supported by skiff', {
        hint: 'run the container privileged instead, or exec without --privileged',
      });
    if (config.DetachKeys)
      throw new SkiffError('invalid_argument', 'detachKeys are not supported by skiff yet', {
        hint: 'leave the session by ending the command',
      });
    const a = agent();
    const containerId = await a.containers.resolve(ref);
    const info = await a.runtime.inspect(containerId);
    if (info.state !== 'running') throw new SkiffError('conflict', `Container ${ref} is not running`);
    const table = tableOf(a);
    sweep(table);
    const id = randomBytes(32).toString('hex');
    const size = config.ConsoleSize;
    table.set(id, {
      id,
      containerId,
      config,
      started: false,
      running: false,
      exitCode: null,
      ...(size?.[0] && size[1] ? { size: { height: size[0], width: size[1] } } : {}),
    });
    return reply.status(201).send({ Id: id });
  });

  app.get('/exec/:id/json', async (req) => {
    const a = agent();
    const e = instance(a, (req.params as { id: string }).id);
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        tty: e.config.Tty === true,
        entrypoint: e.config.Cmd[0],
        arguments: e.config.Cmd.slice(1),
        privileged: false,
        user: e.config.User ?? '',
      },
      OpenStdin: e.config.AttachStdin === true,
      OpenStderr: e.config.AttachStderr === true,
      OpenStdout: e.config.AttachStdout === true,
      CanRemove: !e.running && e.started,
      ContainerID: e.containerId,
      DetachKeys: '',
      Pid: 0,
    };
  });

  app.post('/exec/:id/resize', async (req, reply) => {
    const a = agent();
    const e = instance(a, (req.params as { id: string }).id);
    const q = (req.query ?? {}) as Record<string, string | undefined>;
    const height = Number(q.h);
    const width = Number(q.w);
    if (
      !Number.isInteger(height) ||
      !Number.isInteger(width) ||
      height < 0 ||
      width < 0 ||
      height > 65535 ||
      width > 65535
    )
      throw new SkiffError('invalid_argument', 'resize needs integer h and w');
    if (e.config.Tty !== true) throw new SkiffError('invalid_argument', `exec ${e.id} has no TTY to resize`);
    if (height > 0 && width > 0) {
      e.size = { height, width };
      e.control?.resize(height, width);
    }
    return reply.status(200).send();
  });

  app.post('/exec/:id/start', STREAMED_BODY, async (req, reply) => {
    const a = agent();
    const e = instance(a, (req.params as { id: string }).id);
    const start = parse(ExecStartSchema, req.body, 'exec start');
    if (e.started) throw new SkiffError('conflict', `exec instance ${e.id} has already been started`);
    const info = await a.runtime.inspect(e.containerId);
    if (info.state !== 'running')
      throw new SkiffError('conflict', `container ${e.containerId} is not running`);
    e.started = true;
    e.running = true;
    const size = start.ConsoleSize;
    if (size?.[0] && size[1]) e.size = { height: size[0], width: size[1] };
    const tty = e.config.Tty === true;
    const c = e.config;
    const base: runtime.ExecOptions = {
      tty,
      ...(c.Env ? { env: c.Env } : {}),
      ...(c.User ? { user: c.User } : {}),
      ...(c.WorkingDir ? { cwd: c.WorkingDir } : {}),
      ...(tty && e.size ? { consoleSize: e.size } : {}),
      ...(tty
        ? {
            onStarted: (control: runtime.ExecControl) => {
              e.control = control;
              if (e.size) control.resize(e.size.height, e.size.width);
            },
          }
        : {}),
    };
    const finish = (code: number) => {
      e.exitCode = code;
      e.running = false;
      e.finishedAt = Date.now();
      delete e.control;
    };

    if (start.Detach) {
      // Runs on after this answer, its output nowhere, as with `docker exec -d`.
      void a.runtime.exec(e.containerId, c.Cmd, { ...base, onOutput: () => undefined }).then(
        (r) => finish(r.exitCode),
        (err: unknown) => {
          req.log.warn({ containerId: e.containerId, err: describeError(err) }, 'detached exec failed');
          finish(126);
        },
      );
      return reply.status(200).send();
    }

    const { socket, input } = hijack(req, reply, tty ? RAW_STREAM : MULTIPLEXED_STREAM);
    const abort = new AbortController();
    socket.on('close', () => abort.abort());
    socket.on('error', () => undefined);
    const write = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
      if ((stream === 'stdout' ? c.AttachStdout : c.AttachStderr) === false) return;
      if (!socket.writable) return;
      socket.write(tty ? chunk : encodeFrame(stream === 'stderr' ? STDERR : STDOUT, chunk));
    };
    // Input the command does not take is read and dropped, so the client never stalls.
    if (!c.AttachStdin) input.resume();
    void run(a, e, c.Cmd, {
      ...base,
      ...(c.AttachStdin ? { stdin: input } : {}),
      onOutput: write,
      signal: abort.signal,
    }).then(({ exitCode, message }) => {
      if (message) write('stderr', Buffer.from(`${message}\n`));
      finish(exitCode);
      req.log.debug({ containerId: e.containerId, execId: e.id, exitCode }, 'exec finished');
      endSocket(socket);
    });
  });
}

/** The command's exit code; a command that could not run is dockerd's 126 with the reason. */
async function run(
  a: Pick<NodeAgent, 'runtime'>,
  e: ExecInstance,
  cmd: string[],
  opts: runtime.ExecOptions,
): Promise<{ exitCode: number; message?: string }> {
  try {
    const r = await a.runtime.exec(e.containerId, cmd, opts);
    return { exitCode: r.exitCode };
  } catch (err) {
    return { exitCode: 126, message: `exec failed: ${describeError(err)}` };
  }
}

function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  // A client that never closes its side is not waited for.
  setTimeout(() => socket.destroy(), 5000).unref();
}
