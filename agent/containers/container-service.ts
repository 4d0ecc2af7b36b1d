// Standalone containers (`docker run` on a node): not tasks, but run by the same stack
// as the worker's tasks (image store, snapshots, the node's networks and volumes, crun
// under conmon) through the worker's own ports. What the Engine API shows of a container
// beyond the runtime's record (its Docker config, ports, network) is kept in one JSON
// record per container under `engine-containers/`.
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { writeFileDurable } from '../../disk/index.js';
import type {
  ContainerNetworkAttachment,
  EngineContainerInspect,
  EngineContainerSummary,
  EngineContainerTop,
  EngineEndpointSettings,
  EngineHostConfig,
  EngineLocalNetwork,
  Logger,
  NetworkAttachmentById,
  NetworkDefinition,
  PublishedPort,
  WaitCondition,
} from '../../lib/index.js';
import { SkiffError, STANDALONE_CONTAINER_LABEL, silentLogger } from '../../lib/index.js';
import { helperExec } from '../host-exec.js';
import type { ImageRecord } from '../image/index.js';
import { parseCidr } from '../network/index.js';
import {
  type ContainerInfo,
  type ContainerRuntime,
  type ContainerStats,
  type ImageRunConfig,
  type LogEntry,
  type LogOptions,
  mergeArgs,
  mergeEnv,
  rootfsMountFlags,
} from '../runtime/index.js';
import type { NetworkPort, RootfsPort } from '../worker/index.js';
import { type ContainerPath, resolveContainerPath } from './container-path.js';
import { ANY_HOST_PORT, type NetworkMode, standaloneSpec } from './create-spec.js';
import { LocalNetworks, NONE_ID, presentLocalNetwork, type ResolvedNetwork } from './local-networks.js';
import { phaseTimer } from './phases.js';

/** What `docker network connect`/`disconnect` need of the network layer beyond attach/detach. */
export interface NetworkLinkPort {
  ensureNetwork(def: NetworkDefinition): Promise<void>;
  connect(containerId: string, attachment: NetworkAttachmentById): Promise<{ ip: string }>;
  disconnect(containerId: string, networkId: string): Promise<void>;
  /** Removes the network's kernel state when no container uses it any more. */
  releaseNetwork(networkId: string): Promise<void>;
  /** Subnets the host routes or skiff's active networks hold. */
  subnetsInUse(): Promise<string[]>;
}

export interface ContainerServiceOptions {
  /** Where the records live: `<stateDir>/engine-containers/`. */
  stateDir: string;
  images: { lookup(ref: string): Promise<ImageRecord | undefined> };
  rootfs: RootfsPort;
  network: Pick<NetworkPort, 'attach' | 'detach' | 'sandbox'>;
  runtime: Pick<
    ContainerRuntime,
    | 'create'
    | 'start'
    | 'stop'
    | 'kill'
    | 'delete'
    | 'inspect'
    | 'list'
    | 'logs'
    | 'onEvent'
    | 'restart'
    | 'pause'
    | 'resume'
    | 'rename'
    | 'attach'
    | 'resize'
    | 'processes'
    | 'statsOf'
    | 'filesystemRoot'
  > &
    Partial<Pick<ContainerRuntime, 'announceDestroyed'>>;
  /** The node's default network for standalone containers (Docker's `bridge`). */
  bridge: NetworkDefinition;
  links: NetworkLinkPort;
  /** The node's address pool (single-node mode), where user networks take their subnets. */
  networkPool?: string;
  log?: Logger;
}

/** One network a container is on. */
interface RecordNetwork {
  id: string;
  name: string;
  /** The aliases asked for (the container's name and short ID answer too). */
  aliases: string[];
  ip: string;
  gateway: string;
  prefixLen: number;
}

interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  imageId: string;
  created: string;
  cmd: string[] | null;
  entrypoint: string[] | null;
  path: string;
  args: string[];
  env: string[];
  workdir: string;
  user: string;
  hostname: string;
  labels: Record<string, string>;
  hostConfig: EngineHostConfig;
  ports: PublishedPort[];
  networkMode: NetworkMode;
  autoRemove: boolean;
  tty?: boolean;
  openStdin?: boolean;
  stdinOnce?: boolean;
  /** The bridge address of records written before `networks`. */
  ip?: string;
  /** Its networks in order (absent in records of earlier builds: `bridge` by networkMode). */
  networks?: RecordNetwork[];
}

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** A standalone container's ID: 64 hex digits, as Docker's (a task's is 25 base-36 digits). */
const STANDALONE_ID = /^[0-9a-f]{64}$/;

/** Whether `id` is (or would be) a standalone container's, never a task's. */
export function isStandaloneId(id: string): boolean {
  return STANDALONE_ID.test(id);
}
/** How long an auto-removal waits for attached readers to drain the log. */
const DRAIN_MS = 10_000;
/** A removed container's record while its remains are released (see `removeNow`). */
const TOMBSTONE = '.removing';

export class ContainerService {
  private readonly dir: string;
  private readonly log: Logger;
  private readonly removed = new EventEmitter();
  /** Attached readers of a container's log, which its auto-removal waits for. */
  private readonly readers = new Map<string, Set<Promise<void>>>();
  /** Containers being removed, so a removal is done once. */
  private readonly removing = new Map<string, Promise<void>>();
  /** Containers gone from the API whose remains are being released, each until it is done. */
  private readonly gone = new Map<string, Promise<void>>();
  private unsubscribe: (() => void) | undefined;
  /** The node's local networks (`bridge` and user networks). */
  readonly networks: LocalNetworks;

  constructor(private readonly o: ContainerServiceOptions) {
    this.dir = join(o.stateDir, 'engine-containers');
    this.networks = new LocalNetworks({
      stateDir: o.stateDir,
      bridge: o.bridge,
      ...(o.networkPool ? { pool: o.networkPool } : {}),
      subnetsInUse: () => o.links.subnetsInUse(),
    });
    this.log = (o.log ?? silentLogger).child({ component: 'containers' });
    this.removed.setMaxListeners(0);
  }

  /** Follows exits for auto-removal; removes what auto-removal left behind (an agent restart). */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    this.unsubscribe = this.o.runtime.onEvent((e) => {
      if (e.type !== 'exit') return;
      // How long after conmon wrote the exit the agent heard of it (the exit file's time).
      this.log.debug(
        { containerId: e.id, phase: 'exit.notice', ms: Date.now() - e.finishedAt.getTime() },
        'container phase',
      );
      void this.read(e.id).then((rec) => {
        if (rec?.autoRemove) void this.autoRemove(rec.id);
      });
    });
    // Removed before a crash or a stop, their remains not yet released: finished now.
    for (const n of await readdir(this.dir)) {
      if (!n.endsWith(TOMBSTONE)) continue;
      const rec = await readFile(join(this.dir, n), 'utf8').then(
        (t) => JSON.parse(t) as ContainerRecord,
        () => undefined,
      );
      if (rec) void this.bury(rec);
      else await rm(join(this.dir, n), { force: true });
    }
    for (const rec of await this.records()) {
      const info = await this.o.runtime.inspect(rec.id).catch(() => undefined);
      if (rec.autoRemove && info?.state === 'exited') void this.autoRemove(rec.id);
    }
  }

  /** Stops following exits; waits up to 10 s for removed containers' remains to be released. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    await Promise.race([this.settled(), new Promise((r) => setTimeout(r, 10_000).unref())]);
  }

  async create(body: unknown, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    const s = standaloneSpec(body);
    if (name !== undefined && name !== '' && !NAME_RE.test(name))
      throw new SkiffError(
        'invalid_argument',
        `Invalid container name (${name.slice(0, 80)}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      );
    const id = randomBytes(32).toString('hex');
    const wanted = name ? name.replace(/^\//, '') : `skiff_${id.slice(0, 8)}`;
    const log = this.log.child({ containerId: id, name: wanted });
    const phase = phaseTimer(log);
    const taken = (await phase('create.name-check', () => this.runtimeList())).find((c) => c.name === wanted);
    if (taken)
      throw new SkiffError(
        'conflict',
        `Conflict. The container name "/${wanted}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    const image = await phase('create.image', () => this.o.images.lookup(s.image));
    if (!image) throw new SkiffError('not_found', `No such image: ${s.image}`);
    const imageConfig: ImageRunConfig = image.config.config ?? {};
    const argv = mergeArgs(imageConfig, s.spec);
    const labels = { ...s.spec.Labels, [STANDALONE_CONTAINER_LABEL]: 'true' };
    const joined: ResolvedNetwork[] = [];
    for (const e of s.endpoints) {
      const r = await this.networks.resolve(e.network);
      if (joined.some((j) => j.def.id === r.def.id))
        throw new SkiffError('invalid_argument', `network ${e.network} is named twice`);
      joined.push(r);
    }
    const networkIds = joined.map((j) => j.def.id);
    let ports = s.ports;
    const networks: RecordNetwork[] = joined.map((j, i) => ({
      id: j.def.id,
      name: j.def.name,
      aliases: s.endpoints[i]?.aliases ?? [],
      ip: '',
      gateway: j.def.gateway,
      prefixLen: parseCidr(j.def.subnet).prefixLength,
    }));
    const attachments = joined.map((j, i) => ({
      network: j.def,
      aliases: dnsNames(wanted, id, j.rec ? (networks[i]?.aliases ?? []) : []),
    }));
    // Steps that do not depend on each other overlap, as the worker's task runner does:
    // the rootfs while the namespace and the networks are set up, then the container's
    // conmon and crun while CNI attaches its interfaces.
    const steps: Promise<unknown>[] = [];
    const track = <T>(p: Promise<T>): Promise<T> => {
      steps.push(p.catch(() => undefined));
      return p;
    };
    try {
      // A removed container's published ports are released behind its removal's answer.
      if (s.ports.length > 0) await this.settled();
      ports = await this.assignHostPorts(s.ports);
      const mounted = track(
        phase('create.rootfs', () => this.o.rootfs.mount(id, image.id, rootfsMountFlags(s.spec))),
      );
      const sandboxed = track(phase('create.sandbox', () => this.sandbox(id, attachments, ports)));
      const [{ rootfs }, sb] = await Promise.all([mounted, sandboxed]);
      const attached = track(phase('create.attach', () => sb.attached));
      await Promise.all([
        attached,
        phase('create.runtime', () =>
          this.o.runtime.create({
            id,
            name: wanted,
            rootfs,
            imageConfig,
            spec: s.spec,
            netnsPath: sb.netnsPath,
            hostname: s.spec.Hostname || id.slice(0, 12),
            ...(sb.resolvConf === undefined ? {} : { resolvConf: sb.resolvConf }),
            labels,
            ...(s.stdinOnce ? { stdinOnce: true } : {}),
            ...(s.consoleSize ? { consoleSize: s.consoleSize } : {}),
          }),
        ),
      ]);
      const { addresses } = await attached;
      for (const n of networks) n.ip = addresses.find((a) => a.networkId === n.id)?.ip ?? '';
    } catch (e) {
      // Nothing of the create still runs when its clean-up does.
      await Promise.all(steps);
      await this.teardown(id, networkIds).catch((err: unknown) =>
        log.warn({ err: String(err) }, 'clean-up after a failed create'),
      );
      throw e;
    }
    const rec: ContainerRecord = {
      id,
      name: wanted,
      image: s.image,
      imageId: image.id,
      created: new Date().toISOString(),
      cmd: s.cmd,
      entrypoint: s.entrypoint,
      path: argv[0] ?? '',
      args: argv.slice(1),
      env: mergeEnv(imageConfig, s.spec, { hostname: s.spec.Hostname || id.slice(0, 12) }),
      workdir: s.spec.Dir ?? imageConfig.WorkingDir ?? '',
      user: s.spec.User ?? imageConfig.User ?? '',
      hostname: s.spec.Hostname || id.slice(0, 12),
      labels: { ...(imageConfig.Labels ?? {}), ...s.spec.Labels },
      hostConfig: ((body as { HostConfig?: EngineHostConfig }).HostConfig ?? {}) as EngineHostConfig,
      ports,
      networkMode: s.networkMode,
      autoRemove: s.autoRemove,
      ...(s.spec.TTY ? { tty: true } : {}),
      ...(s.spec.OpenStdin ? { openStdin: true } : {}),
      ...(s.stdinOnce ? { stdinOnce: true } : {}),
      networks,
    };
    await phase('create.record', () => this.write(rec));
    phase.end('create');
    log.info({ image: s.image }, 'container created');
    return { Id: id, Warnings: [] };
  }

  async start(ref: string): Promise<'started' | 'already'> {
    const rec = await this.find(ref);
    const log = this.log.child({ containerId: rec.id });
    const phase = phaseTimer(log);
    const info = await phase('start.inspect', () => this.o.runtime.inspect(rec.id));
    if (info.state === 'running') return 'already';
    // An exited container runs again from its bundle, rootfs, network and log.
    if (info.state === 'exited') await this.o.runtime.restart(rec.id);
    else await phase('start.runtime', () => this.o.runtime.start(rec.id));
    phase.end('start');
    log.info('container started');
    return 'started';
  }

  async restart(ref: string, timeoutS?: number, signal?: string): Promise<void> {
    const rec = await this.find(ref);
    await this.o.runtime.restart(rec.id, {
      ...(timeoutS === undefined ? {} : { graceMs: timeoutS * 1000 }),
      ...(signal ? { signal } : {}),
    });
    this.log.info({ containerId: rec.id }, 'container restarted');
  }

  /** Freezes a standalone container or a task's (docker pause, compose pause). */
  async pause(ref: string): Promise<void> {
    const id = await this.resolve(ref);
    await this.o.runtime.pause(id).catch((e: unknown) => {
      throw renamed(e, id, ref);
    });
    this.log.info({ containerId: id }, 'container paused');
  }

  async unpause(ref: string): Promise<void> {
    const id = await this.resolve(ref);
    await this.o.runtime.resume(id).catch((e: unknown) => {
      throw renamed(e, id, ref);
    });
    this.log.info({ containerId: id }, 'container unpaused');
  }

  async rename(ref: string, newName: string): Promise<void> {
    const rec = await this.find(ref);
    const wanted = newName.replace(/^\//, '');
    if (!NAME_RE.test(newName))
      throw new SkiffError(
        'invalid_argument',
        `Invalid container name (${newName.slice(0, 80)}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      );
    if (wanted === rec.name)
      throw new SkiffError('conflict', `Renaming a container with the same name as its current name`);
    const taken = (await this.runtimeList()).find((c) => c.name === wanted);
    if (taken)
      throw new SkiffError(
        'conflict',
        `Conflict. The container name "/${wanted}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    await this.o.runtime.rename(rec.id, wanted);
    await writeFileDurable(join(this.dir, `${rec.id}.json`), JSON.stringify({ ...rec, name: wanted }), {
      mode: 0o600,
    });
    this.log.info({ containerId: rec.id, from: rec.name, to: wanted }, 'container renamed');
  }

  /** Whether the container runs with a terminal (its attached streams are raw, not multiplexed). */
  async tty(ref: string): Promise<boolean> {
    return (await this.find(ref)).tty === true;
  }

  /**
   * The container's own stdio (docker attach, docker run -i): input to its stdin when it
   * was created with OpenStdin, its output from the moment this resolves. The session
   * holds off an auto-removal until it ends.
   */
  async attach(
    ref: string,
    opts: {
      stdin?: Readable;
      onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
      signal?: AbortSignal;
    },
  ): Promise<{ done: Promise<void> }> {
    const rec = await this.find(ref);
    const state = (await this.o.runtime.inspect(rec.id)).state;
    if (state !== 'running' && state !== 'created')
      throw new SkiffError('conflict', 'You cannot attach to a stopped container, start it first');
    const session = await this.o.runtime.attach(rec.id, {
      ...(opts.stdin && rec.openStdin ? { stdin: opts.stdin } : {}),
      onOutput: opts.onOutput,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const set = this.readers.get(rec.id) ?? new Set();
    set.add(session.done);
    this.readers.set(rec.id, set);
    void session.done.then(() => this.readers.get(rec.id)?.delete(session.done));
    return session;
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const rec = await this.find(ref);
    await this.o.runtime.resize(rec.id, height, width).catch((e: unknown) => {
      throw renamed(e, rec.id, ref);
    });
  }

  /** The host pids of a running container's processes (docker top). */
  async processes(ref: string): Promise<number[]> {
    const id = await this.resolve(ref);
    return this.o.runtime.processes(id).catch((e: unknown) => {
      throw renamed(e, id, ref);
    });
  }

  /** `ps` on the host (dockerd's way), its rows those of the container's processes (docker top). */
  async top(ref: string, psArgs: string[]): Promise<EngineContainerTop> {
    const pids = new Set(await this.processes(ref));
    const r = await helperExec('ps', psArgs, { timeoutMs: 30_000 });
    if (r.code !== 0)
      throw new SkiffError(
        'invalid_argument',
        `ps ${psArgs.join(' ')} failed: ${r.stderr.trim().slice(0, 300)}`,
      );
    return parsePs(r.stdout, pids);
  }

  /** Resource usage now, undefined when it does not run (docker stats); with its name. */
  async stats(ref: string): Promise<{ id: string; name: string; stats: ContainerStats | undefined }> {
    const id = await this.resolve(ref);
    const info = await this.o.runtime.inspect(id);
    return { id, name: info.name, stats: await this.o.runtime.statsOf(id) };
  }

  /** Where `path` in the container is on the host (docker cp), found without leaving its root. */
  async locate(ref: string, path: string, what: string): Promise<ContainerPath> {
    const id = await this.resolve(ref);
    return resolveContainerPath(await this.o.runtime.filesystemRoot(id), path, what).catch((e: unknown) => {
      if (e instanceof SkiffError && e.code === 'not_found')
        throw new SkiffError('not_found', `${e.message} ${ref}`);
      throw e;
    });
  }

  /** Removes the standalone containers that do not run (docker container prune). */
  async prune(keep: (c: EngineContainerSummary) => boolean): Promise<string[]> {
    const gone: string[] = [];
    for (const c of await this.list()) {
      if (c.State === 'running' || c.State === 'paused' || !isStandaloneId(c.Id)) continue;
      if (keep(c)) continue;
      const rec = await this.read(c.Id);
      if (!rec) continue;
      await this.removeNow(rec);
      gone.push(c.Id);
    }
    return gone;
  }

  async stop(ref: string, timeoutS?: number, signal?: string): Promise<'stopped' | 'already'> {
    const rec = await this.find(ref);
    if ((await this.o.runtime.inspect(rec.id)).state !== 'running') return 'already';
    await this.o.runtime.stop(rec.id, {
      ...(timeoutS === undefined ? {} : { graceMs: timeoutS * 1000 }),
      ...(signal ? { signal } : {}),
    });
    return 'stopped';
  }

  /**
   * Signals a standalone container or a task's (docker kill, compose kill): a task whose
   * container exits is then restarted or not as its service's restart policy says.
   */
  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const id = await this.resolve(ref);
    if ((await this.o.runtime.inspect(id)).state !== 'running')
      throw new SkiffError('conflict', `Container ${id} is not running`);
    await this.o.runtime.kill(id, signal);
    this.log.info({ containerId: id, signal }, 'container signalled');
  }

  /**
   * Docker's wait: `not-running` answers at once for a container that is not running,
   * `next-exit` at its next exit, `removed` once it is gone. `ready` is called once the
   * wait is in place (dockerd sends its headers then, before the client starts it).
   */
  async wait(ref: string, condition: WaitCondition, signal?: AbortSignal): Promise<{ StatusCode: number }> {
    const rec = await this.find(ref);
    const exited = new Promise<number>((resolve) => {
      const off = this.o.runtime.onEvent((e) => {
        if (e.type === 'exit' && e.id === rec.id) {
          off();
          resolve(e.exitCode);
        }
      });
      signal?.addEventListener('abort', () => off(), { once: true });
    });
    const gone = new Promise<void>((resolve) => {
      const done = (id: string) => {
        if (id !== rec.id) return;
        this.removed.off('removed', done);
        resolve();
      };
      this.removed.on('removed', done);
      signal?.addEventListener('abort', () => this.removed.off('removed', done), { once: true });
    });
    const info = await this.o.runtime.inspect(rec.id).catch(() => undefined);
    if (condition === 'not-running' && info?.state !== 'running' && info?.state !== 'created')
      return { StatusCode: info?.exitCode ?? 0 };
    if (condition === 'removed') {
      const code = info?.state === 'exited' ? (info.exitCode ?? 0) : await exited;
      await gone;
      return { StatusCode: code };
    }
    return { StatusCode: await exited };
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    const rec = await this.find(ref);
    const state = (await this.o.runtime.inspect(rec.id).catch(() => undefined))?.state;
    if (state === 'running' && !opts.force)
      throw new SkiffError(
        'conflict',
        `cannot remove container "/${rec.name}": container is running: stop the container before removing or force remove`,
      );
    await this.removeNow(rec);
  }

  /** The log of a container, following it while it runs; an attached reader holds off its auto-removal. */
  async *logs(ref: string, opts: LogOptions & { attached?: boolean } = {}): AsyncGenerator<LogEntry> {
    const rec = await this.find(ref);
    let done: () => void = () => {};
    const reading = new Promise<void>((r) => {
      done = r;
    });
    if (opts.attached) {
      const set = this.readers.get(rec.id) ?? new Set();
      set.add(reading);
      this.readers.set(rec.id, set);
    }
    try {
      yield* this.o.runtime.logs(rec.id, opts);
    } finally {
      done();
      this.readers.get(rec.id)?.delete(reading);
    }
  }

  async inspect(ref: string): Promise<EngineContainerInspect> {
    const rec = await this.find(ref).catch(async (e: unknown) => {
      // A task's container on this node: what the runtime knows of it (docker exec asks first).
      if (!(e instanceof SkiffError && e.code === 'not_found')) throw e;
      const id = await this.resolve(ref);
      return taskInspect(await this.o.runtime.inspect(id));
    });
    if ('State' in rec) return rec;
    const info = await this.o.runtime.inspect(rec.id);
    const running = info.state === 'running';
    const paused = info.paused === true;
    const portMap: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of rec.ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      portMap[key] = [
        ...(portMap[key] ?? []),
        { HostIp: p.hostIp ?? '0.0.0.0', HostPort: String(p.hostPort) },
      ];
    }
    return {
      Id: rec.id,
      Created: rec.created,
      Path: rec.path,
      Args: rec.args,
      State: {
        Status: stateName(info),
        Running: running,
        Paused: paused,
        Restarting: false,
        OOMKilled: info.oomKilled ?? false,
        Dead: info.state === 'unknown',
        Pid: running ? (info.pid ?? 0) : 0,
        ExitCode: info.exitCode ?? 0,
        Error: '',
        StartedAt: info.startedAt?.toISOString() ?? '0001-01-01T00:00:00Z',
        FinishedAt: info.finishedAt?.toISOString() ?? '0001-01-01T00:00:00Z',
      },
      Image: rec.imageId,
      Name: `/${rec.name}`,
      RestartCount: 0,
      Driver: 'overlay',
      Platform: 'linux',
      HostConfig: { ...rec.hostConfig, NetworkMode: rec.hostConfig.NetworkMode || 'bridge' },
      Config: {
        Hostname: rec.hostname,
        User: rec.user,
        Env: rec.env,
        Cmd: rec.cmd,
        Entrypoint: rec.entrypoint,
        Image: rec.image,
        WorkingDir: rec.workdir,
        Labels: rec.labels,
        Tty: rec.tty === true,
        OpenStdin: rec.openStdin === true,
        StdinOnce: rec.stdinOnce === true,
        AttachStdin: rec.openStdin === true,
        AttachStdout: true,
        AttachStderr: true,
      },
      NetworkSettings: {
        IPAddress: netsOf(rec, this.o.bridge)[0]?.ip ?? '',
        Ports: portMap,
        Networks: this.networksOf(rec),
      },
      Mounts: [],
    };
  }

  /** Standalone containers and the node's task containers, as `docker ps` lists them. */
  async list(): Promise<EngineContainerSummary[]> {
    const recs = new Map((await this.records()).map((r) => [r.id, r]));
    const now = Date.now();
    return (await this.runtimeList()).map((c) => {
      const rec = recs.get(c.id);
      return rec ? this.summary(rec, c, now) : taskSummary(c, now);
    });
  }

  private summary(rec: ContainerRecord, c: ContainerInfo, now: number): EngineContainerSummary {
    return {
      Id: rec.id,
      Names: [`/${rec.name}`],
      Image: rec.image,
      ImageID: rec.imageId,
      Command: [rec.path, ...rec.args].join(' '),
      Created: Math.floor(Date.parse(rec.created) / 1000),
      Ports: rec.ports.map((p) => ({
        IP: p.hostIp ?? '0.0.0.0',
        PrivatePort: p.containerPort,
        PublicPort: p.hostPort,
        Type: p.protocol,
      })),
      Labels: rec.labels,
      State: stateName(c),
      Status: statusText(c, now),
      HostConfig: { NetworkMode: rec.networkMode },
      NetworkSettings: { Networks: this.networksOf(rec) },
      Mounts: [],
    };
  }

  private networksOf(rec: ContainerRecord): Record<string, EngineEndpointSettings> {
    const out: Record<string, EngineEndpointSettings> = {};
    for (const n of netsOf(rec, this.o.bridge)) {
      const user = n.id !== this.o.bridge.id;
      const names = user ? dnsNames(rec.name, rec.id, n.aliases) : null;
      out[n.name] = {
        IPAddress: n.ip,
        NetworkID: n.id,
        // Clients (docker-compose) know an endpoint they made by the short ID among its aliases.
        Aliases: user ? [...n.aliases, rec.id.slice(0, 12)] : null,
        DNSNames: names,
        EndpointID: endpointId(rec.id, n.id),
        Gateway: n.gateway,
        IPPrefixLen: n.prefixLen,
        MacAddress: '',
      };
    }
    return out;
  }

  private async autoRemove(id: string): Promise<void> {
    const rec = await this.read(id);
    if (!rec) return;
    await this.removeNow(rec).catch((err: unknown) =>
      this.log.warn({ containerId: id, err: String(err) }, 'auto-removal failed'),
    );
  }

  /**
   * Removes a container from the API at once and its remains in the background: a live
   * one is killed first (as dockerd does before it answers), then its record becomes a
   * tombstone (`<id>.removing`) and it is gone for every client (ps, inspect, names,
   * wait's `removed`) while its runtime state, namespace, interfaces and writable layer
   * are released behind the answer, after attached readers drained its log. A crash
   * meanwhile leaves the tombstone, which `init` finishes; what reads the kernel's or the
   * disk's state of containers (networks, volumes, prune, df) waits for `settled()`.
   */
  private removeNow(rec: ContainerRecord): Promise<void> {
    const running = this.removing.get(rec.id);
    if (running) return running;
    const log = this.log.child({ containerId: rec.id });
    const phase = phaseTimer(log);
    const p = (async () => {
      const state = (await this.o.runtime.inspect(rec.id).catch(() => undefined))?.state;
      const live = state === 'running' || state === 'created';
      if (live) await phase('remove.kill', () => this.deleteRuntime(rec.id));
      await phase('remove.tombstone', () => this.bury(rec));
      // Gone for every client now: `docker events` says so before the answer, as dockerd.
      if (!live) await this.o.runtime.announceDestroyed?.(rec.id).catch(() => undefined);
      phase.end('remove.answered');
      log.info('container removed');
      this.removed.emit('removed', rec.id);
    })().finally(() => this.removing.delete(rec.id));
    this.removing.set(rec.id, p);
    return p;
  }

  /** Hides the container from the API, its record kept as a tombstone until `cleanUp` ends. */
  private async bury(rec: ContainerRecord): Promise<void> {
    let done: () => void = () => {};
    this.gone.set(rec.id, new Promise<void>((r) => (done = r)));
    try {
      await rename(join(this.dir, `${rec.id}.json`), join(this.dir, `${rec.id}${TOMBSTONE}`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.gone.delete(rec.id);
        done();
        throw e;
      }
    }
    void this.cleanUp(rec).finally(() => {
      this.gone.delete(rec.id);
      done();
    });
  }

  /** What a buried container leaves: its runtime state and log (once read), namespace, layer, tombstone. */
  private async cleanUp(rec: ContainerRecord): Promise<void> {
    const log = this.log.child({ containerId: rec.id });
    const phase = phaseTimer(log);
    try {
      // Attached clients read the last lines first (the log goes with the container).
      const readers = [...(this.readers.get(rec.id) ?? [])];
      if (readers.length > 0)
        await phase('cleanup.drain-readers', () =>
          Promise.race([Promise.all(readers), new Promise((r) => setTimeout(r, DRAIN_MS).unref())]),
        );
      await this.teardown(
        rec.id,
        netsOf(rec, this.o.bridge).map((n) => n.id),
        phase,
      );
      await rm(join(this.dir, `${rec.id}${TOMBSTONE}`), { force: true });
      phase.end('cleanup');
    } catch (err) {
      // The tombstone stays: the next start finishes it.
      log.warn({ err: String(err) }, 'clean-up of a removed container failed');
    }
  }

  /** Resolves once the remains of every container removed so far are released. */
  async settled(): Promise<void> {
    await Promise.all([...this.gone.values()]);
  }

  private async deleteRuntime(id: string): Promise<void> {
    await this.o.runtime.delete(id, { force: true }).catch((e: unknown) => {
      if (!(e instanceof SkiffError && e.code === 'not_found')) throw e;
    });
  }

  private async teardown(id: string, networkIds: string[], phase = phaseTimer(this.log)): Promise<void> {
    await phase('remove.runtime', () => this.deleteRuntime(id));
    // The node's `bridge` stays set up once made, as dockerd's docker0 does: setting it up
    // and removing it again were two thirds of a `docker run --rm`'s network time. User
    // networks go when their last container leaves.
    const bridge = this.o.bridge.id;
    await phase('remove.network', () =>
      this.o.network.detach(
        id,
        networkIds.filter((n) => n !== bridge),
      ),
    );
    await phase('remove.rootfs', () => this.o.rootfs.remove(id));
  }

  /** `docker network ls`: `bridge`, `none` and the user networks, with their containers. */
  async listNetworks(): Promise<EngineLocalNetwork[]> {
    const recs = await this.records();
    const users = await this.networks.records();
    const none = presentLocalNetwork(
      { id: NONE_ID, name: 'none', created: EPOCH },
      { driver: 'null', containers: {} },
    );
    const bridge = presentLocalNetwork(
      { ...this.o.bridge, created: EPOCH },
      { driver: 'bridge', containers: containersOn(recs, this.o.bridge) },
    );
    const user = users.map((n) =>
      presentLocalNetwork(n, {
        driver: 'bridge',
        internal: n.internal,
        attachable: n.attachable,
        labels: n.labels,
        containers: containersOn(recs, this.o.bridge, n.id),
      }),
    );
    return [bridge, none, ...user];
  }

  /** A local network by ID, name or ID prefix; undefined when the node has none such. */
  async findNetwork(ref: string): Promise<EngineLocalNetwork | undefined> {
    const all = await this.listNetworks();
    const hit = all.find((n) => n.Id === ref) ?? all.find((n) => n.Name === ref);
    if (hit) return hit;
    const byPrefix = ref.length > 0 ? all.filter((n) => n.Id.startsWith(ref)) : [];
    return byPrefix.length === 1 ? byPrefix[0] : undefined;
  }

  async createNetwork(body: unknown): Promise<{ Id: string; Warning: string }> {
    const rec = await this.networks.create(body);
    this.log.info({ networkId: rec.id, network: rec.name, subnet: rec.subnet }, 'network created');
    return { Id: rec.id, Warning: '' };
  }

  /** `docker network rm`: refused for the built-in ones and while containers are on it. */
  async removeNetwork(ref: string): Promise<void> {
    // Removed containers leave their networks behind the removal's answer.
    await this.settled();
    const net = await this.findNetwork(ref);
    if (!net) throw new SkiffError('not_found', `network ${ref} not found`);
    if (net.Name === 'bridge' || net.Name === 'none')
      throw new SkiffError('forbidden', `${net.Name} is a pre-defined network and cannot be removed`);
    const users = Object.values(net.Containers).map((c) => c.Name);
    if (users.length > 0)
      throw new SkiffError(
        'forbidden',
        `error while removing network: network ${net.Name} id ${net.Id} has active endpoints (${users.join(', ')})`,
      );
    const rec = await this.networks.findRecord(net.Id);
    if (rec) await this.networks.remove(rec);
    this.log.info({ networkId: net.Id, network: net.Name }, 'network removed');
  }

  /** Removes the user networks no container is on; their names. */
  async pruneNetworks(keep: (n: EngineLocalNetwork) => boolean = () => false): Promise<string[]> {
    const out: string[] = [];
    for (const n of await this.listNetworks()) {
      if (n.Name === 'bridge' || n.Name === 'none' || Object.keys(n.Containers).length > 0 || keep(n))
        continue;
      await this.removeNetwork(n.Id);
      out.push(n.Name);
    }
    return out;
  }

  /** `docker network connect`: a container (running or not) joins a user network or `bridge`. */
  async connect(networkRef: string, containerRef: string, aliases: string[] = []): Promise<void> {
    await this.settled();
    const rec = await this.find(containerRef);
    if (rec.networkMode === 'none')
      throw new SkiffError(
        'forbidden',
        `container ${rec.name} cannot be connected to a network: it was created with network mode none`,
      );
    const { def, rec: userNet } = await this.networks.resolve(networkRef);
    if (!userNet && aliases.length > 0)
      throw new SkiffError(
        'invalid_argument',
        'network-scoped aliases are only supported for user-defined networks',
      );
    const nets = netsOf(rec, this.o.bridge);
    if (nets.some((n) => n.id === def.id))
      throw new SkiffError(
        'forbidden',
        `endpoint with name ${rec.name} already exists in network ${def.name}`,
      );
    await this.o.links.ensureNetwork(def);
    const names = userNet ? dnsNames(rec.name, rec.id, aliases) : [rec.name];
    const { ip } = await this.o.links
      .connect(rec.id, { networkId: def.id, aliases: names })
      .catch(async (e: unknown) => {
        await this.o.links.releaseNetwork(def.id).catch(() => {});
        throw e;
      });
    const next: ContainerRecord = {
      ...rec,
      networks: [
        ...nets,
        {
          id: def.id,
          name: def.name,
          aliases,
          ip,
          gateway: def.gateway,
          prefixLen: parseCidr(def.subnet).prefixLength,
        },
      ],
    };
    await this.write(next);
    this.log.info({ containerId: rec.id, networkId: def.id }, 'container connected to a network');
  }

  /** `docker network disconnect`. */
  async disconnect(networkRef: string, containerRef: string): Promise<void> {
    const rec = await this.find(containerRef);
    const { def } = await this.networks.resolve(networkRef);
    const nets = netsOf(rec, this.o.bridge);
    if (!nets.some((n) => n.id === def.id))
      throw new SkiffError('forbidden', `container ${rec.name} is not connected to network ${def.name}`);
    await this.o.links.disconnect(rec.id, def.id);
    await this.write({ ...rec, networks: nets.filter((n) => n.id !== def.id) });
    await this.o.links
      .releaseNetwork(def.id)
      .catch((e: unknown) => this.log.warn({ networkId: def.id, err: String(e) }, 'network release failed'));
    this.log.info({ containerId: rec.id, networkId: def.id }, 'container disconnected from a network');
  }

  /** The container's namespace, with its interfaces attached in `attached` when the network layer can. */
  private async sandbox(
    id: string,
    attachments: ContainerNetworkAttachment[],
    ports: PublishedPort[],
  ): ReturnType<NonNullable<NetworkPort['sandbox']>> {
    if (this.o.network.sandbox) return this.o.network.sandbox(id, attachments, ports);
    const net = await this.o.network.attach(id, attachments, ports);
    return {
      netnsPath: net.netnsPath,
      ...(net.resolvConf === undefined ? {} : { resolvConf: net.resolvConf }),
      attached: Promise.resolve({ addresses: net.addresses }),
    };
  }

  /**
   * Host ports for the bindings that name none: free on the host now (the kernel's pick
   * among its ephemeral ports, as dockerd's) and not published by another container
   * (portmap's DNAT holds no socket the kernel would know of).
   */
  private async assignHostPorts(ports: PublishedPort[]): Promise<PublishedPort[]> {
    if (!ports.some((p) => p.hostPort === ANY_HOST_PORT)) return ports;
    const taken = new Set(
      (await this.records()).flatMap((r) => r.ports.map((p) => `${p.protocol}/${p.hostPort}`)),
    );
    for (const p of ports) if (p.hostPort !== ANY_HOST_PORT) taken.add(`${p.protocol}/${p.hostPort}`);
    const out: PublishedPort[] = [];
    for (const p of ports) {
      if (p.hostPort !== ANY_HOST_PORT) {
        out.push(p);
        continue;
      }
      let port: number | undefined;
      for (let i = 0; i < 20 && port === undefined; i++) {
        const c = await freeHostPort(p.protocol, p.hostIp);
        if (!taken.has(`${p.protocol}/${c}`)) port = c;
      }
      if (port === undefined)
        throw new SkiffError('unavailable', `no free host port for ${p.containerPort}/${p.protocol}`);
      taken.add(`${p.protocol}/${port}`);
      out.push({ ...p, hostPort: port });
    }
    return out;
  }

  private async write(rec: ContainerRecord): Promise<void> {
    await writeFileDurable(join(this.dir, `${rec.id}.json`), JSON.stringify(rec), { mode: 0o600 });
  }

  /** Docker's 404 unless `ref` names a standalone container. */
  async mustExist(ref: string): Promise<void> {
    await this.find(ref);
  }

  /**
   * The runtime ID of a container on this node for exec: a standalone one or a task's,
   * by full ID, name, or unique ID prefix (Docker's 404 otherwise).
   */
  async resolve(ref: string): Promise<string> {
    try {
      return (await this.find(ref)).id;
    } catch (e) {
      if (!(e instanceof SkiffError && e.code === 'not_found')) throw e;
    }
    const name = ref.replace(/^\//, '');
    const all = await this.runtimeList();
    const hit = all.find((c) => c.id === ref) ?? all.find((c) => c.name === name);
    if (hit) return hit.id;
    const byPrefix = ref.length > 0 ? all.filter((c) => c.id.startsWith(ref)) : [];
    if (byPrefix.length > 1)
      throw new SkiffError('invalid_argument', `multiple IDs found with provided prefix: ${ref}`);
    if (!byPrefix[0]) throw new SkiffError('not_found', `No such container: ${ref}`);
    return byPrefix[0].id;
  }

  /** By full ID, name, or unique ID prefix, as docker finds one: else Docker's 404. */
  private async find(ref: string): Promise<ContainerRecord> {
    const name = ref.replace(/^\//, '');
    const all = await this.records();
    const hit =
      all.find((r) => r.id === ref) ??
      all.find((r) => r.name === name) ??
      (() => {
        const byPrefix = ref.length > 0 ? all.filter((r) => r.id.startsWith(ref)) : [];
        if (byPrefix.length > 1)
          throw new SkiffError('invalid_argument', `multiple IDs found with provided prefix: ${ref}`);
        return byPrefix[0];
      })();
    if (!hit) throw new SkiffError('not_found', `No such container: ${ref}`);
    return hit;
  }

  private async read(id: string): Promise<ContainerRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as ContainerRecord;
    } catch {
      return undefined;
    }
  }

  /** The runtime's containers but those removed whose remains are being released. */
  private async runtimeList(): Promise<ContainerInfo[]> {
    // A tombstone not yet taken up by `init` (the agent still starting) hides it too.
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const buried = new Set(
      names.filter((n) => n.endsWith(TOMBSTONE)).map((n) => n.slice(0, -TOMBSTONE.length)),
    );
    return (await this.o.runtime.list()).filter((c) => !this.gone.has(c.id) && !buried.has(c.id));
  }

  private async records(): Promise<ContainerRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: ContainerRecord[] = [];
    for (const n of names) {
      if (!n.endsWith('.json') || this.gone.has(n.slice(0, -5))) continue;
      const rec = await this.read(n.slice(0, -5));
      if (rec) out.push(rec);
    }
    return out;
  }
}

/** `ps` output: its header's columns, and the rows whose PID column names one of `pids`. */
export function parsePs(text: string, pids: Set<number>): EngineContainerTop {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0)
    throw new SkiffError('invalid_argument', `Couldn't find PID field in ps output`, {
      hint: 'ps_args must keep the PID column (e.g. -ef, aux)',
    });
  const rows: string[][] = [];
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/);
    // The last column (the command) keeps its spaces.
    const row = [...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')];
    if (pids.has(Number(row[pidCol]))) rows.push(row);
  }
  return { Titles: titles, Processes: rows };
}

