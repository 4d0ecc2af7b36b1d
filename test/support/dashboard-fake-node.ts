// A FAKE node for the dashboard: an in-memory API (services, tasks, an events stream the
// caller writes to), no cluster behind it. Shared by the dashboard's scale test
// (test/system/dashboard/scale.test.ts) and its benchmark (bench/dashboard.ts): what they
// see or measure is the dashboard's work alone, not a node's.
import { PassThrough, Readable } from 'node:stream';
import type { Upstream } from '../../dashboard/index.js';
import {
  type Service,
  SWARM_SERVICE_ID_LABEL,
  SWARM_SERVICE_NAME_LABEL,
  SWARM_TASK_ID_LABEL,
  SWARM_TASK_NAME_LABEL,
  type Task,
} from '../../lib/index.js';

export interface FakeNodeSize {
  services: number;
  tasksPerService: number;
}

/** Service `i` of the fake node, `running` of its `tasksPerService` tasks running. */
export function fakeService(i: number, running: number, tasksPerService: number): Service {
  return {
    ID: `svc${String(i).padStart(6, '0')}`,
    Version: { Index: 10 + running },
    CreatedAt: '2025-01-01T00:00:00Z',
    UpdatedAt: '2025-01-01T00:00:00Z',
    Spec: {
      Name: `stack${i % 50}_service${i}`,
      Labels: { 'com.docker.stack.namespace': `stack${i % 50}` },
      Mode: { Replicated: { Replicas: tasksPerService } },
      TaskTemplate: {
        ContainerSpec: { Image: `registry.example/app${i % 20}:1.${i % 7}` },
        Networks: [{ Target: `net${String(i % 50).padStart(4, '0')}` }],
      },
      EndpointSpec: { Ports: i % 10 === 0 ? [{ TargetPort: 80, PublishedPort: 20_000 + i }] : [] },
    },
    ServiceStatus: { RunningTasks: running, DesiredTasks: tasksPerService, CompletedTasks: 0 },
  };
}

/** The fake node: `size.services` services of `size.tasksPerService` running tasks each. */
export class FakeDashboardNode implements Upstream {
  services: Service[];
  readonly tasks: Task[];
  private readonly streams = new Set<PassThrough>();

  constructor(readonly size: FakeNodeSize) {
    this.services = Array.from({ length: size.services }, (_, i) =>
      fakeService(i, size.tasksPerService, size.tasksPerService),
    );
    this.tasks = this.services.flatMap((s) =>
      Array.from({ length: size.tasksPerService }, (_, k) => ({
        ID: `${s.ID}t${k}`,
        Version: { Index: 1 },
        CreatedAt: '2025-01-01T00:00:00Z',
        UpdatedAt: '2025-01-01T00:00:00Z',
        ServiceID: s.ID,
        Slot: k + 1,
        NodeID: 'node1',
        Spec: s.Spec.TaskTemplate ?? {},
        Status: { State: 'running' as const, Timestamp: '2025-01-01T00:00:00Z' },
        DesiredState: 'running' as const,
      })),
    );
  }

  /** How many `/events` streams are open (the page's live connection). */
  get listeners(): number {
    return this.streams.size;
  }

  /** Writes raw event lines to every open `/events` stream. */
  emit(lines: string): void {
    for (const s of this.streams) s.write(lines);
  }

  /** The networks the services are attached to (one per stack). */
  readonly networks = Array.from({ length: 50 }, (_, i) => ({
    Id: `net${String(i).padStart(4, '0')}`,
    Name: `stack${i}_default`,
    Driver: 'overlay',
    Scope: 'swarm',
  }));

  /**
   * A burst: every service now has `running` tasks running, announced by one task event
   * per service (its last task's container dying, or starting again), as the node's
   * `/events` shows its containers, all written at once. Returns the number of events.
   */
  burst(running: number): number {
    this.services = this.services.map((_, i) => fakeService(i, running, this.size.tasksPerService));
    const last = this.size.tasksPerService - 1;
    this.emit(
      this.services
        .map((s) => {
          const task = `${s.ID}t${last}`;
          const e = {
            Type: 'container',
            Action: running > last ? 'start' : 'die',
            Actor: {
              ID: `c${task}`,
              Attributes: {
                name: `${s.Spec.Name}.${last + 1}.${task}`,
                [SWARM_TASK_ID_LABEL]: task,
                [SWARM_TASK_NAME_LABEL]: `${s.Spec.Name}.${last + 1}.${task}`,
                [SWARM_SERVICE_ID_LABEL]: s.ID,
                [SWARM_SERVICE_NAME_LABEL]: s.Spec.Name ?? s.ID,
                ...(running > last ? {} : { exitCode: '137' }),
              },
            },
            scope: 'local',
          };
          return `${JSON.stringify(e)}\n`;
        })
        .join(''),
    );
    return this.services.length;
  }

  async request(r: { method: string; path: string; signal?: AbortSignal }) {
    if (r.path === '/events') {
      const s = new PassThrough();
      this.streams.add(s);
      r.signal?.addEventListener('abort', () => {
        this.streams.delete(s);
        s.destroy();
      });
      return { statusCode: 200, body: s, text: async () => '' };
    }
    const path = r.path.split('?')[0];
    const value =
      path === '/info'
        ? { Name: 'fake-node' }
        : path === '/services'
          ? this.services
          : path === '/tasks'
            ? this.tasks
            : path === '/networks'
              ? this.networks
              : undefined;
    const text = JSON.stringify(value ?? { message: 'not found' });
    const body = Object.assign(Readable.from([Buffer.from(text)]), {
      headers: { 'content-type': 'application/json' },
    });
    return { statusCode: value ? 200 : 404, body, text: async () => text };
  }
}

/**
 * The page's globals as functions run in the browser use them (the project type-checks
 * without the DOM library): `(globalThis as unknown as DashboardPage).document`.
 */
export interface DashboardPage {
  document: {
    querySelectorAll(s: string): ArrayLike<{ textContent: string | null }>;
    querySelector(s: string): { textContent: string | null } | null;
  };
  performance: { now(): number };
  longTasks: { start: number; duration: number }[];
  PerformanceObserver: new (
    cb: (list: { getEntries(): { startTime: number; duration: number }[] }) => void,
  ) => { observe(o: { type: string; buffered: boolean }): void };
}
