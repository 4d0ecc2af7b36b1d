import { describe, expect, it } from 'vitest';
import type { Task, TaskState } from '../../../lib/index.js';
import {
  type DependencyGraph,
  type StackServiceState,
  startGates,
  updateGate,
  validateDependencyGraph,
} from '../../../manager/orchestrator/index.js';
import { service, T0 } from './fixtures.js';

function task(id: string, state: TaskState, exitCode?: number): Task {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: T0,
    UpdatedAt: T0,
    ServiceID: 'x',
    Spec: {},
    Status: { State: state, ...(exitCode === undefined ? {} : { ContainerStatus: { ExitCode: exitCode } }) },
    DesiredState: state === 'complete' ? 'complete' : 'running',
  };
}

function stack(
  states: Record<string, { replicas?: number; job?: number; tasks: Task[] }>,
): Map<string, StackServiceState> {
  return new Map(
    Object.entries(states).map(([name, s]) => [
      name,
      {
        service: service(name, {
          Mode:
            s.job !== undefined
              ? { ReplicatedJob: { TotalCompletions: s.job } }
              : { Replicated: { Replicas: s.replicas ?? 1 } },
        }),
        tasks: s.tasks,
      },
    ]),
  );
}

const graph: DependencyGraph = new Map([
  ['db', []],
  ['migrate', [{ service: 'db', condition: 'service_healthy' }]],
  [
    'web',
    [
      { service: 'db', condition: 'service_started' },
      { service: 'migrate', condition: 'service_completed_successfully' },
    ],
  ],
]);

describe('depends_on', () => {
  it('starts services in dependency order as their conditions are met', () => {
    let gates = startGates(graph, stack({ db: { replicas: 2, tasks: [] } }));
    expect(gates.get('db')).toEqual({ mayStart: true, waitingFor: [], failed: [] });
    expect(gates.get('migrate')?.mayStart).toBe(false);
    expect(gates.get('web')?.waitingFor).toEqual([
      'db (service_started)',
      'migrate (service_completed_successfully)',
    ]);

    // Started but not yet healthy (a health-checked task is 'starting' until it passes).
    gates = startGates(
      graph,
      stack({ db: { replicas: 2, tasks: [task('d1', 'starting'), task('d2', 'starting')] } }),
    );
    expect(gates.get('migrate')?.waitingFor).toEqual(['db (service_healthy)']);
    expect(gates.get('web')?.waitingFor).toEqual(['migrate (service_completed_successfully)']);

    // One of two replicas healthy is not enough.
    gates = startGates(
      graph,
      stack({ db: { replicas: 2, tasks: [task('d1', 'running'), task('d2', 'starting')] } }),
    );
    expect(gates.get('migrate')?.mayStart).toBe(false);

    const db = { replicas: 2, tasks: [task('d1', 'running'), task('d2', 'running')] };
    gates = startGates(graph, stack({ db, migrate: { job: 1, tasks: [] } }));
    expect(gates.get('migrate')?.mayStart).toBe(true);
    expect(gates.get('web')?.mayStart).toBe(false);

    gates = startGates(graph, stack({ db, migrate: { job: 1, tasks: [task('m1', 'complete', 0)] } }));
    expect(gates.get('web')).toEqual({ mayStart: true, waitingFor: [], failed: [] });
  });

  it('reports a dependency that failed to complete', () => {
    const db = { replicas: 1, tasks: [task('d1', 'running')] };
    const failed = task('m1', 'failed', 2);
    failed.Status.Err = 'task: non-zero exit (2)';
    failed.DesiredState = 'shutdown';
    const gates = startGates(graph, stack({ db, migrate: { job: 1, tasks: [failed] } }));
    expect(gates.get('web')?.mayStart).toBe(false);
    expect(gates.get('web')?.failed).toEqual([
      'migrate did not complete successfully (task m1: task: non-zero exit (2))',
    ]);
  });

  it('never holds back a service that has already started', () => {
    const gates = startGates(graph, stack({ web: { tasks: [task('w1', 'running')] } }));
    expect(gates.get('web')?.mayStart).toBe(true);
  });

  it('rejects unknown dependencies and cycles, naming them', () => {
    expect(() => validateDependencyGraph(graph)).not.toThrow();
    expect(() =>
      validateDependencyGraph(new Map([['web', [{ service: 'cache', condition: 'service_started' }]]])),
    ).toThrow('service "web" depends on undefined service "cache"');
    const cyclic: DependencyGraph = new Map([
      ['a', [{ service: 'b', condition: 'service_started' }]],
      ['b', [{ service: 'c', condition: 'service_started' }]],
      ['c', [{ service: 'a', condition: 'service_healthy' }]],
    ]);
    expect(() => validateDependencyGraph(cyclic)).toThrow(
      'dependency cycle between services: a -> b -> c -> a',
    );
  });
});

