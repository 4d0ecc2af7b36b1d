// Drives one task's container through prepare → create → start → monitor → stop →
// remove, one step at a time, reporting every state change. The manager owns the
// desired state; this runner owns the observed state and only moves it forward.
import type {
  ContainerNetworkAttachment,
  Logger,
  PublishedPort,
  Task,
  TaskState,
  TaskStatus,
} from '../../lib/index.js';
import {
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
  describeError,
  monoMs,
  NODE_HOSTNAME_LABEL,
  SWARM_NODE_ID_LABEL,
  SWARM_SERVICE_ID_LABEL,
  SWARM_SERVICE_NAME_LABEL,
  SWARM_TASK_ID_LABEL,
  SWARM_TASK_NAME_LABEL,
  TERMINAL_TASK_STATES,
  taskServiceVip,
  taskStateRank,
} from '../../lib/index.js';
import { rootfsMountFlags } from '../runtime/index.js';
import type {
  ContainerEvent,
  ContainerObservation,
  ImagePort,
  NetworkPort,
  RootfsPort,
  RuntimePort,
} from './ports.js';
import { exitError, movesForward, statusOf } from './task-status.js';

export interface TaskRunnerDeps {
  images: ImagePort;
  rootfs: RootfsPort;
  network: NetworkPort;
  runtime: RuntimePort;
  log: Logger;
  now: () => Date;
  report: (taskId: string, status: TaskStatus) => void;
  /** Resolves a task's networks to definitions (from assignments or the local allocator). */
  networksFor: (task: Task) => Promise<ContainerNetworkAttachment[]>;
  /** Secret and config files for the task, resolved from its assignments. */
  filesFor: (task: Task) => Promise<NonNullable<import('./ports.js').ContainerCreateRequest['files']>>;
  nodeHostname: string;
  /** How long a stopping task behind a service VIP keeps running once out of the VIP's set; default VIP_DRAIN_MS. */
  vipDrainMs?: number;
}

const DEFAULT_STOP_GRACE_MS = 10_000;
/**
 * A task behind a service VIP leaves the VIP's set when the manager asks it to stop (the
 * dispatcher's views drop it); the nodes' tables follow within moments. Until then a
 * client may still be sent to it, so it is stopped only after this delay (Swarm waits
 * 2 s for its gossip to converge, for the same reason); bounded by the stop grace period.
 */
export const VIP_DRAIN_MS = 2_000;
const NS_PER_MS = 1_000_000;

export class TaskRunner {
  private task: Task;
  private observed: TaskState | undefined;
  private containerCreated = false;
  private busy: Promise<void> = Promise.resolve();
  private removed = false;
  private hasHealthcheck = false;
  private networkReleased = false;
  private containerLost = false;
  /** When each step of this task's start ended (ms since it was accepted): the `task start phases` debug line. */
  private phases: Record<string, number> | undefined;
  private acceptedAt = 0;
  private readonly log: Logger;

  constructor(
    task: Task,
    private readonly deps: TaskRunnerDeps,
    adopted?: ContainerObservation,
  ) {
    this.task = task;
    this.log = deps.log.child({ taskId: task.ID, serviceId: task.ServiceID });
    this.hasHealthcheck = hasHealthCheck(task.Spec.ContainerSpec?.HealthCheck?.Test);
    const known = task.Status?.State;
    if (known && taskStateRank(known) >= taskStateRank('accepted')) this.observed = known;
    if (adopted) {
      this.containerCreated = true;
      this.adopt(adopted);
    } else if (
      this.observed &&
      taskStateRank(this.observed) >= taskStateRank('starting') &&
      !this.isTerminal
    ) {
      // The manager says it runs here, yet a new agent found no container for it (the
      // node's state was wiped or restored from a backup): it is failed, and replaced.
      this.containerLost = true;
    }
  }

  get id(): string {
    return this.task.ID;
  }

  get state(): TaskState | undefined {
    return this.observed;
  }

  get isTerminal(): boolean {
    return this.observed !== undefined && TERMINAL_TASK_STATES.has(this.observed);
  }

  /** A newer version of the task from the manager (desired state may have changed). */
  update(task: Task): Promise<void> {
    this.task = task;
    return this.enqueue(() => this.reconcile());
  }

