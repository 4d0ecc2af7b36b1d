import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentSession } from '../../../agent/worker/index.js';
import type {
  AssignmentsMessage,
  DispatcherApi,
  HeartbeatRequest,
  TaskStatus,
  UpdateTaskStatusRequest,
} from '../../../lib/index.js';
import { DISPATCH_PROTOCOL, SkiffError, SWARM_TASK_ID_LABEL } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { FakeStack } from './fake-stack.js';

/** FAKE dispatcher: one session, no tasks; refuses the first `failures` status batches. */
class FlakyDispatcher implements DispatcherApi {
  readonly received: UpdateTaskStatusRequest[] = [];
  calls = 0;
  constructor(private failures: number) {}
  async register() {
    return { nodeId: 'n1', sessionId: 's1', heartbeatPeriodMs: 60_000 };
  }
  async heartbeat() {
    return { heartbeatPeriodMs: 60_000 };
  }
  async *assignments(_req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    yield { type: 'complete', tasks: [], removedTasks: [], secrets: [], configs: [], networks: [] };
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
  }
  async publishLogs() {}
  async publishStats() {}
  async imageSources() {
    return { sources: [] };
  }
  async updateTaskStatus(req: UpdateTaskStatusRequest) {
    this.calls++;
    if (this.failures-- > 0) {
      // What the store answers when a concurrent write touched the task first.
      throw new SkiffError('conflict', 'update out of sequence: task t1 is at version 75');
    }
    this.received.push(req);
  }
}

const status = (State: TaskStatus['State']): TaskStatus => ({
  State,
  Message: State ?? '',
  Timestamp: new Date(0).toISOString(),
});

describe('agent session status reports', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  const start = async (dispatcher: FlakyDispatcher, statusRetryMs = 10) => {
    const stack = new FakeStack();
    const worker = stack.worker(() => {});
    const session = new AgentSession({
      dispatcher: () => dispatcher,
      worker,
      nodeId: 'n1',
      addr: '10.0.0.1',
      description: { Hostname: 'n1' },
      batchDelayMs: 5,
      statusRetryMs,
    });
    cleanups.push(() => session.stop());
    await worker.start();
    void session.run();
    await session.connected;
    return session;
  };

  it('sends a refused batch again by itself, even when no other report follows', async () => {
    const dispatcher = new FlakyDispatcher(2);
    const session = await start(dispatcher);
    session.report('t1', status('running'));
    await waitFor(() => dispatcher.received.length === 1, { what: 'the status to arrive', timeoutMs: 5000 });
    expect(dispatcher.calls).toBe(3);
    expect(dispatcher.received[0]?.updates).toEqual([{ taskId: 't1', status: status('running') }]);
  });

  it('sends the newest status of a task when a newer one arrived while a batch was refused', async () => {
    const dispatcher = new FlakyDispatcher(1);
    const session = await start(dispatcher, 300);
    session.report('t1', status('starting'));
    await waitFor(() => dispatcher.calls === 1, { what: 'the first (refused) batch', intervalMs: 2 });
    session.report('t1', status('running'));
    await waitFor(() => dispatcher.received.length > 0, { what: 'a batch to arrive', timeoutMs: 5000 });
    // The refused `starting` was not put back over the newer `running`.
    expect(dispatcher.received.flatMap((r) => r.updates)).toEqual([
      { taskId: 't1', status: status('running') },
    ]);
  });
});

/**
 * FAKE dispatcher: unreachable for the first `unreachable` registrations, then a session
 * whose assignment stream breaks when the test says so (its leader died).
 */
class FailoverDispatcher implements DispatcherApi {
  registrations = 0;
  private breakStream: ((e: Error) => void) | undefined;
  constructor(private unreachable: number) {}
  async register() {
    this.registrations++;
    if (this.unreachable-- > 0) throw new SkiffError('unavailable', 'dispatcher unreachable');
    return { nodeId: 'n1', sessionId: `s${this.registrations}`, heartbeatPeriodMs: 60_000 };
  }
  async heartbeat() {
    return { heartbeatPeriodMs: 60_000 };
  }
  async *assignments(_req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    yield { type: 'complete', tasks: [], removedTasks: [], secrets: [], configs: [], networks: [] };
    await new Promise<void>((resolve, reject) => {
      this.breakStream = reject;
      signal.addEventListener('abort', () => resolve());
    });
  }
  async updateTaskStatus() {}
  async publishLogs() {}
  async publishStats() {}
  async imageSources() {
    return { sources: [] };
  }
  leaderDies(): void {
    this.breakStream?.(new SkiffError('unavailable', 'the stream broke'));
  }
}