describe('depends_on on a job gates an update', () => {
  const deps = [{ service: 'migrate', condition: 'service_completed_successfully' as const }];
  const T1 = '2026-01-01T00:01:00.000Z';
  const T2 = '2026-01-01T00:02:00.000Z';
  const jobTask = (state: TaskState, desired: Task['DesiredState'], iteration = 1): Task => ({
    ...task(`m-${state}`, state),
    Slot: 1,
    DesiredState: desired,
    JobIteration: { Index: iteration },
  });
  const states = (tasks: Task[], lastExecution = T1): Map<string, StackServiceState> => {
    const migrate = service('migrate', { Mode: { ReplicatedJob: { TotalCompletions: 1 } } });
    migrate.JobStatus = { JobIteration: { Index: 1 }, LastExecution: lastExecution };
    return new Map([['migrate', { service: migrate, tasks }]]);
  };
  // web right after the deploy's update (applyServiceUpdate): PreviousSpec, no UpdateStatus.
  const web = { ...service('web', {}, 'web:v2'), PreviousSpec: service('web').Spec, UpdatedAt: T2 };

  it('holds the update while the job’s run goes on, and opens when it completed', () => {
    expect(updateGate(web, deps, states([]))).toEqual({
      state: 'hold',
      waitingFor: ['migrate (0/1 completed)'],
    });
    expect(updateGate(web, deps, states([jobTask('running', 'complete')])).state).toBe('hold');
    expect(updateGate(web, deps, states([jobTask('complete', 'complete')]))).toEqual({ state: 'open' });
  });

  it('ignores a run of an older iteration', () => {
    expect(updateGate(web, deps, states([jobTask('complete', 'complete', 0)])).state).toBe('hold');
  });

  it('holds the update back, naming the job and its error, when the run failed for good', () => {
    const failed = jobTask('failed', 'shutdown');
    failed.Status.Err = 'task: non-zero exit (1)';
    expect(updateGate(web, deps, states([failed]))).toEqual({
      state: 'failed',
      reason: `update held back: migrate did not complete successfully (task ${failed.ID}: task: non-zero exit (1))`,
    });
  });

  it('leaves alone an update already under way, a first deploy, and a job run begun after the update', () => {
    const running = states([jobTask('running', 'complete')]);
    expect(updateGate({ ...web, UpdateStatus: { State: 'updating' } }, deps, running).state).toBe('open');
    expect(updateGate(service('web'), deps, running).state).toBe('open');
    const later = states([jobTask('running', 'complete')], '2026-01-01T00:03:00.000Z');
    expect(updateGate(web, deps, later).state).toBe('open');
  });

  it('is open for other conditions and for services that are not jobs', () => {
    expect(updateGate(web, [{ service: 'migrate', condition: 'service_started' }], states([])).state).toBe(
      'open',
    );
    const db = new Map([['migrate', { service: service('migrate'), tasks: [] }]]);
    expect(updateGate(web, deps, db).state).toBe('open');
  });
});