  /** The task left this node's assignments: stop and remove everything of it. */
  remove(): Promise<void> {
    this.removed = true;
    return this.enqueue(() => this.teardown());
  }

  handleEvent(event: ContainerEvent): void {
    if (event.id !== this.task.ID) return;
    void this.enqueue(async () => {
      if (event.type === 'exit') await this.onExit(event.exitCode, event.oomKilled);
      else if (event.health === 'healthy' && this.observed === 'starting') {
        this.advance('running', 'started');
      } else if (event.health === 'unhealthy' && !this.isTerminal) {
        this.log.warn('container unhealthy; stopping it');
        await this.stopContainer();
        this.advance('failed', 'unhealthy container', { Err: 'task: container unhealthy' });
        await this.releaseNetwork();
      }
    });
  }

  /** Waits for every queued step; for tests and orderly shutdown. */
  settled(): Promise<void> {
    return this.busy;
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.busy = this.busy.then(step).catch((e: unknown) => {
      this.log.error({ err: describeError(e) }, 'task step failed');
    });
    return this.busy;
  }

  private get desired(): TaskState {
    return this.task.DesiredState;
  }

  private advance(state: TaskState, message: string, extra: Partial<TaskStatus> = {}): void {
    if (!movesForward(this.observed, state)) return;
    this.observed = state;
    this.log.info({ state, message, err: extra.Err, mono: monoMs() }, 'task state');
    this.deps.report(this.task.ID, statusOf(state, message, this.deps.now(), extra));
  }

  private async reconcile(): Promise<void> {
    if (this.removed) return;
    if (this.desired === 'remove') {
      // The service is gone: remove everything, then say so; the manager deletes the task.
      await this.teardown();
      this.advance('remove', 'removed');
      return;
    }
    if (this.stopRequested()) {
      const spent = await this.drain();
      await this.stopContainer(spent);
      if (!this.isTerminal) this.advance('shutdown', 'shutdown');
      await this.releaseNetwork();
      return;
    }
    if (this.containerLost) {
      this.containerLost = false;
      this.advance('failed', 'container missing', {
        Err: 'task: its container no longer exists on this node',
      });
      await this.releaseNetwork();
      return;
    }
    if (this.isTerminal || (this.observed && taskStateRank(this.observed) >= taskStateRank('starting')))
      return;
    if (this.observed !== 'ready') await this.prepare();
    // Desired 'ready' (a stop-first update's next task, a delayed restart): prepared, not started yet.
    // Not when it was asked to stop or left the node while it was being prepared.
    if (this.observed === 'ready' && this.desired !== 'ready' && !this.stoppedMeanwhile()) await this.start();
  }

