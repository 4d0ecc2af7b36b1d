// Runs containers with an OCI runtime (crun by default) under conmon. The agent only
// writes files and starts processes: conmon owns each container, so containers keep
// running, logging and recording their exit while the agent is down, and a new agent
// picks them up again from the state it left on disk (`adopt`).
//
// On disk, per container:
//   <root>/<id>/      container.json, config.json (the bundle), hosts, hostname,
//                     resolv.conf, configs/, ctr.log (k8s-file, rotated by conmon)
//   <runRoot>/<id>/   conmon.pid, pid, exit + oom (conmon's persist dir), secrets/ (tmpfs)
//   <runRoot>/exits/<id>   conmon's exit file
import { EventEmitter } from 'node:events';
import { existsSync, type FSWatcher, constants as fsConstants, readFileSync, statSync, watch } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, SkiffError, silentLogger } from '../../lib/index.js';
import { releaseContainerMounts, VolumeManager } from '../volume/index.js';
import { apparmorEnabled } from './apparmor.js';
import { type AttachSession, attachConmon } from './attach.js';
import { writeBundle } from './bundle.js';
import { conmonErrors, launchConmon } from './conmon.js';
import { type ContainerRecord, ContainerStore, validateContainerId } from './container-store.js';
import { execInContainer } from './exec.js';
import { HealthMonitor } from './health-monitor.js';
import { readImageEtcFile } from './image-etc-file.js';
import { readLogs } from './log-reader.js';
import { OciRuntimeCli } from './oci-runtime-cli.js';
import { DEFAULT_SECCOMP_PROFILE, loadDefaultSeccomp, SeccompBpfCache } from './seccomp.js';
import { dropsSignal, normalizeSignal } from './signals.js';
import { type ContainerStats, readContainerStats, readMemoryLimit } from './stats.js';
import type {
  ContainerCreateSpec,
  ContainerEvent,
  ContainerHealth,
  ContainerInfo,
  ContainerLifecycleEvent,
  ContainerRuntimeOptions,
  ExecOptions,
  ExecResult,
  LogEntry,
  LogOptions,
  SecurityInfo,
  StopOptions,
} from './types.js';
import { parseGroup, parsePasswd, resolveUser } from './user.js';

const DEFAULT_LOG_SIZE_MAX = 10 * 1024 * 1024;

