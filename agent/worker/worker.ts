// The agent's worker: keeps what runs on this node equal to the tasks the managers
// assigned to it. It adopts containers that survived its own restart instead of
// restarting them, and keeps its tasks running while the managers are unreachable.
import type { ContainerNetworkAttachment, Logger, Task, TaskStatus } from '../../lib/index.js';
import { SWARM_TASK_ID_LABEL, silentLogger } from '../../lib/index.js';
import type {
  ContainerCreateRequest,
  ContainerObservation,
  ImagePort,
  NetworkPort,
  RootfsPort,
  RuntimePort,
} from './ports.js';
import { TaskRunner } from './task-runner.js';

export interface TaskStatusUpdate {
  taskId: string;
  status: TaskStatus;
}

export interface WorkerOptions {
  images: ImagePort;
  rootfs: RootfsPort;
  network: NetworkPort;
  runtime: RuntimePort;
  nodeHostname: string;
  /** Receives every task state change, in order per task. */
  onStatus: (update: TaskStatusUpdate) => void;
  networksFor: (task: Task) => Promise<ContainerNetworkAttachment[]>;
  filesFor?: (task: Task) => Promise<NonNullable<ContainerCreateRequest['files']>>;
  /**
   * IDs on the same layers that are not tasks' (standalone containers): never taken for
   * the leftovers of a task.
   */
  foreign?: (id: string) => boolean;
  log?: Logger;
  now?: () => Date;
}

export class Worker {
  private readonly runners = new Map<string, TaskRunner>();
  /** Containers found at start-up, waiting for the first full assignment set. */
  private adoptable = new Map<string, ContainerObservation>();
  /**
   * Writable layers, namespaces and attachments found at start-up without a container
   * (a task being prepared, or torn down, when the agent died): removed unless the first
   * full assignment set still has their task.
   */
  private leftovers = new Set<string>();
  private haveFullSet = false;
  private readonly log: Logger;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly opts: WorkerOptions) {
    this.log = (opts.log ?? silentLogger).child({ component: 'worker' });
  }

  /** Finds containers left running by a previous agent process. Call once, before assignments. */
  async start(): Promise<void> {
    this.unsubscribe = this.opts.runtime.onEvent((event) => this.runners.get(event.id)?.handleEvent(event));
    const containers = await this.opts.runtime.list();
    for (const c of containers) {
      if (c.labels?.[SWARM_TASK_ID_LABEL] === c.id) this.adoptable.set(c.id, c);
    }
    if (this.adoptable.size > 0)
      this.log.info({ containers: this.adoptable.size }, 'found containers to adopt');
    const held = new Set(containers.map((c) => c.id));
    const onDisk = [
      ...((await this.opts.rootfs.list?.()) ?? []),
      ...((await this.opts.network.sandboxes?.()) ?? []),
    ];
    for (const id of onDisk) if (!held.has(id) && !this.opts.foreign?.(id)) this.leftovers.add(id);
    if (this.leftovers.size > 0)
      this.log.info({ tasks: this.leftovers.size }, 'found leftovers of tasks without a container');
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /**
   * The complete set of tasks assigned to this node. Tasks not in it are stopped and
   * removed; containers found at start-up that no task claims are removed too.
   */
  async setAssignments(tasks: Task[]): Promise<void> {
    const wanted = new Set(tasks.map((t) => t.ID));
    const work: Promise<void>[] = tasks.map((t) => this.upsert(t));
    for (const [id, runner] of this.runners) {
      if (!wanted.has(id)) work.push(this.drop(id, runner));
    }
    if (!this.haveFullSet) {
      this.haveFullSet = true;
      for (const [id, c] of this.adoptable) {
        if (!wanted.has(id)) {
          this.log.info({ taskId: id }, 'removing container of a task no longer assigned');
          work.push(this.removeOrphan(c));
        }
      }
      this.adoptable.clear();
      for (const id of this.leftovers) {
        if (wanted.has(id)) continue;
        this.log.info({ taskId: id }, 'removing leftovers of a task no longer assigned');
        work.push(this.removeLeftovers(id));
      }
      this.leftovers.clear();
    }
    await Promise.all(work);
  }

  /** Incremental assignment changes. */
  async applyChanges(changes: { updated: Task[]; removed: string[] }): Promise<void> {
    const work = changes.updated.map((t) => this.upsert(t));
    for (const id of changes.removed) {
      const r = this.runners.get(id);
      if (r) work.push(this.drop(id, r));
    }
    await Promise.all(work);
  }

  tasks(): { id: string; state: string | undefined }[] {
    return [...this.runners.values()].map((r) => ({ id: r.id, state: r.state }));
  }

  /** Whether the container `id` is a task's: assigned, or found at start-up and not yet judged. */
  claims(id: string): boolean {
    return this.runners.has(id) || this.adoptable.has(id) || this.leftovers.has(id);
  }

  /** Resolves when every runner has finished its queued steps. */
  async settled(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.settled()));
  }

  private upsert(task: Task): Promise<void> {
    let runner = this.runners.get(task.ID);
    if (!runner) {
      const adopted = this.adoptable.get(task.ID);
      this.adoptable.delete(task.ID);
      runner = new TaskRunner(
        task,
        {
          images: this.opts.images,
          rootfs: this.opts.rootfs,
          network: this.opts.network,
          runtime: this.opts.runtime,
          log: this.log,
          now: this.opts.now ?? (() => new Date()),
          report: (taskId, status) => this.opts.onStatus({ taskId, status }),
          networksFor: this.opts.networksFor,
          filesFor: this.opts.filesFor ?? (async () => []),
          nodeHostname: this.opts.nodeHostname,
        },
        adopted,
      );
      this.runners.set(task.ID, runner);
    }
    return runner.update(task);
  }

  private async drop(id: string, runner: TaskRunner): Promise<void> {
    await runner.remove();
    this.runners.delete(id);
  }

  private async removeOrphan(c: ContainerObservation): Promise<void> {
    try {
      if (c.state === 'running') await this.opts.runtime.stop(c.id, 10_000);
      await this.opts.runtime.remove(c.id);
      await this.opts.network.detach(c.id, []);
      await this.opts.rootfs.remove(c.id);
    } catch (e) {
      this.log.warn({ taskId: c.id, err: String(e) }, 'could not remove orphaned container');
    }
  }

  /** The namespace, attachments and writable layer of a task that has no container. */
  private async removeLeftovers(id: string): Promise<void> {
    try {
      await this.opts.network.detach(id, []);
      await this.opts.rootfs.remove(id);
    } catch (e) {
      this.log.warn({ taskId: id, err: String(e) }, 'could not remove the leftovers of a task');
    }
  }
}