  /** Pull, root filesystem, networks, container: everything up to `ready`. */
  private async prepare(): Promise<void> {
    const spec = this.task.Spec.ContainerSpec;
    if (!spec?.Image) {
      this.advance('rejected', 'rejected', { Err: 'task has no container image' });
      return;
    }
    this.advance('accepted', 'accepted');
    this.advance('preparing', 'preparing');
    this.acceptedAt = performance.now();
    this.phases = {};
    let step = 'pulling image';
    try {
      const image = await this.deps.images.ensure(spec.Image);
      this.mark('image');
      this.hasHealthcheck = hasHealthCheck(spec.HealthCheck?.Test ?? image.config.Healthcheck?.Test);
      if (this.stoppedMeanwhile()) return;
      // The root filesystem, the networks and the secret files do not depend on each
      // other: prepared at once, and the container is created while its interfaces are
      // attached. Every step settles before a failure is handled, so the teardown never
      // races a step still in flight.
      const [mounted, networked, resolvedFiles] = await Promise.allSettled([
        this.deps.rootfs
          .mount(this.task.ID, image.id, rootfsMountFlags(spec))
          .finally(() => this.mark('rootfs')),
        this.deps
          .networksFor(this.task)
          .then((attachments) => this.sandbox(attachments))
          .finally(() => this.mark('sandbox')),
        this.deps.filesFor(this.task).finally(() => this.mark('files')),
      ]);
      const attaching = networked.status === 'fulfilled' ? networked.value.attached : undefined;
      if (
        mounted.status === 'rejected' ||
        networked.status === 'rejected' ||
        resolvedFiles.status === 'rejected'
      )
        await attaching?.catch(() => {});
      step = 'mounting root filesystem';
      if (mounted.status === 'rejected') throw mounted.reason;
      step = 'attaching networks';
      if (networked.status === 'rejected') throw networked.reason;
      step = 'creating container';
      if (resolvedFiles.status === 'rejected') throw resolvedFiles.reason;
      const { rootfs } = mounted.value;
      const { attachments, netnsPath, resolvConf } = networked.value;
      const [created, attached] = await Promise.allSettled([
        this.deps.runtime
          .create({
            id: this.task.ID,
            name: containerName(this.task),
            rootfs,
            imageConfig: image.config,
            spec,
            resources: this.task.Spec.Resources,
            netnsPath,
            hostname: spec.Hostname || this.task.ID.slice(0, 12),
            resolvConf,
            labels: containerLabels(this.task, this.deps.nodeHostname),
            files: resolvedFiles.value,
          })
          .finally(() => this.mark('create')),
        networked.value.attached.finally(() => this.mark('attach')),
      ]);
      if (created.status === 'fulfilled') this.containerCreated = true;
      step = 'attaching networks';
      if (attached.status === 'rejected') throw attached.reason;
      step = 'creating container';
      if (created.status === 'rejected') throw created.reason;
      const net = attached.value;
      if (this.deps.network.setNames) {
        await this.deps.network.setNames(this.task.ID, namesFor(this.task, attachments, net.addresses));
        this.mark('names');
      }
      this.advance('ready', 'prepared');
    } catch (e) {
      await this.fail(step, e);
    }
  }

  /** The task's network namespace, and its interfaces attaching in `attached` when the layer can. */
  private async sandbox(attachments: ContainerNetworkAttachment[]): Promise<{
    attachments: ContainerNetworkAttachment[];
    netnsPath: string;
    resolvConf: string | undefined;
    attached: Promise<{ addresses: { networkId: string; ip: string }[] }>;
  }> {
    const { network } = this.deps;
    const ports = publishedPorts(this.task);
    if (network.sandbox) {
      const sb = await network.sandbox(this.task.ID, attachments, ports);
      return { attachments, netnsPath: sb.netnsPath, resolvConf: sb.resolvConf, attached: sb.attached };
    }
    const net = await network.attach(this.task.ID, attachments, ports);
    return {
      attachments,
      netnsPath: net.netnsPath,
      resolvConf: net.resolvConf,
      attached: Promise.resolve({ addresses: net.addresses }),
    };
  }

  private async start(): Promise<void> {
    try {
      this.advance('starting', 'starting');
      const started = await this.deps.runtime.start(this.task.ID);
      this.mark('start');
      if (this.phases) this.log.debug({ phases: this.phases }, 'task start phases');
      this.phases = undefined;
      if (started.state === 'exited') {
        await this.onExit(started.exitCode ?? 0, started.oomKilled ?? false);
      } else if (!this.hasHealthcheck || started.health === 'healthy') {
        this.advance('running', 'started', {
          ContainerStatus: { ContainerID: this.task.ID, PID: started.pid },
        });
      }
    } catch (e) {
      await this.fail('starting container', e);
    }
  }

  /** Where the task's start stands: what ended when, for the `task start phases` line. */
  private mark(phase: string): void {
    if (this.phases) this.phases[phase] = Math.round(performance.now() - this.acceptedAt);
  }

  private async fail(step: string, e: unknown): Promise<void> {
    const message = describeError(e);
    this.log.warn({ step, err: message }, 'task could not start');
    const state: TaskState =
      this.observed && taskStateRank(this.observed) >= taskStateRank('starting') ? 'failed' : 'rejected';
    // The addresses go back before the state is reported (see onExit).
    await this.releaseNetwork().catch((err: unknown) =>
      this.log.warn({ err: describeError(err) }, 'could not release the network of a failed task'),
    );
    this.advance(state, state === 'rejected' ? 'preparing failed' : 'starting failed', { Err: message });
    await this.teardown(false);
  }

