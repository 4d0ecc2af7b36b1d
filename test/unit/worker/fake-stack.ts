// FAKE container stack for worker unit tests: records calls and simulates container
// lifecycles in memory. The real layers are exercised by the system tests.
import {
  type ContainerCreateRequest,
  type ContainerEvent,
  type ContainerObservation,
  type ImagePort,
  type NetworkPort,
  type RootfsPort,
  type RuntimePort,
  Worker,
  type WorkerOptions,
} from '../../../agent/worker/index.js';

export class FakeStack {
  calls: string[] = [];

  /** A worker over this stack (not started); its network port is the stack's as it is now. */
  worker(
    onStatus: WorkerOptions['onStatus'],
    opts: {
      nodeHostname?: string;
      networksFor?: WorkerOptions['networksFor'];
      foreign?: WorkerOptions['foreign'];
    } = {},
  ): Worker {
    return new Worker({
      images: this.images,
      rootfs: this.rootfs,
      network: this.network,
      runtime: this.runtime,
      nodeHostname: opts.nodeHostname ?? 'n1',
      onStatus,
      networksFor: opts.networksFor ?? (async () => []),
      ...(opts.foreign ? { foreign: opts.foreign } : {}),
    });
  }
  /** Writable layers mounted, and sandboxes (namespaces, attachments), as a node's disk holds them. */
  mounted = new Set<string>();
  sandboxes = new Set<string>();
  containers = new Map<string, ContainerObservation & { req?: ContainerCreateRequest }>();
  missingImages = new Set<string>();
  healthOnStart: 'starting' | undefined;
  /** The grace period of each stop, in order, with SIGKILL when that is the signal asked for. */
  stopGraces: string[] = [];
  /** Whether containers' main processes drop their stop signal (a PID 1 without a handler). */
  dropsStop = false;
  private listeners = new Set<(e: ContainerEvent) => void>();
  private nextPid = 1000;

  images: ImagePort = {
    ensure: async (ref) => {
      this.calls.push(`pull ${ref}`);
      if (this.missingImages.has(ref)) throw new Error(`No such image: ${ref}`);
      return { id: `sha256:${ref}`, config: { Cmd: ['sh'] } };
    },
  };

  rootfs: RootfsPort = {
    mount: async (id) => {
      this.calls.push(`mount ${id}`);
      this.mounted.add(id);
      return { rootfs: `/fake/${id}` };
    },
    remove: async (id) => {
      this.calls.push(`umount ${id}`);
      this.mounted.delete(id);
    },
    list: async () => [...this.mounted],
  };

  network: NetworkPort = {
    attach: async (id) => {
      this.calls.push(`attach ${id}`);
      this.sandboxes.add(id);
      return { netnsPath: `/fake/netns/${id}`, addresses: [] };
    },
    detach: async (id) => {
      this.calls.push(`detach ${id}`);
      this.sandboxes.delete(id);
    },
    sandboxes: async () => [...this.sandboxes],
  };

  runtime: RuntimePort = {
    create: async (req) => {
      this.calls.push(`create ${req.id}`);
      this.containers.set(req.id, { id: req.id, state: 'created', labels: req.labels, req });
    },
    start: async (id) => {
      this.calls.push(`start ${id}`);
      const c = this.mustGet(id);
      c.state = 'running';
      c.pid = this.nextPid++;
      if (this.healthOnStart) c.health = this.healthOnStart;
      return { ...c };
    },
    stop: async (id, graceMs, signal) => {
      this.calls.push(`stop ${id}`);
      this.stopGraces.push(signal === 'SIGKILL' ? `${graceMs} SIGKILL` : `${graceMs}`);
      const c = this.mustGet(id);
      // A created container's process waits to be started: it is killed, as crun does.
      if (c.state === 'running' || c.state === 'created') {
        const exitCode = c.state === 'running' ? 143 : 137;
        c.state = 'exited';
        c.exitCode = exitCode;
        this.emit({ type: 'exit', id, exitCode, oomKilled: false });
      }
    },
    dropsStopSignal: async () => this.dropsStop,
    remove: async (id) => {
      this.calls.push(`rm ${id}`);
      this.containers.delete(id);
    },
    inspect: async (id) => {
      const c = this.containers.get(id);
      return c ? { ...c } : undefined;
    },
    list: async () => [...this.containers.values()].map((c) => ({ ...c })),
    onEvent: (l) => {
      this.listeners.add(l);
      return () => this.listeners.delete(l);
    },
  };

  /** Simulates the container's process ending by itself. */
  exit(id: string, exitCode: number, oomKilled = false): void {
    const c = this.mustGet(id);
    c.state = 'exited';
    c.exitCode = exitCode;
    this.emit({ type: 'exit', id, exitCode, oomKilled });
  }

  health(id: string, health: 'healthy' | 'unhealthy'): void {
    this.mustGet(id).health = health;
    this.emit({ type: 'health', id, health });
  }

  emit(e: ContainerEvent): void {
    for (const l of this.listeners) l(e);
  }

  private mustGet(id: string) {
    const c = this.containers.get(id);
    if (!c) throw new Error(`fake: no container ${id}`);
    return c;
  }
}