export class ContainerRuntime {
  readonly root: string;
  readonly runRoot: string;
  readonly volumes: VolumeManager;
  /** Emits 'event' with a ContainerEvent (start, exit, health). */
  readonly events = new EventEmitter();
  private readonly log: Logger;
  private readonly store: ContainerStore;
  private readonly oci: OciRuntimeCli;
  private readonly conmon: string;
  private readonly initPath: string | undefined;
  private readonly cgroupParent: string;
  private readonly seccompProfile: string;
  private readonly apparmor: boolean;
  private readonly seccompCache: SeccompBpfCache | undefined;
  private readonly logSizeMax: number;
  private readonly exitDir: string;
  private readonly health = new Map<string, HealthMonitor>();
  /** Containers whose exit was already reported by this process. */
  private readonly reportedExits = new Set<string>();
  private readonly starting = new Set<string>();
  /** Containers whose create runs now: their directory has no record yet, and adopt leaves them be. */
  private readonly creating = new Set<string>();
  /** What stats() read once per running container (labels, cgroup, pid, memory limit). */
  private readonly statsCache = new Map<
    string,
    {
      labels: Record<string, string>;
      cgroupsPath: string | undefined;
      pid: number | undefined;
      memoryLimitBytes: number | undefined;
    }
  >();
  /** Containers whose `destroy` was said before their runtime state went (announceDestroyed). */
  private readonly destroyAnnounced = new Set<string>();
  private exitWatcher: FSWatcher | undefined;
  private exitPoll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: ContainerRuntimeOptions) {
    this.root = opts.root;
    this.runRoot = opts.runRoot;
    this.log = (opts.logger ?? silentLogger).child({ component: 'runtime' });
    this.store = new ContainerStore(opts.root);
    this.volumes = new VolumeManager({ root: opts.volumesRoot ?? join(dirname(opts.root), 'volumes') });
    const runtime = opts.runtime ?? 'crun';
    this.oci = new OciRuntimeCli(findBinary(runtime), join(opts.runRoot, runtime));
    this.conmon = opts.conmonPath ?? findBinary('conmon');
    this.initPath = opts.initPath ?? findOptionalBinary('catatonit') ?? findOptionalBinary('tini');
    this.cgroupParent = opts.cgroupParent ?? `/skiff/${basename(opts.runRoot)}`;
    this.logSizeMax = opts.logSizeMax ?? DEFAULT_LOG_SIZE_MAX;
    this.exitDir = join(opts.runRoot, 'exits');
    this.seccompProfile = opts.seccompProfile ?? DEFAULT_SECCOMP_PROFILE;
    this.apparmor = opts.apparmor ?? apparmorEnabled();
    // runc neither takes crun's compiled-filter annotation nor leaves its program behind.
    this.seccompCache = runtime === 'crun' ? new SeccompBpfCache() : undefined;
    const seccomp = loadDefaultSeccomp(this.seccompProfile);
    if (!seccomp.ok) {
      this.log.error(
        { profile: seccomp.path, err: seccomp.error },
        'no default seccomp profile: containers that do not ask for seccomp=unconfined will be refused',
      );
    }
  }

  /** What this node applies to a container that asks for nothing special (Docker's /info SecurityOptions). */
  securityInfo(): SecurityInfo {
    const options: string[] = [];
    const warnings: string[] = [];
    if (this.apparmor) options.push('name=apparmor');
    const seccomp = loadDefaultSeccomp(this.seccompProfile);
    if (seccomp.ok) options.push('name=seccomp,profile=default');
    else
      warnings.push(
        `WARNING: no default seccomp profile (${seccomp.path}: ${seccomp.error}); containers are refused unless they ask for seccomp=unconfined`,
      );
    if (!this.apparmor)
      warnings.push('WARNING: AppArmor is not enabled in this kernel; containers run without it');
    options.push('name=no-new-privileges');
    return { options, warnings };
  }

  /** Subscribes to container events; returns the unsubscribe function. */
  onEvent(listener: (e: ContainerEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  /** Whether the OCI runtime answers (`crun list` over this node's state): for health checks. */
  async check(): Promise<void> {
    await this.oci.run(['list'], 'listing containers');
  }

  /** Subscribes to the lifecycle as Docker's events show it (create, start, die, destroy, health_status). */
  onLifecycle(listener: (e: ContainerLifecycleEvent) => void): () => void {
    this.events.on('lifecycle', listener);
    return () => this.events.off('lifecycle', listener);
  }

  private lifecycle(
    action: ContainerLifecycleEvent['action'],
    rec: Pick<ContainerRecord, 'id' | 'name' | 'labels'> | undefined,
    extra: Partial<ContainerLifecycleEvent> = {},
  ): void {
    if (!rec || this.events.listenerCount('lifecycle') === 0) return;
    this.events.emit('lifecycle', {
      action,
      id: rec.id,
      name: rec.name,
      labels: rec.labels,
      time: new Date(),
      ...extra,
    } satisfies ContainerLifecycleEvent);
  }

  // ------------------------------------------------------------------ create

  async create(spec: ContainerCreateSpec): Promise<ContainerInfo> {
    validateContainerId(spec.id);
    if (await this.store.read(spec.id)) {
      throw new SkiffError('already_exists', `container ${spec.id} already exists`, {
        hint: 'remove it first or pick another id',
      });
    }
    this.creating.add(spec.id);
    try {
      return await this.createNew(spec);
    } finally {
      this.creating.delete(spec.id);
    }
  }

  private async createNew(spec: ContainerCreateSpec): Promise<ContainerInfo> {
    await this.ensureDirs();
    const stateDir = this.store.dir(spec.id);
    const runDir = this.runDir(spec.id);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await mkdir(runDir, { recursive: true, mode: 0o700 });
    const log = this.log.child({ containerId: spec.id, name: spec.name });
    try {
      const rec = await writeBundle(spec, stateDir, runDir, {
        volumes: this.volumes,
        initPath: this.initPath,
        cgroupParent: this.cgroupParent,
        seccompProfile: this.seccompProfile,
        apparmor: this.apparmor,
        ...(this.seccompCache ? { seccompCache: this.seccompCache } : {}),
      });
      rec.stdin = spec.spec.OpenStdin === true;
      if (spec.stdinOnce) rec.stdinOnce = true;
      await this.store.write(rec);
      await this.launch(rec);
      await this.seccompCache?.learn(spec.id, join(this.oci.stateRoot, spec.id, 'seccomp.bpf'));
      log.debug('container created');
      this.lifecycle('create', rec);
      return await this.inspect(spec.id);
    } catch (e) {
      this.seccompCache?.forget(spec.id);
      await this.cleanup(spec.id).catch((err: unknown) =>
        log.warn({ err }, 'clean-up after a failed create'),
      );
      throw e;
    }
  }

  /** Runs the container's conmon, which runs the OCI runtime's `create`: the container waits for `start`. */
  private async launch(rec: ContainerRecord): Promise<void> {
    const stateDir = this.store.dir(rec.id);
    const runDir = this.runDir(rec.id);
    const msgs = await launchConmon({
      conmon: this.conmon,
      runtimeBinary: this.oci.binary,
      runtimeRoot: this.oci.stateRoot,
      id: rec.id,
      name: rec.name,
      bundle: stateDir,
      pidFile: join(runDir, 'pid'),
      conmonPidFile: join(runDir, 'conmon.pid'),
      logPath: join(stateDir, 'ctr.log'),
      logSizeMax: this.logSizeMax,
      exitDir: this.exitDir,
      persistDir: runDir,
      socketDir: join(this.runRoot, 'sock'),
      conmonLog: join(runDir, 'conmon.log'),
      tty: rec.tty,
      stdin: rec.stdin === true,
      leaveStdinOpen: rec.stdinOnce !== true,
    });
    const pid = msgs[0]?.data ?? -1;
    if (pid <= 0) {
      const detail =
        msgs[0]?.message || (await conmonErrors(join(runDir, 'conmon.log'))) || 'no pid reported';
      throw new SkiffError(createFailureCode(detail), `creating container ${rec.id} failed: ${detail}`, {
        ...(createFailureCode(detail) === 'invalid_argument'
          ? { hint: "check the command and entrypoint: the image's or the ones given" }
          : {}),
      });
    }
  }

  // --------------------------------------------------------------- lifecycle

  async start(id: string): Promise<ContainerInfo> {
    const rec = await this.store.get(id);
    const before = await this.inspect(id);
    if (before.state !== 'created') {
      throw new SkiffError(
        'conflict',
        `container ${id} is ${before.state}, not created; it cannot be started`,
        {
          hint: 'create a new container to run it again',
        },
      );
    }
    this.watchExits();
    // An exit seen while starting is reported after the start event, never before.
    this.starting.add(id);
    try {
      await this.oci.start(id);
      rec.startedAt = new Date().toISOString();
      // Not fsynced: after a power loss the container runs no more, started or not.
      await this.store.write(rec, { durable: false });
      if (rec.health) this.startHealth(rec, new Date(rec.startedAt));
      const info = await this.inspect(id);
      if (info.pid !== undefined) this.emit({ type: 'start', id, pid: info.pid });
      return info;
    } finally {
      this.starting.delete(id);
      void this.onExitFile(id);
    }
  }

  /** Sends the stop signal, then SIGKILL after the grace period; resolves once it exited. */
  async stop(id: string, opts: StopOptions = {}): Promise<ContainerInfo> {
    const rec = await this.store.get(id);
    const signal = normalizeSignal(opts.signal ?? rec.stopSignal);
    const graceMs = opts.graceMs ?? rec.stopGraceMs;
    const before = await this.inspect(id);
    const state = before.state;
    if (state === 'exited' || state === 'unknown') return this.inspect(id);
    // A frozen process takes no signal: it is thawed first, as dockerd does.
    if (before.paused) await this.resume(id);
    this.stopHealth(id);
    if (state === 'running') {
      await this.signal(id, signal);
      if (signal === 'SIGKILL') {
        if (!(await this.waitExit(id, 30_000)))
          throw new SkiffError('timeout', `container ${id} did not exit after SIGKILL`);
        return this.inspect(id);
      }
      if (await this.waitExit(id, graceMs)) return this.inspect(id);
    }
    this.log.info({ containerId: id, graceMs }, 'container did not stop within its grace period; killing it');
    await this.signal(id, 'SIGKILL');
    if (!(await this.waitExit(id, 30_000))) {
      throw new SkiffError('timeout', `container ${id} did not exit after SIGKILL`);
    }
    return this.inspect(id);
  }

  /**
   * Whether the container's main process would drop its stop signal unseen (see
   * dropsSignal): a stop then only ends with SIGKILL after the grace period. False when
   * it does not run or cannot be read.
   */
  async dropsStopSignal(id: string, signal?: string): Promise<boolean> {
    const rec = await this.store.get(id);
    const info = await this.inspect(id);
    if (info.state !== 'running' || info.pid === undefined) return false;
    try {
      const status = await readFile(`/proc/${info.pid}/status`, 'utf8');
      return dropsSignal(status, signal ?? rec.stopSignal);
    } catch {
      return false;
    }
  }

  async kill(id: string, signal = 'SIGKILL'): Promise<void> {
    await this.store.get(id);
    const info = await this.inspect(id);
    if (info.state !== 'running' && info.state !== 'created') {
      throw new SkiffError('conflict', `container ${id} is not running`);
    }
    await this.signal(id, normalizeSignal(signal));
  }

  /**
   * Runs an exited (or never started) container again from the same bundle, root
   * filesystem, network namespace and log: `docker start` of an exited container, and
   * `docker restart`. A running one is stopped first.
   */
  async restart(id: string, stop: StopOptions = {}): Promise<ContainerInfo> {
    const rec = await this.store.get(id);
    const state = (await this.inspect(id)).state;
    if (state === 'running') await this.stop(id, stop);
    else if (state === 'created') return this.start(id);
    this.stopHealth(id);
    const runDir = this.runDir(id);
    if (await this.oci.state(id)) await this.oci.delete(id);
    const conmonPid = await readPid(join(runDir, 'conmon.pid'));
    if (conmonPid !== undefined) await waitGone(conmonPid, 5_000);
    for (const f of ['exit', 'oom', 'pid', 'conmon.pid', 'paused', 'health.json'])
      await rm(join(runDir, f), { force: true });
    await rm(join(this.exitDir, id), { force: true });
    this.reportedExits.delete(id);
    this.statsCache.delete(id);
    delete rec.startedAt;
    await this.store.write(rec);
    await this.launch(rec);
    return this.start(id);
  }

  /** Freezes every process of a running container (the cgroup freezer, through the OCI runtime). */
  async pause(id: string): Promise<void> {
    await this.store.get(id);
    const info = await this.inspect(id);
    if (info.state !== 'running') throw new SkiffError('conflict', `Container ${id} is not running`);
    if (info.paused) throw new SkiffError('conflict', `Container ${id} is already paused`);
    await this.oci.run(['pause', id], `pausing container ${id}`);
    await writeFile(join(this.runDir(id), 'paused'), '');
  }

  async resume(id: string): Promise<void> {
    await this.store.get(id);
    const info = await this.inspect(id);
    if (info.state !== 'running' || !info.paused)
      throw new SkiffError('conflict', `Container ${id} is not paused`);
    await this.oci.run(['resume', id], `resuming container ${id}`);
    await rm(join(this.runDir(id), 'paused'), { force: true });
  }

  /** A new name for the container (its record's; the bundle does not hold it). */
  async rename(id: string, name: string): Promise<void> {
    const rec = await this.store.get(id);
    rec.name = name;
    await this.store.write(rec);
  }

  /** Connects to the container's stdio through conmon (docker attach); resolves once connected. */
  async attach(
    id: string,
    opts: {
      stdin?: Readable;
      onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
      signal?: AbortSignal;
    },
  ): Promise<AttachSession> {
    await this.store.get(id);
    return attachConmon({ dir: join(this.runRoot, 'sock', id), ...opts });
  }

  /** The size of the container's terminal (conmon's control FIFO). */
  async resize(id: string, height: number, width: number): Promise<void> {
    const rec = await this.store.get(id);
    if (!rec.tty) throw new SkiffError('invalid_argument', `container ${id} has no TTY to resize`);
    if ((await this.inspect(id)).state !== 'running')
      throw new SkiffError('conflict', `Container ${id} is not running`);
    // O_NONBLOCK: a FIFO whose conmon is gone fails (ENXIO) instead of waiting for a reader.
    const fd = await open(join(this.store.dir(id), 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    try {
      await fd.write(`1 ${height} ${width}\n`);
    } finally {
      await fd.close();
    }
  }

  /** The host pids of the container's processes (the OCI runtime reads its cgroup). */
  async processes(id: string): Promise<number[]> {
    await this.store.get(id);
    if ((await this.inspect(id)).state !== 'running')
      throw new SkiffError('conflict', `Container ${id} is not running`);
    const out = await this.oci.run(['ps', '--format=json', id], `listing the processes of ${id}`);
    const pids = JSON.parse(out) as unknown;
    return Array.isArray(pids) ? pids.filter((p): p is number => Number.isInteger(p)) : [];
  }

  /** One container's resource usage now, as stats() reads it; undefined when it is not running. */
  async statsOf(id: string): Promise<ContainerStats | undefined> {
    return (await this.stats()).find((s) => s.id === id);
  }

  /**
   * Where the container's filesystem is seen from the host: through its init's
   * /proc/PID/root while it runs (its volumes and tmpfs mounts included), else its root
   * filesystem directory.
   */
  async filesystemRoot(id: string): Promise<string> {
    const rec = await this.store.get(id);
    const info = await this.inspect(id);
    if (info.state === 'running' && info.pid !== undefined) return `/proc/${info.pid}/root`;
    return rec.rootfs;
  }

  private async signal(id: string, signal: string): Promise<void> {
    try {
      await this.oci.kill(id, signal);
    } catch (e) {
      // It may have exited between our check and the signal.
      if ((await this.inspect(id)).state !== 'exited') throw e;
    }
  }

  /** Removes the container; a running one only with `force` (killed first). */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.store.get(id);
    const info = await this.inspect(id);
    if (info.state === 'running' && !opts.force) {
      throw new SkiffError('conflict', `container ${id} is running`, {
        hint: 'stop it first or delete with force',
      });
    }
    if (info.state === 'running' || info.state === 'created') {
      if (info.paused) await this.resume(id);
      await this.signal(id, 'SIGKILL');
      await this.waitExit(id, 30_000);
    }
    const rec = await this.store.read(id);
    await this.cleanup(id);
    this.statsCache.delete(id);
    if (!this.destroyAnnounced.delete(id)) this.lifecycle('destroy', rec);
  }

  /**
   * Says `destroy` now for a container that is gone from the API while its remains are
   * released behind the answer (the Engine API's `rm`, `run --rm`): dockerd says it before
   * the removal answers, and `docker events` readers stop at that answer. delete() then
   * says nothing more.
   */
  async announceDestroyed(id: string): Promise<void> {
    const rec = await this.store.read(id);
    if (!rec) return;
    this.destroyAnnounced.add(id);
    this.lifecycle('destroy', rec);
  }

  /** Removes every trace of a container: runtime state, conmon, mounts, files. Idempotent. */
  private async cleanup(id: string): Promise<void> {
    this.stopHealth(id);
    const runDir = this.runDir(id);
    if (await this.oci.state(id)) await this.oci.delete(id);
    const conmonPid = await readPid(join(runDir, 'conmon.pid'));
    if (conmonPid !== undefined) await waitGone(conmonPid, 5_000);
    await releaseContainerMounts(this.volumes, { containerId: id, runDir });
    await rm(runDir, { recursive: true, force: true });
    await rm(join(this.exitDir, id), { force: true });
    await rm(this.store.dir(id), { recursive: true, force: true });
    this.reportedExits.delete(id);
  }

  // ------------------------------------------------------------------- state

  async inspect(id: string): Promise<ContainerInfo> {
    const rec = await this.store.get(id);
    const runDir = this.runDir(id);
    const info: ContainerInfo = {
      id,
      name: rec.name,
      state: 'unknown',
      createdAt: new Date(rec.createdAt),
      labels: rec.labels,
      bundle: this.store.dir(id),
      logPath: join(this.store.dir(id), 'ctr.log'),
    };
    if (rec.startedAt) info.startedAt = new Date(rec.startedAt);
    const pid = await readPid(join(runDir, 'pid'));
    if (pid !== undefined) info.pid = pid;
    const exit = await readExit(join(runDir, 'exit'), join(this.exitDir, id));
    if (exit) {
      info.state = 'exited';
      info.exitCode = exit.code;
      info.finishedAt = exit.time;
      info.oomKilled =
        existsSync(join(runDir, 'oom')) || (exit.code === 137 && (await cgroupSawOomKill(rec.cgroupsPath)));
    } else {
      const conmonPid = await readPid(join(runDir, 'conmon.pid'));
      if (conmonPid !== undefined && isAlive(conmonPid)) info.state = rec.startedAt ? 'running' : 'created';
      if (info.state === 'running' && existsSync(join(runDir, 'paused'))) info.paused = true;
    }
    const h = this.health.get(id);
    if (h) info.health = structuredClone(h.health);
    else if (rec.health) {
      const saved = await readHealth(join(runDir, 'health.json'));
      if (saved) info.health = saved;
    }
    return info;
  }

  async list(): Promise<ContainerInfo[]> {
    const out: ContainerInfo[] = [];
    for (const id of await this.store.ids()) {
      try {
        out.push(await this.inspect(id));
      } catch (e) {
        if (!(e instanceof SkiffError && e.code === 'not_found')) throw e;
      }
    }
    return out;
  }

  /**
   * Resource usage of the running containers, read now from their cgroups and network
   * namespaces (metrics scrapes). An exited container has no figures and is left out.
   */
  async stats(): Promise<ContainerStats[]> {
    const out: ContainerStats[] = [];
    const ids = await this.store.ids();
    const present = new Set(ids);
    // One listing of the exit files instead of a stat per container.
    const exited = new Set(await readdir(this.exitDir).catch(() => [] as string[]));
    for (const id of this.statsCache.keys()) if (!present.has(id)) this.statsCache.delete(id);
    for (const id of ids) {
      // An exited container has no figures (its exit file is there until it is removed).
      if (exited.has(id)) continue;
      let known = this.statsCache.get(id);
      if (!known) {
        const rec = await this.store.read(id);
        if (!rec?.startedAt) continue;
        const runDir = this.runDir(id);
        if (existsSync(join(runDir, 'exit'))) continue;
        // Running as inspect() decides it: its conmon is alive.
        const conmonPid = await readPid(join(runDir, 'conmon.pid'));
        if (conmonPid === undefined || !isAlive(conmonPid)) continue;
        // What does not change while it runs is read once.
        known = {
          labels: rec.labels,
          cgroupsPath: rec.cgroupsPath,
          pid: await readPid(join(runDir, 'pid')),
          memoryLimitBytes: readMemoryLimit(rec.cgroupsPath),
        };
        this.statsCache.set(id, known);
      }
      out.push(readContainerStats({ id, ...known }));
    }
    return out;
  }

  /**
   * After an agent (re)start: finds the containers left on disk, resumes exit watching
   * and health probes of the running ones, and reports exits that happened while no
   * agent was watching (as 'exit' events and in the returned list).
   */
  async adopt(): Promise<ContainerInfo[]> {
    await this.ensureDirs();
    this.watchExits();
    // A create interrupted by the crash left a directory without a record: undo it.
    for (const id of await this.store.ids()) {
      if (!this.creating.has(id) && !(await this.store.read(id))) {
        this.log.info({ containerId: id }, 'removing a container whose create never finished');
        await this.cleanup(id).catch((err: unknown) =>
          this.log.warn({ err, containerId: id }, 'clean-up failed'),
        );
      }
    }
    const all = await this.list();
    for (const info of all) {
      const rec = await this.store.get(info.id);
      if (info.state === 'running' && rec.health && !this.health.has(info.id)) {
        const saved = info.health;
        this.startHealth(rec, info.startedAt ?? new Date(), saved);
      }
      if (info.state === 'exited') this.reportExit(info);
    }
    this.log.info({ containers: all.length }, 'adopted containers');
    return all;
  }

  /** Stops watching (exit watcher, health probes); containers keep running. */
  close(): void {
    this.closed = true;
    this.exitWatcher?.close();
    this.exitWatcher = undefined;
    if (this.exitPoll) clearInterval(this.exitPoll);
    for (const id of [...this.health.keys()]) this.stopHealth(id);
  }

  // -------------------------------------------------------------------- logs

  /** The container's log entries; rejects on the first iteration when the container does not exist. */
  async *logs(id: string, opts: LogOptions = {}): AsyncGenerator<LogEntry> {
    await this.store.get(id);
    const path = join(this.store.dir(id), 'ctr.log');
    // An exit wakes a follower at once (an exit seen between two waits, at the next one).
    let exited = false;
    let wakeUp = () => {};
    const off = this.onEvent((e) => {
      if (e.type !== 'exit' || e.id !== id) return;
      exited = true;
      wakeUp();
    });
    const wake = () => {
      if (!exited) return new Promise<void>((r) => (wakeUp = r));
      exited = false;
      return Promise.resolve();
    };
    try {
      yield* readLogs(
        path,
        opts,
        async () => {
          try {
            const s = (await this.inspect(id)).state;
            return s === 'running' || s === 'created';
          } catch {
            return false;
          }
        },
        wake,
      );
    } finally {
      off();
    }
  }

  // -------------------------------------------------------------------- exec

  async exec(id: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const rec = await this.store.get(id);
    const info = await this.inspect(id);
    if (info.state !== 'running') {
      throw new SkiffError('conflict', `container ${id} is ${info.state}; exec needs a running container`);
    }
    if (cmd.length === 0) throw new SkiffError('invalid_argument', 'exec needs a command');
    let user = {
      uid: rec.process.user.uid,
      gid: rec.process.user.gid,
      additionalGids: rec.process.user.additionalGids ?? [],
    };
    if (opts.user) {
      const passwd = parsePasswd(await readImageEtcFile(rec.rootfs, '/etc/passwd'));
      const groups = parseGroup(await readImageEtcFile(rec.rootfs, '/etc/group'));
      const r = resolveUser(opts.user, passwd, groups);
      user = { uid: r.uid, gid: r.gid, additionalGids: r.additionalGids };
    }
    const env = new Map(rec.process.env.map((e) => [e.slice(0, e.indexOf('=')), e] as [string, string]));
    for (const e of opts.env ?? []) if (e.indexOf('=') > 0) env.set(e.slice(0, e.indexOf('=')), e);
    const process = {
      ...rec.process,
      terminal: opts.tty === true,
      ...(opts.tty && opts.consoleSize ? { consoleSize: opts.consoleSize } : {}),
      args: cmd,
      env: [...env.values()],
      cwd: opts.cwd ?? rec.process.cwd,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}),
      },
    };
    return execInContainer({
      oci: this.oci,
      conmon: this.conmon,
      id,
      name: rec.name,
      bundle: this.store.dir(id),
      runDir: this.runDir(id),
      process,
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.onOutput ? { onOutput: opts.onOutput } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onStarted ? { onStarted: opts.onStarted } : {}),
    });
  }

  // ------------------------------------------------------------------ health

  private startHealth(rec: ContainerRecord, startedAt: Date, from?: ContainerHealth): void {
    const plan = rec.health;
    if (!plan || this.closed) return;
    this.stopHealth(rec.id);
    const monitor = new HealthMonitor({
      plan,
      startedAt,
      ...(from ? { from } : {}),
      exec: (command, timeoutMs) => this.exec(rec.id, command, { timeoutMs }),
      statePath: join(this.runDir(rec.id), 'health.json'),
      paused: () => existsSync(join(this.runDir(rec.id), 'paused')),
      onChange: (health) => {
        this.log.info({ containerId: rec.id, health: health.status }, 'health changed');
        this.emit({ type: 'health', id: rec.id, health: health.status, failingStreak: health.failingStreak });
      },
    });
    this.health.set(rec.id, monitor);
  }

  private stopHealth(id: string): void {
    this.health.get(id)?.stop();
    this.health.delete(id);
  }

  // ------------------------------------------------------------------- exits

  private watchExits(): void {
    if (this.exitWatcher || this.closed) return;
    try {
      this.exitWatcher = watch(this.exitDir, (_event, file) => {
        if (file) void this.onExitFile(String(file));
      });
      this.exitWatcher.unref();
      this.exitWatcher.on('error', () => undefined);
    } catch (e) {
      this.log.warn({ err: e }, 'cannot watch the exit directory; relying on polling');
    }
    // A safety net for missed inotify events.
    this.exitPoll = setInterval(() => void this.pollExits(), 2_000);
    this.exitPoll.unref();
  }

  private async pollExits(): Promise<void> {
    for (const id of await this.store.ids()) {
      if (!this.reportedExits.has(id) && existsSync(join(this.exitDir, id))) await this.onExitFile(id);
    }
  }

  private async onExitFile(id: string): Promise<void> {
    if (this.reportedExits.has(id) || this.starting.has(id)) return;
    try {
      const info = await this.inspect(id);
      if (info.state === 'exited') this.reportExit(info);
    } catch {
      // not ours or already deleted
    }
  }

  private reportExit(info: ContainerInfo): void {
    if (this.reportedExits.has(info.id)) return;
    this.reportedExits.add(info.id);
    this.stopHealth(info.id);
    this.emit({
      type: 'exit',
      id: info.id,
      exitCode: info.exitCode ?? -1,
      oomKilled: info.oomKilled === true,
      finishedAt: info.finishedAt ?? new Date(),
    });
  }

  /** True once the container exited, false when `timeoutMs` passed first. */
  async waitExit(id: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const exitFile = join(this.exitDir, id);
    const persisted = join(this.runDir(id), 'exit');
    for (;;) {
      if (existsSync(exitFile) || existsSync(persisted)) return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(20, Math.max(1, deadline - Date.now())));
    }
  }

  private emit(e: ContainerEvent): void {
    this.events.emit('event', e);
    if (this.events.listenerCount('lifecycle') === 0) return;
    void this.store.read(e.id).then((rec) => {
      if (e.type === 'start') this.lifecycle('start', rec);
      else if (e.type === 'exit')
        this.lifecycle('die', rec, { exitCode: e.exitCode, oomKilled: e.oomKilled });
      else this.lifecycle('health_status', rec, { health: e.health });
    });
  }

  private runDir(id: string): string {
    return join(this.runRoot, id);
  }

  private async ensureDirs(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await mkdir(this.exitDir, { recursive: true, mode: 0o700 });
    await mkdir(join(this.runRoot, 'sock'), { recursive: true, mode: 0o700 });
  }
}