  /** The manager asked the task to stop (desired 'complete' is a job running to its end, not a stop). */
  private stopRequested(): boolean {
    return taskStateRank(this.desired) > taskStateRank('running') && this.desired !== 'complete';
  }

  private stoppedMeanwhile(): boolean {
    return this.removed || this.stopRequested();
  }

  private async onExit(exitCode: number, oomKilled: boolean): Promise<void> {
    if (this.isTerminal) return;
    // Before the state is reported: the manager frees the task's addresses on that report
    // and may hand them to a replacement on this node at once, which must find them free.
    await this.releaseNetwork().catch((err: unknown) =>
      this.log.warn({ err: describeError(err) }, 'could not release the network of an exited task'),
    );
    const ContainerStatus = { ContainerID: this.task.ID, ExitCode: exitCode };
    if (this.stopRequested()) {
      this.advance('shutdown', 'shutdown', { ContainerStatus });
    } else if (exitCode === 0 && !oomKilled) {
      this.advance('complete', 'finished', { ContainerStatus });
    } else {
      this.advance('failed', 'task: non-zero exit', { Err: exitError(exitCode, oomKilled), ContainerStatus });
    }
  }

  /**
   * A stopped task gives back its addresses and published ports at once (as Swarm
   * does), so a replacement can take them; the container stays for its logs until
   * the task is removed.
   */
  private async releaseNetwork(): Promise<void> {
    if (this.networkReleased) return;
    this.networkReleased = true;
    if (this.deps.network.setNames) await this.deps.network.setNames(this.task.ID, []).catch(() => {});
    await this.deps.network.detach(this.task.ID, networkIdsOf(this.task));
  }

  /**
   * Lets the nodes take a running task behind a VIP out of its set before it stops. A
   * fixed delay, not "until this node's tables left it out" (which on one node takes
   * ~100 ms): the delay also lets requests already sent to it finish, and an app that
   * exits at once on SIGTERM would cut them (test/system/orchestration/vip-drain.test.ts).
   */
  private async drain(): Promise<number> {
    if (this.observed !== 'running' || !this.containerCreated) return 0;
    const behindVip = (this.task.NetworksAttachments ?? []).some(
      (a) => taskServiceVip(this.task, a.Network.Id) !== undefined,
    );
    if (!behindVip) return 0;
    const ms = Math.min(this.deps.vipDrainMs ?? VIP_DRAIN_MS, this.graceMs());
    if (ms <= 0) return 0;
    const drops = await this.dropsStopSignal();
    this.log.info(
      { ms, graceOverlaps: drops, mono: monoMs() },
      'draining: out of the service VIP, stopping after the delay',
    );
    await new Promise((resolve) => setTimeout(resolve, ms));
    // A process that drops its stop signal unseen (a PID 1 without a handler, as httpd
    // run as the command) only ends with SIGKILL after the grace period: the drain counts
    // as part of that grace, so it lives `grace` after leaving the VIP, as it would under
    // Docker, not drain + grace. It still serves the requests sent to it for the whole
    // drain. Asked again: one that took a handler meanwhile gets its whole grace.
    return drops && (await this.dropsStopSignal()) ? ms : 0;
  }

  private async dropsStopSignal(): Promise<boolean> {
    const signal = this.task.Spec.ContainerSpec?.StopSignal;
    return (await this.deps.runtime.dropsStopSignal?.(this.task.ID, signal).catch(() => false)) ?? false;
  }

  private graceMs(): number {
    const grace = this.task.Spec.ContainerSpec?.StopGracePeriod;
    return grace === undefined ? DEFAULT_STOP_GRACE_MS : Math.round(grace / NS_PER_MS);
  }

  /** `spentMs`: how much of the grace period the drain already counted (see drain). */
  private async stopContainer(spentMs = 0): Promise<void> {
    if (!this.containerCreated) return;
    const obs = await this.deps.runtime.inspect(this.task.ID);
    // A created container's process (and its conmon) waits to be started: it goes too.
    if (obs?.state === 'running' || obs?.state === 'created') {
      const since = monoMs();
      const graceMs = Math.max(0, this.graceMs() - spentMs);
      // The drain took the whole grace of a process that drops its stop signal: sending
      // that signal would change nothing (one exec less on the way of the next task).
      const signal = spentMs > 0 && graceMs === 0 ? 'SIGKILL' : this.task.Spec.ContainerSpec?.StopSignal;
      await this.deps.runtime.stop(this.task.ID, graceMs, signal);
      this.log.debug({ mono: since, stopMs: Math.round((monoMs() - since) * 10) / 10 }, 'container stopped');
    }
  }

