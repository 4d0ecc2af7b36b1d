import { describe, expect, it } from 'vitest';
import { renderTable } from '../../../cli/output.js';
import { blockedByFailedJob, evaluateRollout, lastTaskError } from '../../../cli/rollout.js';
import type { Service, Task } from '../../../lib/index.js';

const svc = (over: Partial<Service> = {}): Service => ({
  ID: 's',
  Version: { Index: 3 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: {
    Name: 'web',
    Mode: { Replicated: { Replicas: 2 } },
    TaskTemplate: { ContainerSpec: { Image: 'app:v2' } },
  },
  ...over,
});
const task = (state: Task['Status']['State'], image = 'app:v2', over: Partial<Task> = {}): Task => ({
  ID: Math.random().toString(36).slice(2),
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  ServiceID: 's',
  Spec: { ContainerSpec: { Image: image } },
  Status: { State: state },
  DesiredState: 'running',
  ...over,
});

describe('rollout evaluation (the CI exit-code contract)', () => {
  it('converges only when every wanted replica runs the new spec', () => {
    expect(evaluateRollout(svc(), [task('running'), task('starting')], 0).state).toBe('pending');
    expect(evaluateRollout(svc(), [task('running'), task('running', 'app:v1')], 0).state).toBe('pending');
    expect(evaluateRollout(svc(), [task('running'), task('running')], 0)).toEqual({
      state: 'converged',
      progress: '2/2',
    });
  });

  it('does not count tasks of an older spec with the same image (a restart, an env change)', () => {
    const restarted = svc({
      Spec: {
        Name: 'web',
        Mode: { Replicated: { Replicas: 2 } },
        TaskTemplate: { ContainerSpec: { Image: 'app:v2' }, ForceUpdate: 1 },
      },
    });
    // Right after the update, before the orchestrator has acted on it: no UpdateStatus yet.
    expect(evaluateRollout(restarted, [task('running'), task('running')], 0).state).toBe('pending');
    const fresh = (): Task =>
      task('running', 'app:v2', { Spec: { ContainerSpec: { Image: 'app:v2' }, ForceUpdate: 1 } });
    expect(evaluateRollout(restarted, [fresh(), fresh()], 0).state).toBe('converged');
    // A task pinned to the image's digest runs the same spec.
    const pinned = task('running', 'app:v2@sha256:abc');
    expect(evaluateRollout(svc(), [pinned, task('running')], 0).state).toBe('converged');
  });

  it('is still pending while an update is in progress, even with enough running tasks', () => {
    const s = svc({ UpdateStatus: { State: 'updating' } });
    expect(evaluateRollout(s, [task('running'), task('running')], 0).state).toBe('pending');
  });

  it('fails with the reason when the update rolled back or paused', () => {
    const rolled = svc({ UpdateStatus: { State: 'rollback_completed', Message: 'rollback completed' } });
    expect(evaluateRollout(rolled, [task('running', 'app:v1'), task('running', 'app:v1')], 0)).toEqual({
      state: 'failed',
      outcome: 'rolled_back',
      reason: 'rolled back: rollback completed',
    });
    const paused = svc({ UpdateStatus: { State: 'paused', Message: 'update paused due to failure' } });
    expect(evaluateRollout(paused, [], 0)).toMatchObject({ state: 'failed', outcome: 'paused' });
  });

  it('counts global services against the eligible nodes', () => {
    const g = svc({
      Spec: { Name: 'agent', Mode: { Global: {} }, TaskTemplate: { ContainerSpec: { Image: 'a' } } },
    });
    expect(evaluateRollout(g, [task('running', 'a')], 2).state).toBe('pending');
    expect(evaluateRollout(g, [task('running', 'a'), task('running', 'a')], 2).state).toBe('converged');
  });

  it('follows a job to the end of its current run: converged when it completed, failed when it gave up', () => {
    const job = svc({
      Spec: { Name: 'migrate', Mode: { ReplicatedJob: { TotalCompletions: 1 } }, TaskTemplate: {} },
      JobStatus: { JobIteration: { Index: 1 } },
    });
    const run = (state: Task['Status']['State'], over: Partial<Task> = {}): Task =>
      task(state, 'x', { Slot: 1, DesiredState: 'complete', JobIteration: { Index: 1 }, ...over });
    expect(evaluateRollout(job, [], 0).state).toBe('pending');
    expect(evaluateRollout(job, [run('running')], 0).state).toBe('pending');
    // A completed task of the previous run is not this deploy's.
    expect(evaluateRollout(job, [run('complete', { JobIteration: { Index: 0 } })], 0).state).toBe('pending');
    expect(evaluateRollout(job, [run('complete')], 0)).toEqual({ state: 'converged', progress: '1/1' });
    const failed = run('failed', {
      ID: 'm1',
      DesiredState: 'shutdown',
      Status: { State: 'failed', Err: 'task: non-zero exit (1)' },
    });
    expect(evaluateRollout(job, [failed], 0)).toEqual({
      state: 'failed',
      outcome: 'failed',
      reason: 'job did not complete successfully: task m1: task: non-zero exit (1)',
    });
  });

  it('gives up on a service that will not start because a job it depends on failed', () => {
    const labels = {
      'com.docker.stack.namespace': 'app',
      'io.skiff.depends_on': JSON.stringify([
        { service: 'migrate', condition: 'service_completed_successfully' },
      ]),
    };
    const web = svc({ Spec: { ...svc().Spec, Labels: labels } });
    const failed = new Map([['app_migrate', 'job did not complete successfully: task m1: exit 1']]);
    expect(blockedByFailedJob(web, [], failed)).toBe(
      'not started: migrate did not complete successfully (job did not complete successfully: task m1: exit 1)',
    );
    expect(blockedByFailedJob(web, [], new Map())).toBeUndefined();
    // Started already: its own rollout decides.
    expect(blockedByFailedJob(web, [task('running')], failed)).toBeUndefined();
  });

  it('names the newest task error', () => {
    const a = task('failed', 'x', {
      Status: { State: 'failed', Err: 'old', Timestamp: '2026-01-01T00:00:00Z' },
    });
    const b = task('failed', 'x', {
      Status: { State: 'failed', Err: 'new', Timestamp: '2026-01-02T00:00:00Z' },
    });
    expect(lastTaskError([b, a])).toBe('new');
  });
});

describe('tables', () => {
  it('aligns columns three spaces apart like docker', () => {
    expect(
      renderTable(
        ['ID', 'NAME'],
        [
          ['abc', 'web'],
          ['d', 'database'],
        ],
      ),
    ).toBe('ID    NAME\nabc   web\nd     database\n');
  });
});