function stateName(c: ContainerInfo): string {
  if (c.state === 'running' && c.paused) return 'paused';
  return c.state === 'unknown' ? 'dead' : c.state;
}

/** The runtime's errors name the container by ID: the client's name for it reads better. */
function renamed(e: unknown, id: string, ref: string): unknown {
  if (!(e instanceof SkiffError) || id === ref) return e;
  return new SkiffError(e.code, e.message.replace(id, ref), e.hint ? { hint: e.hint } : {});
}

/** Docker's human status column: `Up 5 seconds`, `Exited (0) 3 seconds ago`, `Created`. */
function statusText(c: ContainerInfo, now: number): string {
  if (c.state === 'running')
    return `Up ${ago(now - (c.startedAt?.getTime() ?? now))}${c.paused ? ' (Paused)' : ''}`;
  if (c.state === 'exited')
    return `Exited (${c.exitCode ?? 0}) ${ago(now - (c.finishedAt?.getTime() ?? now))} ago`;
  if (c.state === 'created') return 'Created';
  return 'Dead';
}

function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} hour${h === 1 ? '' : 's'}` : `${Math.floor(h / 24)} days`;
}

/** A task's container as `docker inspect` shows it here: its state, name and Swarm labels. */
function taskInspect(c: ContainerInfo): EngineContainerInspect {
  const running = c.state === 'running';
  return {
    Id: c.id,
    Created: c.createdAt.toISOString(),
    Path: '',
    Args: [],
    State: {
      Status: stateName(c),
      Running: running,
      Paused: running && c.paused === true,
      Restarting: false,
      OOMKilled: c.oomKilled ?? false,
      Dead: c.state === 'unknown',
      Pid: running ? (c.pid ?? 0) : 0,
      ExitCode: c.exitCode ?? 0,
      Error: '',
      StartedAt: c.startedAt?.toISOString() ?? '0001-01-01T00:00:00Z',
      FinishedAt: c.finishedAt?.toISOString() ?? '0001-01-01T00:00:00Z',
    },
    Image: '',
    Name: `/${c.name}`,
    RestartCount: 0,
    Driver: 'overlay',
    Platform: 'linux',
    HostConfig: { NetworkMode: 'default' },
    Config: {
      Hostname: '',
      User: '',
      Env: [],
      Cmd: null,
      Entrypoint: null,
      Image: '',
      WorkingDir: '',
      Labels: c.labels,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
    },
    NetworkSettings: { IPAddress: '', Ports: {}, Networks: {} },
    Mounts: [],
  };
}

/** A task's container as `docker ps` shows it on a swarm node: its Swarm labels, its image. */
function taskSummary(c: ContainerInfo, now: number): EngineContainerSummary {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: '',
    ImageID: '',
    Command: '',
    Created: Math.floor(c.createdAt.getTime() / 1000),
    Ports: [],
    Labels: c.labels,
    State: stateName(c),
    Status: statusText(c, now),
    HostConfig: { NetworkMode: 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
}

const EPOCH = '0001-01-01T00:00:00Z';

/** A container's networks; a record of an earlier build is on `bridge` by its network mode. */
function netsOf(rec: ContainerRecord, bridge: NetworkDefinition): RecordNetwork[] {
  if (rec.networks) return rec.networks;
  if (rec.networkMode !== 'bridge') return [];
  return [
    {
      id: bridge.id,
      name: 'bridge',
      aliases: [],
      ip: rec.ip ?? '',
      gateway: bridge.gateway,
      prefixLen: parseCidr(bridge.subnet).prefixLength,
    },
  ];
}

/** The names a container answers to on a network: its name, its short ID, its aliases (dockerd's DNSNames). */
function dnsNames(name: string, id: string, aliases: readonly string[]): string[] {
  return [...new Set([name, id.slice(0, 12), ...aliases])];
}

/** A stable endpoint ID per container and network (no endpoint object of its own here). */
function endpointId(containerId: string, networkId: string): string {
  return createHash('sha256').update(`${containerId}/${networkId}`).digest('hex');
}

/** The containers on a network (`bridge` when `networkId` is not given), as network inspect lists them. */
function containersOn(
  recs: readonly ContainerRecord[],
  bridge: NetworkDefinition,
  networkId = bridge.id,
): EngineLocalNetwork['Containers'] {
  const out: EngineLocalNetwork['Containers'] = {};
  for (const r of recs) {
    const n = netsOf(r, bridge).find((x) => x.id === networkId);
    if (!n) continue;
    out[r.id] = {
      Name: r.name,
      EndpointID: endpointId(r.id, networkId),
      MacAddress: '',
      IPv4Address: n.ip ? `${n.ip}/${n.prefixLen}` : '',
      IPv6Address: '',
    };
  }
  return out;
}

/** A port free on the host for `protocol` right now, as the kernel picks one. */
function freeHostPort(protocol: 'tcp' | 'udp', hostIp = '0.0.0.0'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const sock = createSocket(hostIp.includes(':') ? 'udp6' : 'udp4');
      sock.on('error', reject);
      sock.bind(0, hostIp, () => {
        const { port } = sock.address();
        sock.close(() => resolve(port));
      });
      return;
    }
    const server = createServer();
    server.on('error', reject);
    server.listen(0, hostIp, () => {
      const a = server.address();
      server.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}