  private async teardown(stopFirst = true): Promise<void> {
    if (stopFirst) await this.stopContainer();
    if (this.deps.network.setNames) await this.deps.network.setNames(this.task.ID, []).catch(() => {});
    if (this.containerCreated) await this.deps.runtime.remove(this.task.ID);
    this.containerCreated = false;
    await this.deps.network.detach(this.task.ID, networkIdsOf(this.task));
    await this.deps.rootfs.remove(this.task.ID);
    if (this.removed && !this.isTerminal) this.advance('shutdown', 'removed');
  }

  /** Takes over a container found running (or exited) after the agent restarted. */
  private adopt(obs: ContainerObservation): void {
    if (obs.state === 'running') {
      const healthy = obs.health === undefined || obs.health === 'healthy';
      if (healthy)
        this.advance('running', 'started', { ContainerStatus: { ContainerID: obs.id, PID: obs.pid } });
      else this.advance('starting', 'starting');
    } else if (obs.state === 'exited') {
      void this.enqueue(() => this.onExit(obs.exitCode ?? 0, obs.oomKilled ?? false));
    }
  }
}

function networkIdsOf(task: Task): string[] {
  return (task.NetworksAttachments ?? []).map((a) => a.Network.Id);
}

function hasHealthCheck(test: string[] | undefined): boolean {
  return test !== undefined && test.length > 0 && test[0] !== 'NONE';
}

/** Container names: compose-style for compose projects, Swarm-style otherwise. */
export function containerName(task: Task): string {
  const labels = task.Spec.ContainerSpec?.Labels ?? {};
  const project = labels[COMPOSE_PROJECT_LABEL];
  const service = labels[COMPOSE_SERVICE_LABEL];
  if (project && service) return `${project}-${service}-${task.Slot ?? 1}`;
  const serviceName = task.Labels?.[SWARM_SERVICE_NAME_LABEL] ?? task.ServiceID;
  return `${serviceName}.${task.Slot ?? task.NodeID ?? 'x'}.${task.ID}`;
}

/** Labels Swarm puts on task containers, plus the spec's own. */
export function containerLabels(task: Task, nodeHostname: string): Record<string, string> {
  return {
    ...(task.Spec.ContainerSpec?.Labels ?? {}),
    [SWARM_TASK_ID_LABEL]: task.ID,
    [SWARM_TASK_NAME_LABEL]: containerName(task),
    [SWARM_SERVICE_ID_LABEL]: task.ServiceID,
    [SWARM_SERVICE_NAME_LABEL]: task.Labels?.[SWARM_SERVICE_NAME_LABEL] ?? '',
    [SWARM_NODE_ID_LABEL]: task.NodeID ?? '',
    [NODE_HOSTNAME_LABEL]: nodeHostname,
  };
}

function publishedPorts(task: Task): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const p of task.Endpoint?.Ports ?? task.Endpoint?.Spec?.Ports ?? []) {
    if (!p.TargetPort || !p.PublishedPort || p.Protocol === 'sctp') continue;
    out.push({ containerPort: p.TargetPort, hostPort: p.PublishedPort, protocol: p.Protocol ?? 'tcp' });
  }
  return out;
}

function namesFor(
  task: Task,
  attachments: ContainerNetworkAttachment[],
  addresses: { networkId: string; ip: string }[],
): { networkId: string; ip: string; names: string[] }[] {
  const service = task.Labels?.[SWARM_SERVICE_NAME_LABEL];
  return addresses.map((a) => {
    const att = attachments.find((x) => x.network.id === a.networkId);
    const names = [...(att?.aliases ?? [])];
    if (service) names.push(service, `tasks.${service}`);
    if (task.Spec.ContainerSpec?.Hostname) names.push(task.Spec.ContainerSpec.Hostname);
    return { networkId: a.networkId, ip: a.ip, names: [...new Set(names)] };
  });
}