describe('agent session reconnects', () => {
  it('looks for the next dispatcher at once when an established session breaks, whatever failed before', async () => {
    // Earlier failures grow the backoff (20, 40, 80, 160, 320 ms); a session that was
    // established and then broke must not inherit it, or the node stays away from a
    // new leader longer than the leader's grace before it marks unregistered nodes down.
    const retries: number[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { msg?: string; retryInMs?: number };
          if (entry.msg === 'dispatcher session ended' && entry.retryInMs !== undefined)
            retries.push(entry.retryInMs);
        }
        done();
      },
    });
    const dispatcher = new FailoverDispatcher(5);
    const stack = new FakeStack();
    const worker = stack.worker(() => {});
    const session = new AgentSession({
      dispatcher: () => dispatcher,
      worker,
      nodeId: 'n1',
      addr: '10.0.0.1',
      description: { Hostname: 'n1' },
      log: pino({ level: 'warn' }, sink),
      minBackoffMs: 20,
      maxBackoffMs: 60_000,
    });
    try {
      await worker.start();
      void session.run();
      await session.connected;
      expect(retries).toEqual([20, 40, 80, 160, 320]);
      dispatcher.leaderDies();
      await waitFor(() => dispatcher.registrations === 7, { what: 'the next registration', timeoutMs: 5000 });
      expect(retries).toEqual([20, 40, 80, 160, 320, 20]);
    } finally {
      await session.stop();
    }
  });
});

describe('agent session protocol version', () => {
  it('refuses a dispatcher of a newer protocol, naming both versions, and asks for no assignments', async () => {
    const errors: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { msg?: string; err?: string };
          if (entry.msg === 'dispatcher session ended' && entry.err) errors.push(entry.err);
        }
        done();
      },
    });
    let streams = 0;
    const newer: DispatcherApi = {
      register: async () => ({
        nodeId: 'n1',
        sessionId: 's1',
        heartbeatPeriodMs: 60_000,
        protocol: DISPATCH_PROTOCOL + 1,
      }),
      heartbeat: async () => ({ heartbeatPeriodMs: 60_000 }),
      // biome-ignore lint/correctness/useYield: never asked for
      async *assignments() {
        streams++;
      },
      updateTaskStatus: async () => {},
      publishLogs: async () => {},
      publishStats: async () => {},
      imageSources: async () => ({ sources: [] }),
    };
    const stack = new FakeStack();
    const worker = stack.worker(() => {});
    const session = new AgentSession({
      dispatcher: () => newer,
      worker,
      nodeId: 'n1',
      addr: '10.0.0.1',
      description: { Hostname: 'n1' },
      log: pino({ level: 'warn' }, sink),
      minBackoffMs: 20,
    });
    try {
      await worker.start();
      void session.run();
      await waitFor(() => errors.length >= 2, { what: 'two refused sessions', timeoutMs: 5000 });
      expect(errors[0]).toBe(
        `the dispatcher speaks dispatcher protocol ${DISPATCH_PROTOCOL + 1}; this agent speaks versions 1 to ${DISPATCH_PROTOCOL}`,
      );
      expect(streams).toBe(0);
    } finally {
      await session.stop();
    }
  });
});

/**
 * FAKE dispatcher: sessions that send an empty complete set; once `leaderDies()`, the
 * heartbeats of the sessions open then fail (their leader is gone), and a new
 * registration lands on the next leader.
 */