// ----------------------------------------------------------------- helpers

function findBinary(name: string): string {
  const found = findOptionalBinary(name);
  if (!found) {
    throw new SkiffError('unavailable', `${name} is not installed on this node`, {
      hint: `install it (scripts/setup installs ${name})`,
    });
  }
  return found;
}

function findOptionalBinary(name: string): string | undefined {
  for (const dir of (
    process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  ).split(':')) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

// The small state files below are read synchronously for the same reason as the records.
async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

async function readExit(...paths: string[]): Promise<{ code: number; time: Date } | undefined> {
  for (const p of paths) {
    try {
      const text = readFileSync(p, 'utf8').trim();
      if (text === '') continue;
      const code = Number(text);
      if (!Number.isInteger(code)) continue;
      return { code, time: statSync(p).mtime };
    } catch {
      // try the next one
    }
  }
  return undefined;
}

async function readHealth(path: string): Promise<ContainerHealth | undefined> {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as ContainerHealth;
    for (const r of h.log) {
      r.start = new Date(r.start);
      r.end = new Date(r.end);
    }
    return h;
  } catch {
    return undefined;
  }
}

/**
 * conmon's `oom` marker can land after its exit file; until the container is deleted
 * its memory cgroup still counts the OOM kills, which settles it.
 */
async function cgroupSawOomKill(cgroupsPath: string | undefined): Promise<boolean> {
  if (!cgroupsPath) return false;
  try {
    const text = await readFile(join('/sys/fs/cgroup/memory', cgroupsPath, 'memory.oom_control'), 'utf8');
    return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0) > 0;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie or a recycled pid is not our conmon.
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(text) && text.includes('(conmon)');
  } catch {
    return false;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      return;
    }
    await sleep(10);
  }
}

/**
 * A process that cannot be executed (not found, not executable) is the caller's mistake,
 * as dockerd treats it (400, not 500); anything else the runtime says is the node's.
 */
export function createFailureCode(detail: string): 'invalid_argument' | 'internal' {
  return /executable file .* not found|exec format error/i.test(detail) ? 'invalid_argument' : 'internal';
}
