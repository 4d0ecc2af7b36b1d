import { describe, expect, it } from 'vitest';
import { jobOutcome, type Service, type Task } from '../../lib/index.js';

const job = (mode: Service['Spec']['Mode'], iteration = 0): Service => ({
  ID: 'j',
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  Spec: { Name: 'migrate', Mode: mode, TaskTemplate: { ContainerSpec: { Image: 'busybox' } } },
  JobStatus: { JobIteration: { Index: iteration } },
});
let n = 0;
const task = (state: Task['Status']['State'], over: Partial<Task> = {}): Task => ({
  ID: `t${++n}`,
  Version: { Index: 1 },
  CreatedAt: '',
  UpdatedAt: '',
  ServiceID: 'j',
  Slot: 1,
  Spec: {},
  Status: { State: state },
  DesiredState: 'complete',
  JobIteration: { Index: 0 },
  ...over,
});

describe('a job run’s outcome', () => {
  const one = job({ ReplicatedJob: { TotalCompletions: 1 } });

  it('completes when TotalCompletions slots completed', () => {
    expect(jobOutcome(one, [])).toEqual({ state: 'running', completed: 0, total: 1 });
    expect(jobOutcome(one, [task('running')]).state).toBe('running');
    expect(jobOutcome(one, [task('complete')])).toEqual({ state: 'completed', completed: 1, total: 1 });
    const two = job({ ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 2 } });
    expect(jobOutcome(two, [task('complete')]).state).toBe('running');
    expect(jobOutcome(two, [task('complete'), task('complete', { Slot: 2 })]).state).toBe('completed');
  });

  it('is failed only once the orchestrator gave up on the slot, not in the moment before it decides', () => {
    const failed = task('failed', { Status: { State: 'failed', Err: 'task: non-zero exit (1)' } });
    // Desired state still 'complete': the orchestrator has not decided on a restart yet.
    expect(jobOutcome(one, [failed]).state).toBe('running');
    // It decided to restart: the replacement is live.
    const stopped = { ...failed, DesiredState: 'shutdown' as const };
    expect(jobOutcome(one, [stopped, task('new', { DesiredState: 'ready' })]).state).toBe('running');
    // No replacement: failed for good, with the task's error.
    expect(jobOutcome(one, [stopped])).toEqual({
      state: 'failed',
      reason: `task ${failed.ID}: task: non-zero exit (1)`,
    });
  });

  it('counts only the current iteration', () => {
    const rerun = job({ ReplicatedJob: { TotalCompletions: 1 } }, 1);
    expect(jobOutcome(rerun, [task('complete')]).state).toBe('running');
    const old = task('failed', { DesiredState: 'shutdown' });
    expect(jobOutcome(rerun, [old, task('complete', { JobIteration: { Index: 1 } })]).state).toBe(
      'completed',
    );
  });

  it('a global job completes when every node’s task completed', () => {
    const g = job({ GlobalJob: {} });
    expect(jobOutcome(g, []).state).toBe('running');
    const a = task('complete', { NodeID: 'n1', Slot: undefined });
    const b = task('running', { NodeID: 'n2', Slot: undefined });
    expect(jobOutcome(g, [a, b]).state).toBe('running');
    expect(jobOutcome(g, [a, { ...b, Status: { State: 'complete' } }]).state).toBe('completed');
  });
});