class DyingLeaderDispatcher implements DispatcherApi {
  registrations = 0;
  private readonly dead = new Set<string>();
  async register() {
    this.registrations++;
    return { nodeId: 'n1', sessionId: `s${this.registrations}`, heartbeatPeriodMs: 20 };
  }
  async heartbeat(req: HeartbeatRequest) {
    if (this.dead.has(req.sessionId)) throw new SkiffError('unavailable', 'dispatcher unreachable');
    return { heartbeatPeriodMs: 20 };
  }
  async *assignments(_req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    yield { type: 'complete', tasks: [], removedTasks: [], secrets: [], configs: [], networks: [] };
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
  }
  async updateTaskStatus() {}
  async publishLogs() {}
  async publishStats() {}
  async imageSources() {
    return { sources: [] };
  }
  leaderDies(): void {
    for (let i = 1; i <= this.registrations; i++) this.dead.add(`s${i}`);
  }
}

describe('agent session while containers stop', () => {
  it('leaves a dead leader at once though the complete set is still stopping a container', async () => {
    // Found by the rolling-upgrade lab test: a restarted node's complete set stopped an
    // old container (10 s of grace), the session waited for it, so when the leader
    // stopped the node kept heartbeating it until the new leader marked the node down.
    const stack = new FakeStack();
    stack.containers.set('old', { id: 'old', state: 'running', labels: { [SWARM_TASK_ID_LABEL]: 'old' } });
    let release: () => void = () => {};
    stack.runtime.stop = (id) => {
      stack.calls.push(`stop ${id}`);
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    const worker = stack.worker(() => {});
    const dispatcher = new DyingLeaderDispatcher();
    const session = new AgentSession({
      dispatcher: () => dispatcher,
      worker,
      nodeId: 'n1',
      addr: '10.0.0.1',
      description: { Hostname: 'n1' },
      minBackoffMs: 10,
    });
    try {
      await worker.start();
      void session.run();
      // The orphan (no task of the set) is being stopped, and takes its time.
      await waitFor(() => stack.calls.includes('stop old'), { what: 'the orphan to be stopping' });
      dispatcher.leaderDies();
      await waitFor(() => dispatcher.registrations === 2, {
        what: 'a registration with the next leader while the stop goes on',
        timeoutMs: 3000,
      });
      expect(stack.calls.filter((c) => c === 'stop old')).toHaveLength(1);
    } finally {
      release();
      await session.stop();
    }
  });
});

/**
 * FAKE dispatcher whose first session is already stale when the node registers (a new
 * leader took over meanwhile): its heartbeats are refused at once, its status batch takes
 * a while, and its assignment stream ends only when cancelled, as a gRPC stream does.
 */
class StaleSessionDispatcher implements DispatcherApi {
  registrations = 0;
  async register() {
    this.registrations++;
    return { nodeId: 'n1', sessionId: `s${this.registrations}`, heartbeatPeriodMs: 10 };
  }
  async heartbeat(req: HeartbeatRequest) {
    if (req.sessionId === 's1')
      throw new SkiffError('unavailable', 'session of node n1 is not current; register again');
    return { heartbeatPeriodMs: 10 };
  }
  async *assignments(req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage> {
    if (req.sessionId !== 's1')
      yield { type: 'complete', tasks: [], removedTasks: [], secrets: [], configs: [], networks: [] };
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
  }
  async updateTaskStatus(req: UpdateTaskStatusRequest) {
    if (req.sessionId === 's1') await new Promise((r) => setTimeout(r, 100));
  }
  async publishLogs() {}
  async publishStats() {}
  async imageSources() {
    return { sources: [] };
  }
}

describe('agent session that is stale from the start', () => {
  it('registers again when its heartbeat fails before it asked for assignments', async () => {
    // Found by the chaos run: a demoted node registered while the leader changed, its first
    // heartbeat failed while it was still sending its pending statuses, and its session then
    // waited forever on an assignment stream it had already given up, heartbeating in vain.
    const stack = new FakeStack();
    const worker = stack.worker(() => {});
    const dispatcher = new StaleSessionDispatcher();
    const session = new AgentSession({
      dispatcher: () => dispatcher,
      worker,
      nodeId: 'n1',
      addr: '10.0.0.1',
      description: { Hostname: 'n1' },
      minBackoffMs: 10,
    });
    try {
      await worker.start();
      session.report('t1', status('running'));
      void session.run();
      await waitFor(() => dispatcher.registrations === 2, {
        what: 'a second registration after the stale session',
        timeoutMs: 3000,
      });
    } finally {
      await session.stop();
    }
  });
});
