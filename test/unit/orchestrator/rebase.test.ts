// A reconciler's decision written over a task that other writers moved on meanwhile.
import { describe, expect, it } from 'vitest';
import type { Task, TaskState } from '../../../lib/index.js';
import { deletionHolds, rebaseTaskUpdate } from '../../../manager/orchestrator/index.js';
import { T0 } from './fixtures.js';

function task(version: number, state: TaskState, extra: Partial<Task> = {}): Task {
  return {
    ID: 't1',
    Version: { Index: version },
    CreatedAt: T0,
    UpdatedAt: T0,
    Spec: { ContainerSpec: { Image: 'app:v1' } },
    ServiceID: 's1',
    Slot: 1,
    Status: { State: state, Timestamp: T0 },
    DesiredState: 'running',
    ...extra,
  };
}

const stopped = (t: Task, status?: Task['Status']): Task => ({
  ...t,
  DesiredState: 'shutdown',
  ...(status ? { Status: status } : {}),
});

describe('rebaseTaskUpdate', () => {
  it('writes the decision as made when the task did not change', () => {
    const read = task(3, 'running', { NodeID: 'n1' });
    const out = rebaseTaskUpdate(read, stopped(read), task(3, 'running', { NodeID: 'n1' }));
    expect(out?.DesiredState).toBe('shutdown');
  });

  it('is stale when the scheduler placed a task the decision thought no agent had', () => {
    const read = task(3, 'pending');
    const decided = stopped(read, { State: 'shutdown', Message: 'shut down before it was scheduled' });
    const cur = task(4, 'assigned', { NodeID: 'n1' });
    expect(rebaseTaskUpdate(read, decided, cur)).toBeUndefined();
  });

  it('is stale when the task ended or its desired state changed meanwhile', () => {
    const read = task(3, 'running', { NodeID: 'n1' });
    expect(rebaseTaskUpdate(read, stopped(read), task(4, 'failed', { NodeID: 'n1' }))).toBeUndefined();
    expect(
      rebaseTaskUpdate(read, stopped(read), task(4, 'running', { NodeID: 'n1', DesiredState: 'remove' })),
    ).toBeUndefined();
  });

  it("keeps an agent's progress and the allocator's fields under the decision", () => {
    const read = task(3, 'preparing', { NodeID: 'n1' });
    const cur = task(4, 'running', { NodeID: 'n1', NetworksAttachments: [] });
    const out = rebaseTaskUpdate(read, stopped(read), cur);
    expect(out).toMatchObject({ DesiredState: 'shutdown', NodeID: 'n1', NetworksAttachments: [] });
    expect(out?.Status.State).toBe('running');
    expect(out?.Version.Index).toBe(4);
  });

  it('keeps a status the decision set (orphaned) over a lower one reported meanwhile', () => {
    const read = task(3, 'starting', { NodeID: 'n1' });
    const orphaned = { State: 'orphaned' as const, Message: 'node n1 is down' };
    const out = rebaseTaskUpdate(read, stopped(read, orphaned), task(4, 'running', { NodeID: 'n1' }));
    expect(out?.Status.State).toBe('orphaned');
  });
});

describe('deletionHolds', () => {
  it('holds for the same task, or a dead one still dead on its node', () => {
    expect(deletionHolds(task(3, 'pending'), task(3, 'pending'))).toBe(true);
    const dead = task(3, 'shutdown', { NodeID: 'n1' });
    expect(deletionHolds(dead, task(4, 'shutdown', { NodeID: 'n1', DesiredState: 'shutdown' }))).toBe(true);
  });

  it('does not hold for a task the scheduler placed meanwhile', () => {
    expect(deletionHolds(task(3, 'pending'), task(4, 'assigned', { NodeID: 'n1' }))).toBe(false);
  });
});
